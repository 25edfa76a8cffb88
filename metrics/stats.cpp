#include "metrics/stats.hpp"

namespace colony::metrics {

broker_stats& stats() noexcept {
  static broker_stats instance;
  return instance;
}

} // namespace colony::metrics
