// Broker-wide counters read by $SYS, /metrics and the admin API. Relaxed atomics, each on its
// own cache line so two threads bumping different counters do not contend.
#pragma once

#include <atomic>
#include <cstdint>

namespace colony::metrics {

struct alignas(64) counter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n = 1) noexcept { value.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::uint64_t n = 1) noexcept { value.fetch_sub(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
};

/// The process's broker statistics (one instance, see stats()).
struct broker_stats {
  counter clients_connected;  // gauge
  counter clients_total;      // sessions known (online + offline), gauge
  counter connects_total;
  counter disconnects_total;
  counter messages_received;  // PUBLISH packets in
  counter messages_sent;      // PUBLISH packets out
  counter bytes_received;
  counter bytes_sent;
  counter publish_dropped;    // dropped: queue full / slow consumer / expired / too large
  counter subscriptions;      // gauge
  counter retained_messages;  // gauge
  counter auth_failures;
};

broker_stats& stats() noexcept;

} // namespace colony::metrics
