// UTF-8 validation (MQTT 5 §1.5.4, MQTT 3.1.1 §1.5.3).
#include "codec/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

using colony::codec::is_valid_mqtt_utf8;

namespace {

std::string s(std::initializer_list<unsigned char> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST(utf8, empty_and_ascii_are_valid) {
  EXPECT_TRUE(is_valid_mqtt_utf8(""));
  EXPECT_TRUE(is_valid_mqtt_utf8("a"));
  EXPECT_TRUE(is_valid_mqtt_utf8("sensors/temperature/kitchen"));
  EXPECT_TRUE(is_valid_mqtt_utf8(std::string(1000, 'x')));
}

TEST(utf8, multibyte_sequences_are_valid) {
  EXPECT_TRUE(is_valid_mqtt_utf8(s({0xC3, 0xA9})));             // U+00E9 é
  EXPECT_TRUE(is_valid_mqtt_utf8(s({0xE2, 0x82, 0xAC})));       // U+20AC €
  EXPECT_TRUE(is_valid_mqtt_utf8(s({0xF0, 0x9F, 0x98, 0x80}))); // U+1F600 emoji
  EXPECT_TRUE(is_valid_mqtt_utf8(s({0xF4, 0x8F, 0xBF, 0xBF}))); // U+10FFFF, the last code point
  EXPECT_TRUE(is_valid_mqtt_utf8(s({0xEF, 0xBB, 0xBF})));       // U+FEFF is allowed (MQTT-1.5.4-3)
  EXPECT_TRUE(is_valid_mqtt_utf8(s({0xED, 0x9F, 0xBF})));       // U+D7FF, just below surrogates
  EXPECT_TRUE(is_valid_mqtt_utf8(s({0xEE, 0x80, 0x80})));       // U+E000, just above them
  // Mixed: multibyte characters between long ASCII runs (the 8-byte fast path and back).
  EXPECT_TRUE(is_valid_mqtt_utf8("abcdefghij" + s({0xF0, 0x9F, 0x98, 0x80}) + "klmnopqrstuvwxyz"));
}

TEST(utf8, control_characters_are_allowed) {
  // MQTT 5 §1.5.4: U+0001..U+001F and U+007F..U+009F are "SHOULD NOT", not "MUST NOT".
  EXPECT_TRUE(is_valid_mqtt_utf8(s({0x01, 0x1F, 0x7F})));
  EXPECT_TRUE(is_valid_mqtt_utf8(s({0xC2, 0x80})));
}

TEST(utf8, null_character_is_invalid_mqtt_1_5_4_2) {
  EXPECT_FALSE(is_valid_mqtt_utf8(std::string(1, '\0')));
  EXPECT_FALSE(is_valid_mqtt_utf8(std::string("abc\0def", 7)));
  EXPECT_FALSE(is_valid_mqtt_utf8(std::string("abcdefgh\0", 9)));           // after a fast block
  EXPECT_FALSE(is_valid_mqtt_utf8(std::string("abcdefghijklmno\0pq", 18))); // inside a block
}

TEST(utf8, overlong_encodings_are_invalid_mqtt_1_5_4_1) {
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xC0, 0x80})));             // overlong U+0000
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xC1, 0xBF})));             // overlong U+007F
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xE0, 0x80, 0x80})));       // overlong 3-byte
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xE0, 0x9F, 0xBF})));       // overlong U+07FF
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xF0, 0x80, 0x80, 0x80}))); // overlong 4-byte
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xF0, 0x8F, 0xBF, 0xBF}))); // overlong U+FFFF
}

TEST(utf8, surrogates_are_invalid_mqtt_1_5_4_1) {
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xED, 0xA0, 0x80}))); // U+D800
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xED, 0xBF, 0xBF}))); // U+DFFF
}

TEST(utf8, code_points_above_u10ffff_are_invalid) {
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xF4, 0x90, 0x80, 0x80}))); // U+110000
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xF5, 0x80, 0x80, 0x80})));
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xFF})));
}

TEST(utf8, truncated_and_stray_bytes_are_invalid) {
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xC3})));                   // missing continuation
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xE2, 0x82})));             // 3-byte cut short
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xF0, 0x9F, 0x98})));       // 4-byte cut short
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0x80})));                   // lone continuation
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xC3, 0x41})));             // continuation expected
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xE2, 0x82, 0x41})));       // bad 3rd byte
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xF0, 0x9F, 0x41, 0x80}))); // bad 3rd byte
  EXPECT_FALSE(is_valid_mqtt_utf8(s({0xF0, 0x9F, 0x98, 0x41}))); // bad 4th byte
  EXPECT_FALSE(is_valid_mqtt_utf8("abcdefghijk" + s({0xC3})));   // cut short after a fast block
}

} // namespace
