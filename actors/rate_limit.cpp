#include "actors/rate_limit.hpp"

#include <algorithm>
#include <functional>

namespace colony::actors {

token_bucket::token_bucket(std::uint64_t rate_per_second) noexcept
  : rate_(rate_per_second), tokens_(static_cast<double>(rate_per_second)) {}

void token_bucket::refill(std::int64_t now_ms) noexcept {
  if (!started_) {
    started_ = true;
    last_ms_ = now_ms;
    return;
  }
  if (now_ms <= last_ms_) {
    last_ms_ = now_ms; // a clock that went back: continue from there, without a refill
    return;
  }
  const auto burst = static_cast<double>(rate_);
  tokens_ = std::min(burst, tokens_ + static_cast<double>(now_ms - last_ms_) * burst / 1000.0);
  last_ms_ = now_ms;
}

bool token_bucket::take(std::int64_t now_ms, std::uint64_t cost) noexcept {
  if (rate_ == 0)
    return true;
  refill(now_ms);
  const auto c = static_cast<double>(cost);
  const auto burst = static_cast<double>(rate_);
  if (tokens_ >= c || (c > burst && tokens_ >= burst)) {
    tokens_ -= c;
    return true;
  }
  return false;
}

double token_bucket::available(std::int64_t now_ms) noexcept {
  refill(now_ms);
  return tokens_;
}

per_ip_rate_limiter::per_ip_rate_limiter(std::uint64_t rate_per_second, std::size_t max_entries)
  : rate_(rate_per_second), max_per_stripe_(std::max<std::size_t>(1, max_entries / stripes)) {}

bool per_ip_rate_limiter::admit(std::string_view ip, std::int64_t now_ms) {
  if (rate_ == 0)
    return true;
  auto& s = stripes_[std::hash<std::string_view>{}(ip) % stripes];
  std::lock_guard<std::mutex> guard{s.mtx};
  auto it = s.buckets.find(std::string{ip});
  if (it == s.buckets.end()) {
    if (s.buckets.size() >= max_per_stripe_)
      prune(s, now_ms);
    it = s.buckets.emplace(std::string{ip}, token_bucket{rate_}).first;
  }
  return it->second.take(now_ms);
}

void per_ip_rate_limiter::prune(stripe& s, std::int64_t now_ms) {
  const auto full = static_cast<double>(rate_);
  for (auto it = s.buckets.begin(); it != s.buckets.end();) {
    if (it->second.available(now_ms) >= full)
      it = s.buckets.erase(it);
    else
      ++it;
  }
  if (s.buckets.size() >= max_per_stripe_)
    s.buckets.clear(); // a flood of distinct addresses: forget them rather than grow
}

std::size_t per_ip_rate_limiter::size() const {
  std::size_t n = 0;
  for (auto& s : stripes_) {
    std::lock_guard<std::mutex> guard{s.mtx};
    n += s.buckets.size();
  }
  return n;
}

} // namespace colony::actors
