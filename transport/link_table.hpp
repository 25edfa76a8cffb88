// link_table: the server's register of open links (for close_all() and connection_count()),
// split into stripes by link id so that I/O threads accepting and closing connections at the
// same time rarely take the same lock.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace colony::transport::detail {

template <class Link>
class basic_link_table {
public:
  static constexpr std::size_t stripes = 16;

  basic_link_table() {
    // Growing a table rehashes every node in it (a cache miss each) on the accept path.
    for (auto& s : stripes_)
      s.links.reserve(1024);
  }

  void add(std::uint64_t id, const std::shared_ptr<Link>& link) {
    auto& s = stripe(id);
    std::lock_guard<std::mutex> g{s.mtx};
    s.links.emplace(id, link);
  }

  void remove(std::uint64_t id) {
    auto& s = stripe(id);
    std::lock_guard<std::mutex> g{s.mtx};
    s.links.erase(id);
  }

  /// The links still alive.
  std::vector<std::shared_ptr<Link>> all() const {
    std::vector<std::shared_ptr<Link>> out;
    for (auto& s : stripes_) {
      std::lock_guard<std::mutex> g{s.mtx};
      for (auto& [id, weak] : s.links)
        if (auto l = weak.lock())
          out.push_back(std::move(l));
    }
    return out;
  }

  /// Registered links (a link is registered from its start until it has finished).
  std::size_t size() const {
    std::size_t n = 0;
    for (auto& s : stripes_) {
      std::lock_guard<std::mutex> g{s.mtx};
      n += s.links.size();
    }
    return n;
  }

private:
  struct alignas(64) stripe_t {
    mutable std::mutex mtx;
    std::unordered_map<std::uint64_t, std::weak_ptr<Link>> links;
  };
  // Ids are handed out in sequence, so consecutive connections go to different stripes.
  stripe_t& stripe(std::uint64_t id) { return stripes_[id % stripes]; }

  std::array<stripe_t, stripes> stripes_;
};

} // namespace colony::transport::detail
