// See stats.hpp.
#include "stats.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>

namespace colony::bench {

// ---- PayloadHeader -----------------------------------------------------------
namespace {

template <typename T>
void put_be(std::uint8_t* out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out[i] = static_cast<std::uint8_t>(v >> (8 * (sizeof(T) - 1 - i)));
}

template <typename T>
T get_be(const std::uint8_t* in) {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | in[i]);
  return v;
}

}  // namespace

void PayloadHeader::encode(std::span<std::uint8_t, kSize> out) const {
  put_be<std::uint16_t>(out.data() + 0, kMagic);
  put_be<std::uint16_t>(out.data() + 2, flags);
  put_be<std::uint32_t>(out.data() + 4, publisher_id);
  put_be<std::uint64_t>(out.data() + 8, seq);
  put_be<std::uint64_t>(out.data() + 16, timestamp_ns);
}

std::array<std::uint8_t, PayloadHeader::kSize> PayloadHeader::encode() const {
  std::array<std::uint8_t, kSize> out{};
  encode(std::span<std::uint8_t, kSize>(out));
  return out;
}

std::optional<PayloadHeader> PayloadHeader::decode(std::span<const std::uint8_t> payload) {
  if (payload.size() < kSize) return std::nullopt;
  const std::uint8_t* p = payload.data();
  if (get_be<std::uint16_t>(p) != kMagic) return std::nullopt;
  PayloadHeader h;
  h.flags = get_be<std::uint16_t>(p + 2);
  h.publisher_id = get_be<std::uint32_t>(p + 4);
  h.seq = get_be<std::uint64_t>(p + 8);
  h.timestamp_ns = get_be<std::uint64_t>(p + 16);
  return h;
}

// ---- SeqTracker --------------------------------------------------------------

SeqTracker::SeqTracker(std::size_t window, std::size_t max_missing_ranges)
    : window_(std::max<std::size_t>(64, (window + 63) / 64 * 64)),
      max_ranges_(max_missing_ranges),
      ring_(window_ / 64, 0) {}

bool SeqTracker::bit(std::uint64_t seq) const {
  const std::uint64_t i = seq % window_;
  return (ring_[i / 64] >> (i % 64)) & 1u;
}
void SeqTracker::set_bit(std::uint64_t seq) {
  const std::uint64_t i = seq % window_;
  ring_[i / 64] |= std::uint64_t{1} << (i % 64);
}
void SeqTracker::clear_bit(std::uint64_t seq) {
  const std::uint64_t i = seq % window_;
  ring_[i / 64] &= ~(std::uint64_t{1} << (i % 64));
}

void SeqTracker::add_missing(std::uint64_t lo, std::uint64_t hi) {
  if (lo >= hi) return;
  missing_total_ += hi - lo;
  if (!missing_.empty() && missing_.back().second == lo) {
    missing_.back().second = hi;  // extend the previous gap
  } else if (missing_.size() < max_ranges_) {
    missing_.emplace_back(lo, hi);
  } else {
    overflowed_ = true;  // still counted in missing_total_, just not locatable
  }
}

bool SeqTracker::take_missing(std::uint64_t seq) {
  // Ranges are sorted and disjoint: find the last range with lo <= seq.
  auto it = std::upper_bound(missing_.begin(), missing_.end(), seq,
                             [](std::uint64_t s, const auto& r) { return s < r.first; });
  if (it == missing_.begin()) return false;
  --it;
  if (seq >= it->second) return false;
  const auto [lo, hi] = *it;
  --missing_total_;
  if (lo == seq && hi == seq + 1) {
    missing_.erase(it);
  } else if (lo == seq) {
    it->first = seq + 1;
  } else if (hi == seq + 1) {
    it->second = seq;
  } else {  // split [lo, hi) into [lo, seq) and [seq + 1, hi)
    it->second = seq;
    missing_.insert(it + 1, {seq + 1, hi});
  }
  return true;
}

