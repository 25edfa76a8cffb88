// Rate limits: a token bucket (per session: --max-publish-rate, --max-publish-bytes-rate) and
// a table of buckets by source IP (--max-connect-rate-per-ip), shared by every listener.
// Time is passed in by the caller (milliseconds of any monotonic clock), so tests need no
// clock and the buckets never read one themselves.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace colony::actors {

/// Refills at `rate` tokens per second up to a burst of one second's worth (`rate` tokens).
/// rate 0 = unlimited. Not thread-safe (one owner, e.g. a session actor).
class token_bucket {
public:
  token_bucket() = default;
  explicit token_bucket(std::uint64_t rate_per_second) noexcept;

  bool unlimited() const noexcept { return rate_ == 0; }

  /// Takes `cost` tokens at `now_ms`. False when there are not enough (nothing is taken then).
  /// A cost larger than the burst passes when the bucket is full and leaves it in debt, so
  /// one large message is never refused forever.
  bool take(std::int64_t now_ms, std::uint64_t cost = 1) noexcept;

  /// Tokens available at `now_ms` (for tests).
  double available(std::int64_t now_ms) noexcept;

private:
  void refill(std::int64_t now_ms) noexcept;

  std::uint64_t rate_ = 0;
  double tokens_ = 0;
  std::int64_t last_ms_ = 0;
  bool started_ = false;
};

/// One token bucket per source IP address, thread-safe. The table is split into stripes with
/// a lock each (it is used once per CONNECT, never per publish), and bounded: a stripe that
/// grows past its share of `max_entries` first forgets addresses whose bucket has refilled
/// completely (idle for a second or more: the same as never seen), then, if still full,
/// everything in that stripe.
class per_ip_rate_limiter {
public:
  per_ip_rate_limiter(std::uint64_t rate_per_second, std::size_t max_entries = 65536);

  /// One connection attempt from `ip` at `now_ms`: true if within the rate.
  bool admit(std::string_view ip, std::int64_t now_ms);

  /// Addresses currently tracked (all stripes; for tests and diagnostics).
  std::size_t size() const;

private:
  static constexpr std::size_t stripes = 16;
  struct stripe {
    mutable std::mutex mtx;
    std::unordered_map<std::string, token_bucket> buckets;
  };
  void prune(stripe& s, std::int64_t now_ms);

  std::uint64_t rate_;
  std::size_t max_per_stripe_;
  std::array<stripe, stripes> stripes_;
};

} // namespace colony::actors
