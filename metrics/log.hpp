// Structured logging: one JSON object per line (`ts`, `level`, `logger`, `msg`, fields) when
// stderr is not a terminal, a readable line when it is. Thread-safe; a disabled level costs
// one comparison.
//
//   log::info("transport", "listening", {{"listener", "mqtt"}, {"port", 1883}});
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace colony::log {

enum class level : std::uint8_t { trace, debug, info, warn, error, off };

enum class format : std::uint8_t { automatic, json, text };

/// Parses "trace" … "error"/"off"; returns false for anything else.
bool parse_level(std::string_view text, level& out) noexcept;
bool parse_format(std::string_view text, format& out) noexcept;

void set_level(level l) noexcept;
void set_format(format f) noexcept;
level current_level() noexcept;

inline bool enabled(level l) noexcept {
  return l >= current_level();
}

/// One key/value pair of a log line.
struct field {
  using value_type = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;
  std::string_view key;
  value_type value;

  field(std::string_view k, std::string_view v) : key(k), value(v) {}
  field(std::string_view k, const std::string& v) : key(k), value(std::string_view{v}) {}
  field(std::string_view k, const char* v) : key(k), value(std::string_view{v}) {}
  field(std::string_view k, bool v) : key(k), value(v) {}
  field(std::string_view k, double v) : key(k), value(v) {}
  template <class T, class = std::enable_if_t<std::is_integral_v<T> && std::is_signed_v<T>>>
  field(std::string_view k, T v, int = 0) : key(k), value(static_cast<std::int64_t>(v)) {}
  template <class T, class = std::enable_if_t<std::is_integral_v<T> && std::is_unsigned_v<T>
                                              && !std::is_same_v<T, bool>>>
  field(std::string_view k, T v, long = 0) : key(k), value(static_cast<std::uint64_t>(v)) {}
};

using fields = std::initializer_list<field>;

/// Writes one line if `l` is enabled.
void write(level l, std::string_view logger, std::string_view msg, fields f = {});

inline void trace(std::string_view logger, std::string_view msg, fields f = {}) {
  if (enabled(level::trace))
    write(level::trace, logger, msg, f);
}
inline void debug(std::string_view logger, std::string_view msg, fields f = {}) {
  if (enabled(level::debug))
    write(level::debug, logger, msg, f);
}
inline void info(std::string_view logger, std::string_view msg, fields f = {}) {
  if (enabled(level::info))
    write(level::info, logger, msg, f);
}
inline void warn(std::string_view logger, std::string_view msg, fields f = {}) {
  if (enabled(level::warn))
    write(level::warn, logger, msg, f);
}
inline void error(std::string_view logger, std::string_view msg, fields f = {}) {
  if (enabled(level::error))
    write(level::error, logger, msg, f);
}

/// Appends `s` to `out` as a JSON string literal (with quotes), escaping as RFC 8259 requires.
void append_json_string(std::string& out, std::string_view s);

/// RFC 3339 UTC timestamp with milliseconds for "now", e.g. 2026-11-28T12:00:00.123Z.
std::string rfc3339_now();

} // namespace colony::log
