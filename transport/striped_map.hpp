// striped_map: an unordered_map split into N stripes by the key's hash, each stripe with its own
// mutex, so that threads working on different keys rarely take the same lock. The caller locks
// the stripe it works on (several steps on one entry can then happen under one lock).
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace colony::transport {

template <class Key, class Value, std::size_t N, class Hash = std::hash<Key>>
class striped_map {
public:
  struct alignas(64) stripe {
    mutable std::mutex mtx;
    std::unordered_map<Key, Value, Hash> map;
  };

  /// Buckets for `reserve_per_stripe` entries in each stripe up front: growing a table
  /// rehashes every node in it (a cache miss each), which the callers' hot paths should not do.
  explicit striped_map(std::size_t reserve_per_stripe = 0) {
    if (reserve_per_stripe > 0)
      for (auto& s : stripes_)
        s.map.reserve(reserve_per_stripe);
  }

  stripe& stripe_of(const Key& key) { return stripes_[Hash{}(key) % N]; }

  /// Calls `f` with each stripe in turn (the caller locks it).
  template <class F>
  void for_each_stripe(F&& f) {
    for (auto& s : stripes_)
      f(s);
  }
  template <class F>
  void for_each_stripe(F&& f) const {
    for (auto& s : stripes_)
      f(s);
  }

private:
  std::array<stripe, N> stripes_;
};

} // namespace colony::transport
