#include "metrics/readiness.hpp"

#include <algorithm>

namespace colony::metrics {

void readiness::set(std::string_view name, bool ok) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [n, v] : conditions_) {
    if (n == name) {
      v = ok;
      return;
    }
  }
  conditions_.emplace_back(std::string{name}, ok);
}

void readiness::declare(std::string_view name) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& c : conditions_)
    if (c.first == name)
      return;
  conditions_.emplace_back(std::string{name}, false);
}

void readiness::remove(std::string_view name) {
  std::lock_guard<std::mutex> guard{mtx_};
  conditions_.erase(std::remove_if(conditions_.begin(), conditions_.end(),
                                   [&](const auto& c) { return c.first == name; }),
                    conditions_.end());
}

bool readiness::ready() const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (conditions_.empty())
    return false;
  return std::all_of(conditions_.begin(), conditions_.end(), [](const auto& c) { return c.second; });
}

std::vector<std::pair<std::string, bool>> readiness::conditions() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return conditions_;
}

readiness& ready_state() noexcept {
  static readiness* r = new readiness; // never destroyed: set from threads during exit
  return *r;
}

} // namespace colony::metrics
