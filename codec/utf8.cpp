// MQTT UTF-8 string validation (MQTT 5 §1.5.4, MQTT 3.1.1 §1.5.3).
#include "utf8.hpp"

#include <cstdint>
#include <cstring>

namespace colony::codec {
namespace {

constexpr std::uint64_t high_bits = 0x8080808080808080ull;
constexpr std::uint64_t low_bits = 0x0101010101010101ull;

// True if one of the 8 bytes of `w` is zero (exact; the classic "haszero" bit trick).
constexpr bool has_zero_byte(std::uint64_t w) noexcept {
  return ((w - low_bits) & ~w & high_bits) != 0;
}

constexpr bool is_continuation(unsigned char c) noexcept { return (c & 0xC0) == 0x80; }

} // namespace

bool is_valid_mqtt_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  while (p != end) {
    // Fast path: topics and most strings are ASCII; check 8 bytes per step for a non-ASCII byte
    // or a NUL (U+0000 is not allowed, MQTT-1.5.4-2).
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, sizeof w);
      if ((w & high_bits) != 0 || has_zero_byte(w)) {
        break;
      }
      p += 8;
    }
    if (p == end) {
      break;
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      if (c == 0) {
        return false; // MQTT-1.5.4-2
      }
      ++p;
      continue;
    }
    // Well-formed sequences per Unicode Table 3-7: this rejects overlong forms (C0, C1, E0 80..9F,
    // F0 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF),
    // all of which MQTT-1.5.4-1 forbids.
    const std::ptrdiff_t left = end - p;
    if (c >= 0xC2 && c <= 0xDF) {
      if (left < 2 || !is_continuation(p[1])) {
        return false;
      }
      p += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (left < 3 || !is_continuation(p[2])) {
        return false;
      }
      const unsigned char c1 = p[1];
      const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
      const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
      if (c1 < lo || c1 > hi) {
        return false;
      }
      p += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (left < 4 || !is_continuation(p[2]) || !is_continuation(p[3])) {
        return false;
      }
      const unsigned char c1 = p[1];
      const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
      const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
      if (c1 < lo || c1 > hi) {
        return false;
      }
      p += 4;
    } else {
      return false; // stray continuation byte, C0/C1 (always overlong) or F5..FF
    }
  }
  return true;
}

} // namespace colony::codec
