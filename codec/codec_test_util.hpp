// Helpers shared by the codec unit tests (not part of the library).
#pragma once

#include "codec/decoder.hpp"
#include "codec/encoder.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace colony::codec {

// gtest printers, found by ADL, so failures show names instead of raw object bytes.
inline void PrintTo(reason_code rc, std::ostream* os) {
  static constexpr char digits[] = "0123456789abcdef";
  const auto v = static_cast<unsigned>(rc);
  *os << "0x" << digits[v >> 4] << digits[v & 0xF] << " (" << to_string(rc) << ")";
}

inline void PrintTo(protocol_version v, std::ostream* os) {
  *os << "protocol level " << static_cast<unsigned>(v);
}

inline void PrintTo(decode_status s, std::ostream* os) {
  *os << (s == decode_status::packet  ? "packet"
          : s == decode_status::error ? "error"
                                      : "need_more");
}

inline void PrintTo(const packet& p, std::ostream* os) {
  // The MQTT 5 encoding shows every field (3.1.x would hide properties and reason codes).
  std::vector<std::uint8_t> b;
  encode(p, protocol_version::v5, b);
  static constexpr char digits[] = "0123456789abcdef";
  *os << to_string(type_of(p)) << " [v5 encoding:";
  for (const std::uint8_t c : b) {
    *os << ' ' << digits[c >> 4] << digits[c & 0xF];
  }
  *os << "]";
}

namespace test {

using bytes = std::vector<std::uint8_t>;

/// Bytes from hex text; spaces are ignored, so "10 0a 00" == "100a00".
inline bytes hex(std::string_view text) {
  auto nibble = [](char c) -> std::uint8_t {
    if (c >= '0' && c <= '9') {
      return static_cast<std::uint8_t>(c - '0');
    }
    if (c >= 'a' && c <= 'f') {
      return static_cast<std::uint8_t>(c - 'a' + 10);
    }
    if (c >= 'A' && c <= 'F') {
      return static_cast<std::uint8_t>(c - 'A' + 10);
    }
    ADD_FAILURE() << "bad hex digit '" << c << "'";
    return 0;
  };
  bytes out;
  int pending = -1;
  for (const char c : text) {
    if (c == ' ' || c == '\n') {
      continue;
    }
    if (pending < 0) {
      pending = nibble(c);
    } else {
      out.push_back(static_cast<std::uint8_t>((pending << 4) | nibble(c)));
      pending = -1;
    }
  }
  EXPECT_LT(pending, 0) << "odd number of hex digits";
  return out;
}

/// Hex text of `b`, "10 0a 00", for readable comparisons.
inline std::string to_hex(const bytes& b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (const std::uint8_t c : b) {
    if (!s.empty()) {
      s += ' ';
    }
    s += digits[c >> 4];
    s += digits[c & 0xF];
  }
  return s;
}

/// Concatenates byte strings.
inline bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

/// The encoding of `p`, checking that encoded_size() matches the bytes appended.
inline bytes encode_bytes(const packet& p, protocol_version v) {
  bytes out;
  encode(p, v, out);
  EXPECT_EQ(out.size(), encoded_size(p, v)) << "encoded_size() disagrees with encode()";
  return out;
}

/// Runs a stream decoder in version `v` over `in`.
inline decode_result decode_one(const bytes& in, protocol_version v,
                                std::size_t max_packet_size = absolute_max_packet_size) {
  stream_decoder d(max_packet_size);
  d.set_version(v);
  return d.next(in);
}

/// The reason code decoding `in` fails with (and a test failure if it does not fail).
inline reason_code decode_error(const bytes& in, protocol_version v) {
  const decode_result r = decode_one(in, v);
  if (r.status != decode_status::error) {
    ADD_FAILURE() << "expected a decode error for [" << to_hex(in) << "], got "
                  << (r.status == decode_status::packet ? "a packet" : "need_more");
    return reason_code::success;
  }
  return r.error;
}

/// Decodes `in`, which must hold exactly one packet.
inline packet decode_ok(const bytes& in, protocol_version v) {
  decode_result r = decode_one(in, v);
  EXPECT_EQ(r.status, decode_status::packet)
      << "decoding [" << to_hex(in) << "] failed: " << to_string(r.error);
  EXPECT_EQ(r.used, in.size());
  return std::move(r.pkt);
}

/// encode -> decode gives back `p`, and encoded_size() is exact.
inline void expect_round_trip(const packet& p, protocol_version v) {
  const bytes b = encode_bytes(p, v);
  SCOPED_TRACE("encoding: " + to_hex(b));
  EXPECT_EQ(decode_ok(b, v), p);
}

} // namespace test
} // namespace colony::codec
