#include "metrics/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <unistd.h>

namespace colony::log {

namespace {

std::atomic<level> g_level{level::info};
std::atomic<format> g_format{format::automatic};
std::mutex g_mtx;

constexpr std::string_view level_name(level l) noexcept {
  switch (l) {
    case level::trace:
      return "trace";
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warn:
      return "warn";
    case level::error:
      return "error";
    case level::off:
      return "off";
  }
  return "info";
}

bool use_json() noexcept {
  auto f = g_format.load(std::memory_order_relaxed);
  if (f == format::automatic) {
    static const bool tty = isatty(STDERR_FILENO) != 0;
    return !tty;
  }
  return f == format::json;
}

void append_value(std::string& out, const field::value_type& v, bool json) {
  std::visit(
    [&](const auto& x) {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, std::string_view>) {
        if (json)
          append_json_string(out, x);
        else
          out.append(x);
      } else if constexpr (std::is_same_v<T, bool>) {
        out.append(x ? "true" : "false");
      } else {
        out.append(std::to_string(x));
      }
    },
    v);
}

} // namespace

bool parse_level(std::string_view text, level& out) noexcept {
  for (auto l : {level::trace, level::debug, level::info, level::warn, level::error, level::off}) {
    if (text == level_name(l)) {
      out = l;
      return true;
    }
  }
  if (text == "warning") {
    out = level::warn;
    return true;
  }
  return false;
}

bool parse_format(std::string_view text, format& out) noexcept {
  if (text == "auto")
    out = format::automatic;
  else if (text == "json")
    out = format::json;
  else if (text == "text")
    out = format::text;
  else
    return false;
  return true;
}

void set_level(level l) noexcept {
  g_level.store(l, std::memory_order_relaxed);
}

void set_format(format f) noexcept {
  g_format.store(f, std::memory_order_relaxed);
}

level current_level() noexcept {
  return g_level.load(std::memory_order_relaxed);
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out.append("\\u00");
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

std::string rfc3339_now() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

void write(level l, std::string_view logger, std::string_view msg, fields f) {
  std::string line;
  line.reserve(128);
  if (use_json()) {
    line.append("{\"ts\":\"").append(rfc3339_now()).append("\",\"level\":\"");
    line.append(level_name(l)).append("\",\"logger\":");
    append_json_string(line, logger);
    line.append(",\"msg\":");
    append_json_string(line, msg);
    for (const auto& x : f) {
      line.push_back(',');
      append_json_string(line, x.key);
      line.push_back(':');
      append_value(line, x.value, true);
    }
    line.append("}\n");
  } else {
    line.append(rfc3339_now()).append(" ");
    auto name = level_name(l);
    line.append(name).append(6 - name.size(), ' ');
    line.append("[").append(logger).append("] ").append(msg);
    for (const auto& x : f) {
      line.append(" ").append(x.key).append("=");
      append_value(line, x.value, false);
    }
    line.push_back('\n');
  }
  std::lock_guard<std::mutex> guard{g_mtx};
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace colony::log
