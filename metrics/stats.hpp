// Broker-wide counters read by $SYS, /metrics and the admin API. Relaxed atomics, each on its
// own cache line so two threads bumping different counters do not contend.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  // Bytes received are counted per read by the transport (hot::slot::bytes_read).
  counter bytes_sent;
  counter publish_dropped;    // dropped: queue full / slow consumer / expired / too large
  counter subscriptions;      // gauge
  counter retained_messages;  // gauge
  counter auth_failures;
  // The persistent store (persistence = async | sync).
  counter store_commits;     // group commits (one WriteBatch each)
  counter store_syncs;       // fsyncs
  counter store_writes;      // records written or deleted
  counter store_cancelled;   // queue entries acknowledged before they were written
};

broker_stats& stats() noexcept;

// -- per-thread hot-path counters ---------------------------------------------------------
//
// Counters bumped per packet or per message (packets and bytes by type, publishes and
// deliveries by QoS, drops, the delivery-latency histogram) live in one block per thread:
// the owning thread does a relaxed load + store (no lock prefix, no shared cache line), and
// /metrics sums the blocks at scrape time. A thread's block is folded into a "retired" total
// when the thread exits. Header-only, so the transport can count without linking anything.

namespace hot {

inline constexpr std::size_t packet_types = 16; ///< indexed by the MQTT packet type (0..15)
inline constexpr std::size_t qos_slots = 4;     ///< indexed by QoS (3 is unused)

enum class drop_reason : std::uint8_t {
  expired,           ///< message expiry passed before delivery
  write_buffer_full, ///< QoS 0 to a slow consumer
  queue_full,        ///< the session's QoS 1/2 queue is full
  too_large,         ///< larger than the client's Maximum Packet Size
  other,
};
inline constexpr std::size_t drop_reasons = 5;
inline constexpr const char* drop_reason_names[drop_reasons] = {
  "expired", "write_buffer_full", "queue_full", "too_large", "other"};

/// Upper bounds (ns) of the publish-to-delivery latency buckets; one more bucket is +Inf.
inline constexpr std::uint64_t latency_bounds_ns[] = {
  25'000,      50'000,      100'000,     250'000,     500'000,       1'000'000,
  2'500'000,   5'000'000,   10'000'000,  25'000'000,  50'000'000,    100'000'000,
  250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 10'000'000'000};
inline constexpr std::size_t latency_buckets = std::size(latency_bounds_ns) + 1;
/// One delivery in (mask + 1) per thread is timed (a clock read costs ~20 ns).
inline constexpr std::uint64_t latency_sample_mask = 15;

/// Slot offsets in a thread block.
struct slot {
  static constexpr std::size_t packets_in = 0;
  static constexpr std::size_t packets_out = packets_in + packet_types;
  static constexpr std::size_t bytes_in = packets_out + packet_types;
  static constexpr std::size_t bytes_out = bytes_in + packet_types;
  static constexpr std::size_t published = bytes_out + packet_types;
  static constexpr std::size_t delivered = published + qos_slots;
  static constexpr std::size_t dropped = delivered + qos_slots;
  static constexpr std::size_t latency_bucket = dropped + drop_reasons; ///< not cumulative
  static constexpr std::size_t latency_sum_ns = latency_bucket + latency_buckets;
  static constexpr std::size_t latency_count = latency_sum_ns + 1;
  static constexpr std::size_t delivery_tick = latency_count + 1; ///< sampling clock
  /// Bytes the transport read from clients (whole reads, before decoding; WebSocket: payload).
  static constexpr std::size_t bytes_read = delivery_tick + 1;
  static constexpr std::size_t count = bytes_read + 1;
};

struct alignas(64) thread_counters {
  std::atomic<std::uint64_t> v[slot::count] = {};
};

using totals = std::array<std::uint64_t, slot::count>;

namespace detail {

struct thread_registry {
  std::mutex mtx;
  std::vector<thread_counters*> live;
  totals retired{};
};

/// Never destroyed: threads may exit after static destruction began.
inline thread_registry& registry() noexcept {
  static thread_registry* r = new thread_registry;
  return *r;
}

inline thread_local thread_counters* current = nullptr;

/// Folds the exiting thread's block into the retired totals.
struct thread_reaper {
  thread_counters* block = nullptr;
  ~thread_reaper() {
    if (!block)
      return;
    auto& r = registry();
    std::lock_guard<std::mutex> guard{r.mtx};
    for (std::size_t i = 0; i < slot::count; ++i)
      r.retired[i] += block->v[i].load(std::memory_order_relaxed);
    r.live.erase(std::remove(r.live.begin(), r.live.end(), block), r.live.end());
    delete block;
    block = nullptr;
    current = nullptr;
  }
};

inline thread_local thread_reaper reaper;

[[gnu::noinline, gnu::cold]] inline thread_counters& attach() noexcept {
  auto* block = new thread_counters;
  {
    auto& r = registry();
    std::lock_guard<std::mutex> guard{r.mtx};
    r.live.push_back(block);
  }
  reaper.block = block;
  current = block;
  return *block;
}

inline void bump(std::atomic<std::uint64_t>& a, std::uint64_t n) noexcept {
  // Only the owning thread writes: a plain load + store is enough (no RMW).
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

} // namespace detail

/// This thread's block (allocated on first use).
inline thread_counters& local() noexcept {
  if (auto* p = detail::current) [[likely]]
    return *p;
  return detail::attach();
}

/// Sum over every thread, alive or gone (for /metrics).
inline totals snapshot() {
  auto& r = detail::registry();
  std::lock_guard<std::mutex> guard{r.mtx};
  totals t = r.retired;
  for (auto* b : r.live)
    for (std::size_t i = 0; i < slot::count; ++i)
      t[i] += b->v[i].load(std::memory_order_relaxed);
  return t;
}

inline std::size_t latency_bucket_of(std::uint64_t ns) noexcept {
  std::size_t i = 0;
  while (i < std::size(latency_bounds_ns) && ns > latency_bounds_ns[i])
    ++i;
  return i;
}

inline drop_reason drop_reason_of(const char* why) noexcept {
  // The strings session_logic passes; compared only when a message is dropped.
  if (std::strcmp(why, "message expired") == 0)
    return drop_reason::expired;
  if (std::strcmp(why, "slow consumer: write buffer full") == 0)
    return drop_reason::write_buffer_full;
  if (std::strcmp(why, "session queue full") == 0)
    return drop_reason::queue_full;
  if (std::strncmp(why, "larger than", 11) == 0)
    return drop_reason::too_large;
  return drop_reason::other;
}

} // namespace hot

/// One decoded inbound packet of `type` (codec::packet_type) that took `bytes` on the wire.
inline void count_packet_in(unsigned type, std::size_t bytes) noexcept {
  auto& c = hot::local();
  hot::detail::bump(c.v[hot::slot::packets_in + (type & 15)], 1);
  hot::detail::bump(c.v[hot::slot::bytes_in + (type & 15)], bytes);
}

/// One read of `bytes` from a client socket (called per read, not per packet).
inline void count_bytes_read(std::size_t bytes) noexcept {
  hot::detail::bump(hot::local().v[hot::slot::bytes_read], bytes);
}

/// Bytes read from clients so far, all threads (takes the registry lock: not for hot paths).
inline std::uint64_t bytes_read_total() {
  return hot::snapshot()[hot::slot::bytes_read];
}

/// Encoded outbound packets (whole packets back to back, as written to a link).
inline void count_packets_out(const std::uint8_t* data, std::size_t size) noexcept {
  auto& c = hot::local();
  std::size_t i = 0;
  while (i < size) {
    const unsigned type = data[i] >> 4;
    std::size_t len = 0;
    std::size_t shift = 0;
    std::size_t j = i + 1;
    while (j < size && shift <= 21) {
      auto b = data[j++];
      len |= static_cast<std::size_t>(b & 0x7f) << shift;
      shift += 7;
      if (!(b & 0x80))
        break;
    }
    const std::size_t total = (j - i) + len;
    hot::detail::bump(c.v[hot::slot::packets_out + type], 1);
    hot::detail::bump(c.v[hot::slot::bytes_out + type], std::min(total, size - i));
    i += total;
  }
}

/// A PUBLISH from a client accepted for routing.
inline void count_published(unsigned qos) noexcept {
  hot::detail::bump(hot::local().v[hot::slot::published + (qos & 3)], 1);
}

/// A PUBLISH encoded for a subscriber. `received_at_ns` (steady clock, 0 = do not time) feeds
/// the latency histogram for one delivery in (latency_sample_mask + 1) on this thread.
inline void count_delivered(unsigned qos, std::int64_t received_at_ns) noexcept {
  using namespace hot;
  auto& c = local();
  detail::bump(c.v[slot::delivered + (qos & 3)], 1);
  auto tick = c.v[slot::delivery_tick].load(std::memory_order_relaxed) + 1;
  c.v[slot::delivery_tick].store(tick, std::memory_order_relaxed);
  if ((tick & latency_sample_mask) != 0 || received_at_ns <= 0) [[likely]]
    return;
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
               .count();
  auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(now - received_at_ns, 0));
  detail::bump(c.v[slot::latency_bucket + latency_bucket_of(ns)], 1);
  detail::bump(c.v[slot::latency_sum_ns], ns);
  detail::bump(c.v[slot::latency_count], 1);
}

/// A message dropped instead of delivered; `why` is session_logic's drop reason text.
inline void count_dropped(const char* why) noexcept {
  hot::detail::bump(
    hot::local().v[hot::slot::dropped + static_cast<std::size_t>(hot::drop_reason_of(why))], 1);
}

// -- sampled mailbox depth by actor kind ------------------------------------------------
//
// Actors read their own mailbox size now and then (every Nth message they handle, see
// actors/mailbox_sampler.hpp) and report it here; /metrics shows, per kind, the largest depth
// sampled since the previous scrape (colony_actor_mailbox_depth{kind}) and starts over. No
// sample since the last scrape reads 0, which is also what an idle actor's mailbox holds.

enum class actor_kind : std::uint8_t { connection, session, topic_shard, registry, sys };
inline constexpr std::size_t actor_kinds = 5;
inline constexpr const char* actor_kind_names[actor_kinds] = {"connection", "session",
                                                              "topic_shard", "registry", "sys"};

class mailbox_depths {
public:
  /// One sample of a mailbox of kind `k` (any thread).
  void sample(actor_kind k, std::uint64_t depth) noexcept {
    auto& m = slots_[static_cast<std::size_t>(k)].max;
    auto cur = m.load(std::memory_order_relaxed);
    // Plain load first: the common case (not a new maximum) writes nothing.
    while (depth > cur && !m.compare_exchange_weak(cur, depth, std::memory_order_relaxed)) {
    }
  }
  /// The largest sample per kind since the previous take(), and a fresh start.
  std::array<std::uint64_t, actor_kinds> take() noexcept {
    std::array<std::uint64_t, actor_kinds> out{};
    for (std::size_t i = 0; i < actor_kinds; ++i)
      out[i] = slots_[i].max.exchange(0, std::memory_order_relaxed);
    return out;
  }

private:
  struct alignas(64) slot {
    std::atomic<std::uint64_t> max{0};
  };
  std::array<slot, actor_kinds> slots_;
};

/// Never destroyed (sampled from actor threads that may outlive static destruction).
inline mailbox_depths& mailbox_depth() noexcept {
  static mailbox_depths* m = new mailbox_depths;
  return *m;
}

// -- labelled event counters (connects, disconnects, refusals) ------------------------------

/// Counts or gauges by one label value. Labels are normalised to [a-z0-9_]. Counting a label
/// seen before takes no lock (a scan of the few labels and one atomic add), so connects and
/// disconnects on many threads do not meet here; only a new label takes the lock. At most
/// `capacity` labels: later ones are counted as "other".
class labeled_counters {
public:
  static constexpr std::size_t capacity = 64;

