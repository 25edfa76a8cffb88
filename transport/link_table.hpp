// link_table: the server's register of open links (for close_all() and connection_count()),
// striped by link id so that I/O threads accepting and closing connections at the same time
// rarely take the same lock. Ids are handed out in sequence, so consecutive connections go to
// different stripes.
#pragma once

#include "transport/striped_map.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace colony::transport::detail {

template <class Link>
class basic_link_table {
public:
  basic_link_table() : links_(1024) {}

  void add(std::uint64_t id, const std::shared_ptr<Link>& link) {
    auto& s = links_.stripe_of(id);
    std::lock_guard<std::mutex> g{s.mtx};
    s.map.emplace(id, link);
  }

  void remove(std::uint64_t id) {
    auto& s = links_.stripe_of(id);
    std::lock_guard<std::mutex> g{s.mtx};
    s.map.erase(id);
  }

  /// The links still alive.
  std::vector<std::shared_ptr<Link>> all() const {
    std::vector<std::shared_ptr<Link>> out;
    links_.for_each_stripe([&](const auto& s) {
      std::lock_guard<std::mutex> g{s.mtx};
      for (auto& [id, weak] : s.map)
        if (auto l = weak.lock())
          out.push_back(std::move(l));
    });
    return out;
  }

  /// Registered links (a link is registered from its start until it has finished).
  std::size_t size() const {
    std::size_t n = 0;
    links_.for_each_stripe([&](const auto& s) {
      std::lock_guard<std::mutex> g{s.mtx};
      n += s.map.size();
    });
    return n;
  }

private:
  striped_map<std::uint64_t, std::weak_ptr<Link>, 16> links_;
};

} // namespace colony::transport::detail
