// Readiness: a set of named conditions (e.g. "listeners", later "store", "cluster") that the
// broker sets as it starts and drains. /readyz answers 200 only while every declared
// condition holds (and at least one is declared); /healthz only says the process is alive.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace colony::metrics {

class readiness {
public:
  /// Declares `name` (if new) and sets its state.
  void set(std::string_view name, bool ok);
  /// Declares `name` as not (yet) met unless it is already declared.
  void declare(std::string_view name);
  /// Forgets `name` (a subsystem that is switched off).
  void remove(std::string_view name);
  /// True if at least one condition is declared and all hold.
  bool ready() const;
  /// Every condition with its state, in declaration order.
  std::vector<std::pair<std::string, bool>> conditions() const;

private:
  mutable std::mutex mtx_;
  std::vector<std::pair<std::string, bool>> conditions_;
};

/// The process's readiness (one per process, like stats()).
readiness& ready_state() noexcept;

} // namespace colony::metrics