void SeqTracker::advance_to(std::uint64_t new_base) {
  // Resolve the window part one seq at a time; anything beyond the window
  // cannot have been received (it would have moved the base) and is one gap.
  const std::uint64_t window_end = base_ + window_;
  const std::uint64_t stop = std::min(new_base, window_end);
  std::uint64_t gap_start = base_;
  bool in_gap = false;
  for (std::uint64_t s = base_; s < stop; ++s) {
    if (bit(s)) {
      clear_bit(s);
      if (in_gap) add_missing(gap_start, s);
      in_gap = false;
    } else if (!in_gap) {
      gap_start = s;
      in_gap = true;
    }
  }
  if (in_gap) add_missing(gap_start, stop);
  if (new_base > window_end) add_missing(window_end, new_base);
  base_ = new_base;
}

SeqTracker::Outcome SeqTracker::on_receive(std::uint64_t seq) {
  if (seq < base_) {
    if (take_missing(seq)) {
      ++unique_;
      ++late_;
      return Outcome::late;
    }
    ++duplicates_;
    return Outcome::duplicate;
  }
  if (seq - base_ > (std::uint64_t{1} << 40)) return Outcome::rejected;
  if (seq >= base_ + window_) advance_to(seq - window_ + 1);
  if (bit(seq)) {
    ++duplicates_;
    return Outcome::duplicate;
  }
  ++unique_;
  if (seq == base_) {
    // In-order fast path: slide the base over every consecutive received seq.
    std::uint64_t s = base_ + 1;
    while (s < base_ + window_ && bit(s)) {
      clear_bit(s);
      ++s;
    }
    base_ = s;
  } else {
    set_bit(seq);
  }
  return Outcome::fresh;
}

bool SeqTracker::received(std::uint64_t seq) const {
  if (seq >= base_) return seq < base_ + window_ && bit(seq);
  auto it = std::upper_bound(missing_.begin(), missing_.end(), seq,
                             [](std::uint64_t s, const auto& r) { return s < r.first; });
  if (it == missing_.begin()) return true;
  --it;
  return seq >= it->second;
}

std::uint64_t SeqTracker::missing_below(std::uint64_t end) const {
  // Missing seqs below base that are >= end must not be counted.
  std::uint64_t n = missing_total_;
  if (end < base_) {
    for (auto it = missing_.rbegin(); it != missing_.rend() && it->second > end; ++it)
      n -= it->second - std::max(it->first, end);
    return n;
  }
  const std::uint64_t window_end = base_ + window_;
  for (std::uint64_t s = base_; s < std::min(end, window_end); ++s)
    if (!bit(s)) ++n;
  if (end > window_end) n += end - window_end;
  return n;
}

std::uint64_t SeqTracker::lost(std::uint64_t end, std::span<const std::uint64_t> excluded) const {
  std::uint64_t n = missing_below(end);
  for (std::uint64_t s : excluded)
    if (s < end && !received(s) && n > 0) --n;
  return n;
}

// ---- LatencyHistogram ----------------------------------------------------------

std::size_t LatencyHistogram::bucket_of(std::uint64_t v) {
  if (v < kSub) return static_cast<std::size_t>(v);
  const int msb = 63 - std::countl_zero(v);
  const int shift = msb - kSubBits;  // >= 0
  return static_cast<std::size_t>(shift + 1) * kSub + static_cast<std::size_t>((v >> shift) - kSub);
}

std::uint64_t LatencyHistogram::bucket_low(std::size_t index) {
  if (index < kSub) return index;
  const std::size_t shift = index / kSub - 1;
  const std::uint64_t mantissa = index % kSub + kSub;
  return mantissa << shift;
}

std::uint64_t LatencyHistogram::bucket_high(std::size_t index) {
  if (index < kSub) return index;
  const std::size_t shift = index / kSub - 1;
  return bucket_low(index) + ((std::uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(std::uint64_t value) {
  ++counts_[bucket_of(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<double>(value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

std::uint64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Rank of the sample we want, 1-based: ceil(q * count), at least 1.
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t lo = bucket_low(i), hi = bucket_high(i);
      const std::uint64_t mid = lo + (hi - lo) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace colony::bench
