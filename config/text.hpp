// Small text helpers shared by the configuration parsers.
#pragma once

#include <string_view>
#include <vector>

namespace colony::config {

/// Splits `s` at every `sep`: "a$b$" -> {"a", "b", ""}, "" -> {""}. The parts view `s`.
inline std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

} // namespace colony::config
