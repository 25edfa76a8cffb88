#include "config/cpus.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

#include <sched.h>

namespace colony::config {

namespace {

std::optional<std::uint64_t> parse_count(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

} // namespace

std::optional<std::size_t> cores_from_cpu_max(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == ' '))
    line.remove_suffix(1);
  auto space = line.find(' ');
  if (space == std::string_view::npos)
    return std::nullopt;
  auto quota = parse_count(line.substr(0, space));
  auto period = parse_count(line.substr(space + 1));
  if (!quota || !period || *period == 0 || *quota == 0)
    return std::nullopt; // "max" (unlimited) does not parse as a number
  return static_cast<std::size_t>((*quota + *period - 1) / *period);
}

std::size_t usable_cores() {
  std::size_t n = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    auto allowed = static_cast<std::size_t>(CPU_COUNT(&set));
    if (allowed > 0)
      n = std::min(n, allowed);
  }
  std::ifstream f{"/sys/fs/cgroup/cpu.max"};
  std::string line;
  if (f && std::getline(f, line)) {
    if (auto quota = cores_from_cpu_max(line))
      n = std::min(n, *quota);
  }
  return std::max<std::size_t>(1, n);
}

} // namespace colony::config