  void add(std::string_view label, std::int64_t n = 1) {
    char buf[max_label];
    const std::string_view key = normalize_into(label, buf);
    find_or_add(key).fetch_add(n, std::memory_order_relaxed);
  }
  void sub(std::string_view label, std::int64_t n = 1) { add(label, -n); }

  /// The labels in the order first seen, with their values.
  std::vector<std::pair<std::string, std::int64_t>> snapshot() const {
    const auto n = count_.load(std::memory_order_acquire);
    std::vector<std::pair<std::string, std::int64_t>> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      out.emplace_back(items_[i].label, items_[i].value.load(std::memory_order_relaxed));
    return out;
  }

  static std::string normalize(std::string_view label) {
    char buf[max_label];
    return std::string{normalize_into(label, buf)};
  }

private:
  static constexpr std::size_t max_label = 64; ///< longer labels are cut

  /// Lower case; runs of anything but [a-z0-9_] become one '_' (none first); no '_' last.
  static std::string_view normalize_into(std::string_view label, char (&out)[max_label]) {
    std::size_t n = 0;
    for (char ch : label) {
      if (n == max_label)
        break;
      if (ch >= 'A' && ch <= 'Z')
        out[n++] = static_cast<char>(ch - 'A' + 'a');
      else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')
        out[n++] = ch;
      else if (n > 0 && out[n - 1] != '_')
        out[n++] = '_';
    }
    while (n > 0 && out[n - 1] == '_')
      --n;
    return n == 0 ? std::string_view{"unknown"} : std::string_view{out, n};
  }

