// Correctness and statistics building blocks of the load generator, kept out
// of main() so that they can be unit-tested (bench/loadgen_test.cpp):
//   * PayloadHeader  - (publisher id, sequence number, timestamp) carried in
//                      every published payload;
//   * SeqTracker     - per (subscriber, publisher) sequence bookkeeping:
//                      received, duplicates, gaps (= lost);
//   * LatencyHistogram - log-linear histogram with bounded memory and ~3 %
//                      relative precision, for p50/p99/max.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace colony::bench {

// ---- payload header ----------------------------------------------------------

// Layout (24 bytes, big-endian):
//   u16 magic (0xC01B) | u16 flags | u32 publisher id | u64 seq | u64 timestamp ns
// flags bit 0: message was published during warm-up (not counted).
struct PayloadHeader {
  static constexpr std::size_t kSize = 24;
  static constexpr std::uint16_t kMagic = 0xC01B;
  static constexpr std::uint16_t kFlagWarmup = 0x0001;

  std::uint16_t flags = 0;
  std::uint32_t publisher_id = 0;
  std::uint64_t seq = 0;
  std::uint64_t timestamp_ns = 0;  // CLOCK_MONOTONIC at the publisher

  bool warmup() const { return (flags & kFlagWarmup) != 0; }

  void encode(std::span<std::uint8_t, kSize> out) const;
  std::array<std::uint8_t, kSize> encode() const;
  // nullopt if the payload is shorter than kSize or the magic does not match.
  static std::optional<PayloadHeader> decode(std::span<const std::uint8_t> payload);

  friend bool operator==(const PayloadHeader&, const PayloadHeader&) = default;
};

// ---- sequence tracking -------------------------------------------------------

// Tracks which sequence numbers of ONE publisher ONE subscriber has seen.
//
// Brokers deliver a publisher's messages in order, so the common case is a
// monotonically increasing stream; the tracker still tolerates reordering
// within a window of `window` sequence numbers. Memory is bounded: a ring
// bitmap of `window` bits plus a capped list of missing ranges.
//
// Model: every seq below `base()` is resolved - either received, or recorded
// as missing (a gap). Seqs in [base, base + window) are tracked in the ring.
// A seq that arrives more than `window` ahead pushes the base forward, and the
// holes it leaves behind become missing. A missing seq that turns up later is
// a late (reordered) delivery: it is counted as received and un-missed.
class SeqTracker {
 public:
  explicit SeqTracker(std::size_t window = 4096, std::size_t max_missing_ranges = 65'536);

  enum class Outcome { fresh, duplicate, late, rejected };
  // `rejected`: seq absurdly far ahead (> 2^40 beyond base), i.e. garbage.
  Outcome on_receive(std::uint64_t seq);

  std::uint64_t unique() const { return unique_; }         // distinct seqs received
  std::uint64_t duplicates() const { return duplicates_; }
  std::uint64_t late() const { return late_; }             // arrived after being declared a gap
  std::uint64_t base() const { return base_; }

  // True if `seq` has been received. Exact unless the missing-range list
  // overflowed (then seqs below base outside the kept ranges read as received).
  bool received(std::uint64_t seq) const;

  // Number of seqs in [0, end) that were NOT received.
  std::uint64_t missing_below(std::uint64_t end) const;

  // Missing in [0, end), not counting the seqs listed in `excluded` (e.g. QoS 1
  // messages whose PUBACK never arrived and which therefore are not owed).
  std::uint64_t lost(std::uint64_t end, std::span<const std::uint64_t> excluded = {}) const;

  bool missing_ranges_overflowed() const { return overflowed_; }
  // Recorded gaps below base(), sorted, as [lo, hi) (for diagnostics).
  const std::vector<std::pair<std::uint64_t, std::uint64_t>>& missing_ranges() const { return missing_; }

 private:
  bool bit(std::uint64_t seq) const;
  void set_bit(std::uint64_t seq);
  void clear_bit(std::uint64_t seq);
  void advance_to(std::uint64_t new_base);  // resolves [base, new_base)
  void add_missing(std::uint64_t lo, std::uint64_t hi);  // [lo, hi)
  bool take_missing(std::uint64_t seq);  // removes seq from the missing ranges

  std::size_t window_;
  std::size_t max_ranges_;
  std::vector<std::uint64_t> ring_;  // window_ bits, indexed by seq % window_
  std::uint64_t base_ = 0;
  std::uint64_t unique_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t late_ = 0;
  std::uint64_t missing_total_ = 0;  // exact count of missing seqs below base_
  std::vector<std::pair<std::uint64_t, std::uint64_t>> missing_;  // sorted [lo, hi)
  bool overflowed_ = false;
};

// ---- latency histogram -------------------------------------------------------

// Log-linear ("HDR-style") histogram of non-negative integer values (ns).
// Values below 32 get exact buckets; above, each power of two is split into
// 32 linear sub-buckets, so a reported percentile is within 1/32 (~3 %) of
// the true value. Fixed size (~15 KiB), mergeable across threads.
class LatencyHistogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr std::uint64_t kSub = 1u << kSubBits;   // 32
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) * kSub;

  void record(std::uint64_t value);
  void merge(const LatencyHistogram& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }

  // Value at quantile q in [0, 1] (0.5 = median, 0.99 = p99): the midpoint of
  // the bucket that holds the ceil(q * count)-th smallest sample, clamped to
  // [min, max]. 0 when empty.
  std::uint64_t percentile(double q) const;

  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t bucket_low(std::size_t index);   // smallest value in bucket
  static std::uint64_t bucket_high(std::size_t index);  // largest value in bucket

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  double sum_ = 0;  // for mean(); double is plenty for a benchmark
};

}  // namespace colony::bench
