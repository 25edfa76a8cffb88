// How many cores the broker may use: what sizes its thread pools when --io-threads and
// --worker-threads are left at 0. std::thread::hardware_concurrency() counts the machine's
// cores; in a container the CPU affinity mask (cpuset) and the cgroup v2 quota (cpu.max, the
// CPU limit of a Kubernetes pod) allow fewer, and a thread per host core would only contend.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace colony::config {

/// Cores a cgroup v2 `cpu.max` line ("<quota> <period>" or "max <period>") allows, rounded
/// up; nullopt for "max" (no limit) or a line that does not parse.
std::optional<std::size_t> cores_from_cpu_max(std::string_view line);

/// min(hardware cores, CPUs in the affinity mask, the cgroup quota), at least 1.
std::size_t usable_cores();

} // namespace colony::config