  std::atomic<std::int64_t>& find_or_add(std::string_view key) {
    // Items below count_ are complete (their label is written before count_ is raised) and
    // never change label.
    auto n = count_.load(std::memory_order_acquire);
    if (auto* v = find(key, n))
      return *v;
    std::lock_guard<std::mutex> guard{mtx_};
    n = count_.load(std::memory_order_relaxed);
    if (auto* v = find(key, n))
      return *v;
    if (n >= capacity - 1) {
      // Full but for the overflow label: every new label is counted as "other" (one series,
      // also when "other" came as a label of its own before).
      if (auto* v = find("other", n))
        return *v;
      key = "other"; // (n == capacity - 1 here: the last slot becomes "other")
    }
    items_[n].label.assign(key);
    count_.store(n + 1, std::memory_order_release);
    return items_[n].value;
  }

  /// The value of `key` among the first `n` labels, or null.
  std::atomic<std::int64_t>* find(std::string_view key, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      if (items_[i].label == key)
        return &items_[i].value;
    return nullptr;
  }

  struct item {
    std::string label;
    std::atomic<std::int64_t> value{0};
  };
  std::mutex mtx_; ///< adding a label
  std::array<item, capacity> items_;
  std::atomic<std::size_t> count_{0};
};

struct event_stats {
  labeled_counters connects_refused;       ///< by reason (CONNACK code or pre-CONNECT close)
  labeled_counters disconnects;            ///< by reason
  labeled_counters connections_by_listener; ///< gauge: connected clients per listener
};

/// Never destroyed (counted from threads that may outlive static destruction).
inline event_stats& events() noexcept {
  static event_stats* e = new event_stats;
  return *e;
}

} // namespace colony::metrics
