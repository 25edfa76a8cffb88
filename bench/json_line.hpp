// A tiny writer for the single JSON object line colony_loadgen prints.
// Keys keep insertion order; numbers that are not finite become null.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace colony::bench {

class JsonLine {
 public:
  JsonLine& add(std::string_view key, std::string_view value) {
    begin(key);
    quote(value);
    return *this;
  }
  JsonLine& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  JsonLine& add(std::string_view key, bool value) {
    begin(key);
    out_ += value ? "true" : "false";
    return *this;
  }
  JsonLine& add(std::string_view key, std::int64_t value) {
    begin(key);
    out_ += std::to_string(value);
    return *this;
  }
  JsonLine& add(std::string_view key, std::uint64_t value) {
    begin(key);
    out_ += std::to_string(value);
    return *this;
  }
  JsonLine& add(std::string_view key, int value) { return add(key, static_cast<std::int64_t>(value)); }
  // Doubles are printed with up to `digits` decimals, trailing zeros trimmed.
  JsonLine& add(std::string_view key, double value, int digits = 3) {
    begin(key);
    if (!std::isfinite(value)) {
      out_ += "null";
      return *this;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, value);
    std::string s(buf);
    if (s.find('.') != std::string::npos) {
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
    }
    out_ += s;
    return *this;
  }
  JsonLine& add(std::string_view key, const std::optional<double>& value, int digits = 3) {
    if (value) return add(key, *value, digits);
    begin(key);
    out_ += "null";
    return *this;
  }
  template <typename T>
  JsonLine& add(std::string_view key, const std::optional<T>& value) {
    if (value) return add(key, *value);
    begin(key);
    out_ += "null";
    return *this;
  }

  std::string str() const { return out_ + "}"; }

 private:
  void begin(std::string_view key) {
    out_ += out_.size() == 1 ? "" : ",";
    quote(key);
    out_ += ':';
  }
  void quote(std::string_view s) {
    out_ += '"';
    for (char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += c;
          }
      }
    }
    out_ += '"';
  }
  std::string out_ = "{";
};

}  // namespace colony::bench
