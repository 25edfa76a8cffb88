// One test per decoder rule: each broken packet fails with the exact reason code.
// Bodies are hand-written hex; frame() only prepends a one-byte Remaining Length.
#include "codec_test_util.hpp"

using namespace colony::codec;
using namespace colony::codec::test;

namespace {

constexpr auto v31 = protocol_version::v3_1;
constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;
constexpr auto malformed = reason_code::malformed_packet;
constexpr auto protocol_error = reason_code::protocol_error;

/// Fixed header byte + one-byte Remaining Length + body (bodies here are < 128 bytes).
bytes frame(std::uint8_t first, const char* body_hex) {
  bytes body = hex(body_hex);
  EXPECT_LT(body.size(), 128u);
  bytes out{first, static_cast<std::uint8_t>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

/// A v5 QoS 0 PUBLISH to "t" carrying the given property bytes (at most 127).
bytes publish_v5_with(const char* props_hex) {
  const bytes props = hex(props_hex);
  bytes body = hex("00 01 74");
  body.push_back(static_cast<std::uint8_t>(props.size()));
  body.insert(body.end(), props.begin(), props.end());
  bytes out{0x30, static_cast<std::uint8_t>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

/// A v5 CONNECT (clean start, keep alive 60, empty client id) carrying the given properties.
bytes connect_v5_with(const char* props_hex) {
  const bytes props = hex(props_hex);
  bytes body = hex("00 04 4d 51 54 54 05 02 00 3c");
  body.push_back(static_cast<std::uint8_t>(props.size()));
  body.insert(body.end(), props.begin(), props.end());
  body.insert(body.end(), {0x00, 0x00});
  bytes out{0x10, static_cast<std::uint8_t>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

/// A v5 CONNACK (success) carrying the given properties.
bytes connack_v5_with(const char* props_hex) {
  const bytes props = hex(props_hex);
  bytes out{0x20, static_cast<std::uint8_t>(props.size() + 3), 0x00, 0x00,
            static_cast<std::uint8_t>(props.size())};
  out.insert(out.end(), props.begin(), props.end());
  return out;
}

// -- fixed header (MQTT 5 §2.1, 3.1.1 §2.2) -----------------------------------------------------

TEST(malformed, packet_type_0_is_reserved) {
  EXPECT_EQ(decode_error(hex("00 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("0f 00"), v5), malformed);
}

TEST(malformed, remaining_length_of_five_bytes) {
  EXPECT_EQ(decode_error(hex("30 ff ff ff ff 7f"), v311), malformed);
  EXPECT_EQ(decode_error(hex("30 80 80 80 80 01"), v5), malformed);
}

TEST(malformed, remaining_length_not_minimal_mqtt_1_5_5_1) {
  EXPECT_EQ(decode_error(hex("c0 80 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("30 85 80 00"), v5), malformed);
}

TEST(malformed, reserved_flags_must_be_zero_mqtt_2_2_2_2) {
  EXPECT_EQ(decode_error(hex("11 0c 00 04 4d 51 54 54 04 02 00 3c 00 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("21 02 00 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("42 02 00 01"), v311), malformed);
  EXPECT_EQ(decode_error(hex("58 02 00 01"), v5), malformed);
  EXPECT_EQ(decode_error(hex("71 02 00 01"), v5), malformed);
  EXPECT_EQ(decode_error(hex("94 03 00 01 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("b2 02 00 01"), v311), malformed);
  EXPECT_EQ(decode_error(hex("c1 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("d8 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("e2 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("f1 00"), v5), malformed);
}

TEST(malformed, pubrel_subscribe_unsubscribe_need_flags_0010) {
  // MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1
  EXPECT_EQ(decode_error(hex("60 02 00 01"), v311), malformed);
  EXPECT_EQ(decode_error(hex("63 02 00 01"), v5), malformed);
  EXPECT_EQ(decode_error(frame(0x80, "00 01 00 01 61 00"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0x8a, "00 01 00 01 61 00"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0xa0, "00 01 00 01 61"), v311), malformed);
}

TEST(malformed, publish_qos_3_mqtt_3_3_1_4) {
  EXPECT_EQ(decode_error(frame(0x36, "00 01 74 00 01"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0x37, "00 01 74 00 01 00"), v5), malformed);
}

TEST(malformed, publish_dup_with_qos_0_mqtt_3_3_1_2) {
  EXPECT_EQ(decode_error(frame(0x38, "00 01 74"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0x38, "00 01 74 00"), v5), malformed);
}

// -- strings and leftovers ----------------------------------------------------------------------

TEST(malformed, string_longer_than_the_body) {
  EXPECT_EQ(decode_error(frame(0x30, "00 05 61"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0x30, "00"), v311), malformed); // half a length
}

TEST(malformed, ill_formed_utf8_in_a_string_mqtt_1_5_4_1) {
  EXPECT_EQ(decode_error(frame(0x30, "00 03 ed a0 80"), v311), malformed);     // surrogate
  EXPECT_EQ(decode_error(frame(0x30, "00 02 c0 80"), v311), malformed);        // overlong
  EXPECT_EQ(decode_error(frame(0x30, "00 04 f4 90 80 80 00"), v5), malformed); // > U+10FFFF
}

TEST(malformed, null_character_in_a_string_mqtt_1_5_4_2) {
  EXPECT_EQ(decode_error(frame(0x30, "00 03 61 00 62"), v311), malformed);
}

TEST(malformed, bytes_after_the_last_field) {
  EXPECT_EQ(decode_error(hex("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 00 ff"), v311), malformed);
  EXPECT_EQ(decode_error(hex("20 03 00 00 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("40 03 00 01 00"), v311), malformed); // 3.1.1 PUBACK is 2 bytes
  EXPECT_EQ(decode_error(hex("b0 03 00 01 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("40 05 00 01 00 00 ff"), v5), malformed);
  EXPECT_EQ(decode_error(hex("20 04 00 00 00 ff"), v5), malformed);
}

// -- CONNECT (3.1.1 §3.1, MQTT 5 §3.1) ----------------------------------------------------------

TEST(malformed, connect_unknown_protocol_name_mqtt_3_1_2_1) {
  EXPECT_EQ(decode_error(hex("10 0c 00 04 4d 51 54 58 04 02 00 3c 00 00"), v311), protocol_error);
  EXPECT_EQ(decode_error(hex("10 0c 00 04 6d 71 74 74 04 02 00 3c 00 00"), v311), protocol_error);
}

TEST(malformed, connect_unsupported_protocol_level) {
  const auto unsupported = reason_code::unsupported_protocol_version;
  EXPECT_EQ(decode_error(hex("10 0c 00 04 4d 51 54 54 06 02 00 3c 00 00"), v311), unsupported);
  EXPECT_EQ(decode_error(hex("10 0c 00 04 4d 51 54 54 03 02 00 3c 00 00"), v311), unsupported);
  EXPECT_EQ(decode_error(hex("10 0e 00 06 4d 51 49 73 64 70 04 02 00 3c 00 00"), v311),
            unsupported);
}

TEST(malformed, connect_reserved_flag_mqtt_3_1_2_3) {
  EXPECT_EQ(decode_error(hex("10 0c 00 04 4d 51 54 54 04 03 00 3c 00 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("10 0d 00 04 4d 51 54 54 05 01 00 3c 00 00 00"), v5), malformed);
}

TEST(malformed, connect_will_qos_without_will_flag_mqtt_3_1_2_11) {
  EXPECT_EQ(decode_error(hex("10 0c 00 04 4d 51 54 54 04 0a 00 3c 00 00"), v311), malformed);
}

TEST(malformed, connect_will_retain_without_will_flag_mqtt_3_1_2_13) {
  EXPECT_EQ(decode_error(hex("10 0c 00 04 4d 51 54 54 04 22 00 3c 00 00"), v311), malformed);
}

TEST(malformed, connect_will_qos_3_mqtt_3_1_2_12) {
  EXPECT_EQ(decode_error(hex("10 12 00 04 4d 51 54 54 04 1e 00 3c 00 00 00 01 74 00 01 78"), v311),
            malformed);
}

TEST(malformed, connect_v311_password_without_user_name_mqtt_3_1_2_22) {
  EXPECT_EQ(decode_error(hex("10 0f 00 04 4d 51 54 54 04 42 00 3c 00 00 00 01 70"), v311),
            malformed);
  EXPECT_EQ(decode_error(hex("10 11 00 06 4d 51 49 73 64 70 03 42 00 3c 00 00 00 01 70"), v31),
            malformed);
  // MQTT 5 allows it (§3.1.2.9).
  const packet p = decode_ok(hex("10 10 00 04 4d 51 54 54 05 42 00 3c 00 00 00 00 01 70"), v5);
  EXPECT_EQ(std::get<connect>(p).password, "p");
  EXPECT_FALSE(std::get<connect>(p).username);
}

TEST(malformed, connect_truncated) {
  EXPECT_EQ(decode_error(hex("10 08 00 04 4d 51 54 54 04 02"), v311), malformed); // no keep alive
  EXPECT_EQ(decode_error(hex("10 0a 00 04 4d 51 54 54 04 02 00 3c"), v311), malformed); // no id
  EXPECT_EQ(decode_error(hex("10 03 00 04 4d"), v311), malformed);                      // cut name
  // Will flag set but no will topic / payload.
  EXPECT_EQ(decode_error(hex("10 0c 00 04 4d 51 54 54 04 06 00 3c 00 00"), v311), malformed);
  // User name flag set but no user name.
  EXPECT_EQ(decode_error(hex("10 0c 00 04 4d 51 54 54 04 82 00 3c 00 00"), v311), malformed);
  // v5 without a Property Length.
  EXPECT_EQ(decode_error(hex("10 0a 00 04 4d 51 54 54 05 02 00 3c"), v5), malformed);
}

TEST(malformed, connect_strings_must_be_utf8_mqtt_3_1_3_4_and_11) {
  // client id "C0 80"
  EXPECT_EQ(decode_error(hex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 c0 80"), v311), malformed);
  // user name "ED A0 80"
  EXPECT_EQ(decode_error(hex("10 11 00 04 4d 51 54 54 04 82 00 3c 00 00 00 03 ed a0 80"), v311),
            malformed);
  // will topic with U+0000
  EXPECT_EQ(decode_error(hex("10 12 00 04 4d 51 54 54 04 06 00 3c 00 00 00 01 00 00 01 78"), v311),
            malformed);
}

TEST(malformed, connect_will_topic_must_be_a_topic_name) {
  const auto invalid = reason_code::topic_name_invalid;
  // will topic "a/#"
  EXPECT_EQ(
      decode_error(hex("10 13 00 04 4d 51 54 54 04 06 00 3c 00 00 00 03 61 2f 23 00 00"), v311),
      invalid);
  // will topic "+"
  EXPECT_EQ(decode_error(hex("10 13 00 04 4d 51 54 54 05 06 00 3c 00 00 00 00 00 01 2b 00 00"), v5),
            invalid);
  // empty will topic (MQTT-4.7.3-1)
  EXPECT_EQ(decode_error(hex("10 10 00 04 4d 51 54 54 04 06 00 3c 00 00 00 00 00 00"), v311),
            invalid);
}

TEST(malformed, connect_password_is_binary) {
  // Binary data is not UTF-8 checked: "C0 80 00" is a legal password.
  const packet p =
      decode_ok(hex("10 14 00 04 4d 51 54 54 04 c2 00 3c 00 00 00 01 75 00 03 c0 80 00"), v311);
  EXPECT_EQ(std::get<connect>(p).password, std::string("\xc0\x80\x00", 3));
}

// -- MQTT 5 properties (§2.2.2) -----------------------------------------------------------------

TEST(malformed, property_unknown_identifier) {
  EXPECT_EQ(decode_error(publish_v5_with("05 00"), v5), malformed);
  EXPECT_EQ(decode_error(publish_v5_with("00 00"), v5), malformed);
  EXPECT_EQ(decode_error(publish_v5_with("2b 00"), v5), malformed);
  EXPECT_EQ(decode_error(publish_v5_with("81 01 00"), v5), malformed); // two-byte identifier
}

TEST(malformed, property_not_allowed_in_packet) {
  EXPECT_EQ(decode_error(publish_v5_with("11 00 00 00 01"), v5), protocol_error); // session expiry
  EXPECT_EQ(decode_error(publish_v5_with("1f 00 01 78"), v5), protocol_error);    // reason string
  EXPECT_EQ(decode_error(connect_v5_with("18 00 00 00 01"), v5), protocol_error); // will delay
  EXPECT_EQ(decode_error(connect_v5_with("23 00 01"), v5), protocol_error);       // topic alias
  EXPECT_EQ(decode_error(connack_v5_with("17 01"), v5), protocol_error); // request problem info
  EXPECT_EQ(decode_error(hex("40 07 00 01 00 03 23 00 01"), v5), protocol_error);
  EXPECT_EQ(decode_error(hex("e0 07 00 05 02 00 00 00 01"), v5), protocol_error);
  EXPECT_EQ(decode_error(hex("f0 07 00 05 11 00 00 00 01"), v5), protocol_error);
  // Will Properties: session expiry belongs to CONNECT, not to the will.
  EXPECT_EQ(decode_error(hex("10 18 00 04 4d 51 54 54 05 06 00 3c 00 00 00"
                             "05 11 00 00 00 01 00 01 74 00 00"),
                         v5),
            protocol_error);
}

TEST(malformed, property_repeated) {
  EXPECT_EQ(decode_error(publish_v5_with("02 00 00 00 01 02 00 00 00 02"), v5), protocol_error);
  EXPECT_EQ(decode_error(publish_v5_with("23 00 01 23 00 01"), v5), protocol_error);
  EXPECT_EQ(decode_error(connect_v5_with("21 00 01 21 00 02"), v5), protocol_error);
  // MQTT 5 §3.8.2.1.2: at most one Subscription Identifier in SUBSCRIBE.
  EXPECT_EQ(decode_error(frame(0x82, "00 01 04 0b 01 0b 02 00 01 61 00"), v5), protocol_error);
}

TEST(malformed, property_repeatable_ones_are_fine) {
  const packet p =
      decode_ok(publish_v5_with("0b 01 0b 02 26 00 01 6b 00 00 26 00 01 6b 00 00"), v5);
  const auto& pub = std::get<publish>(p);
  EXPECT_EQ(pub.props.subscription_identifiers, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(pub.props.user_properties.size(), 2u);
}

TEST(malformed, property_byte_values_must_be_0_or_1) {
  EXPECT_EQ(decode_error(publish_v5_with("01 02"), v5), protocol_error); // payload format
  EXPECT_EQ(decode_error(connect_v5_with("17 02"), v5), protocol_error); // request problem info
  EXPECT_EQ(decode_error(connect_v5_with("19 02"), v5), protocol_error); // request response info
  EXPECT_EQ(decode_error(connack_v5_with("24 02"), v5), protocol_error); // maximum QoS
  EXPECT_EQ(decode_error(connack_v5_with("25 02"), v5), protocol_error); // retain available
  EXPECT_EQ(decode_error(connack_v5_with("28 02"), v5), protocol_error); // wildcard available
  EXPECT_EQ(decode_error(connack_v5_with("29 02"), v5), protocol_error); // sub. id available
  EXPECT_EQ(decode_error(connack_v5_with("2a 02"), v5), protocol_error); // shared available
}

TEST(malformed, property_zero_values) {
  EXPECT_EQ(decode_error(connect_v5_with("21 00 00"), v5), protocol_error);       // receive max
  EXPECT_EQ(decode_error(connect_v5_with("27 00 00 00 00"), v5), protocol_error); // max packet
  EXPECT_EQ(decode_error(connack_v5_with("21 00 00"), v5), protocol_error);
  // Topic Alias 0 decodes; the session rejects it with 0x94 (it knows the alias maximum).
  EXPECT_EQ(std::get<publish>(decode_ok(publish_v5_with("23 00 00"), v5)).props.topic_alias, 0);
  EXPECT_EQ(decode_error(publish_v5_with("0b 00"), v5), protocol_error);    // sub. id
  EXPECT_EQ(decode_error(frame(0x82, "00 01 02 0b 00 00 01 61 00"), v5), protocol_error);
  // Topic Alias Maximum 0 is legal (it means "no aliases").
  EXPECT_EQ(std::get<connect>(decode_ok(connect_v5_with("22 00 00"), v5)).props.topic_alias_maximum,
            0);
}

TEST(malformed, property_length_beyond_the_body) {
  EXPECT_EQ(decode_error(frame(0x30, "00 01 74 05 01 00"), v5), malformed);
  EXPECT_EQ(decode_error(frame(0x30, "00 01 74 ff ff ff ff 7f"), v5), malformed); // 5-byte varint
  EXPECT_EQ(decode_error(frame(0x30, "00 01 74 80 00"), v5), malformed);          // not minimal
}

TEST(malformed, property_value_beyond_the_property_block) {
  EXPECT_EQ(decode_error(publish_v5_with("02 00 00"), v5), malformed);    // 4-byte integer cut
  EXPECT_EQ(decode_error(publish_v5_with("23 00"), v5), malformed);       // 2-byte integer cut
  EXPECT_EQ(decode_error(publish_v5_with("01"), v5), malformed);          // byte missing
  EXPECT_EQ(decode_error(publish_v5_with("03 00 05 61"), v5), malformed); // string cut
  EXPECT_EQ(decode_error(publish_v5_with("26 00 01 6b"), v5), malformed); // pair cut
  EXPECT_EQ(decode_error(publish_v5_with("0b 80"), v5), malformed);       // varint cut
  // The block ends in the middle of a value even though the body continues.
  EXPECT_EQ(decode_error(frame(0x30, "00 01 74 02 23 00 01 68 69"), v5), malformed);
}

TEST(malformed, property_strings_must_be_utf8) {
  EXPECT_EQ(decode_error(publish_v5_with("03 00 02 c0 80"), v5), malformed);    // content type
  EXPECT_EQ(decode_error(publish_v5_with("26 00 01 00 00 00"), v5), malformed); // user key
  // Correlation data is binary.
  EXPECT_EQ(
      std::get<publish>(decode_ok(publish_v5_with("09 00 02 c0 80"), v5)).props.correlation_data,
      std::string("\xc0\x80"));
}

// -- PUBLISH (3.1.1 §3.3, MQTT 5 §3.3) ----------------------------------------------------------

TEST(malformed, publish_topic_with_wildcards_mqtt_3_3_2_2) {
  const auto invalid = reason_code::topic_name_invalid;
  EXPECT_EQ(decode_error(frame(0x30, "00 03 61 2f 2b"), v311), invalid);
  EXPECT_EQ(decode_error(frame(0x30, "00 01 23"), v311), invalid);
  EXPECT_EQ(decode_error(frame(0x30, "00 03 61 2f 23 00"), v5), invalid);
  EXPECT_EQ(decode_error(frame(0x32, "00 02 61 2b 00 01"), v31), invalid);
}

TEST(malformed, publish_empty_topic) {
  // 3.1.1: a Topic Name has at least one character (MQTT-4.7.3-1).
  EXPECT_EQ(decode_error(frame(0x30, "00 00 68 69"), v311), malformed);
  // MQTT 5 §3.3.2.1: only with a Topic Alias.
  EXPECT_EQ(decode_error(frame(0x30, "00 00 00 68 69"), v5), protocol_error);
  EXPECT_EQ(
      std::get<publish>(decode_ok(frame(0x30, "00 00 03 23 00 05 68 69"), v5)).props.topic_alias,
      5);
}

TEST(malformed, publish_packet_id_zero_mqtt_2_3_1_1) {
  EXPECT_EQ(decode_error(frame(0x32, "00 01 74 00 00"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0x34, "00 01 74 00 00 00"), v5), malformed);
}

TEST(malformed, publish_packet_id_missing) {
  EXPECT_EQ(decode_error(frame(0x32, "00 01 74 00"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0x32, "00 01 74"), v311), malformed);
}

TEST(malformed, publish_v5_needs_property_length) {
  EXPECT_EQ(decode_error(frame(0x30, "00 01 74"), v5), malformed);
}

// -- PUBACK, PUBREC, PUBREL, PUBCOMP ------------------------------------------------------------

TEST(malformed, ack_packet_id_zero_mqtt_2_3_1_1) {
  EXPECT_EQ(decode_error(hex("40 02 00 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("50 02 00 00"), v5), malformed);
  EXPECT_EQ(decode_error(hex("62 02 00 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("70 03 00 00 00"), v5), malformed);
}

TEST(malformed, ack_wrong_length_v311) {
  EXPECT_EQ(decode_error(hex("40 01 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("70 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("70 00"), v5), malformed);
  EXPECT_EQ(decode_error(hex("62 03 00 01 00"), v311), malformed);
}

TEST(malformed, ack_reason_code_not_valid_for_the_packet) {
  // PUBACK/PUBREC: 0x00 0x10 0x80 0x83 0x87 0x90 0x91 0x97 0x99 (MQTT 5 §3.4.2.1, §3.5.2.1).
  EXPECT_EQ(decode_error(hex("40 03 00 01 92"), v5), protocol_error);
  EXPECT_EQ(decode_error(hex("50 03 00 01 01"), v5), protocol_error);
  // PUBREL/PUBCOMP: 0x00 0x92 (§3.6.2.1, §3.7.2.1).
  EXPECT_EQ(decode_error(hex("62 03 00 01 10"), v5), protocol_error);
  EXPECT_EQ(decode_error(hex("70 03 00 01 80"), v5), protocol_error);
  for (const unsigned c : {0x00u, 0x10u, 0x80u, 0x83u, 0x87u, 0x90u, 0x91u, 0x97u, 0x99u}) {
    const bytes b{0x50, 0x03, 0x00, 0x01, static_cast<std::uint8_t>(c)};
    EXPECT_EQ(std::get<pubrec>(decode_ok(b, v5)).code, static_cast<reason_code>(c));
  }
}

// -- SUBSCRIBE (3.1.1 §3.8, MQTT 5 §3.8) --------------------------------------------------------

TEST(malformed, subscribe_packet_id_zero_mqtt_2_3_1_1) {
  EXPECT_EQ(decode_error(frame(0x82, "00 00 00 01 61 00"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0x82, "00 00 00 00 01 61 00"), v5), malformed);
}

TEST(malformed, subscribe_without_filters_mqtt_3_8_3_3) {
  EXPECT_EQ(decode_error(frame(0x82, "00 01"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0x82, "00 01 00"), v5), protocol_error);
}

TEST(malformed, subscribe_v311_reserved_option_bits_mqtt_3_8_3_4) {
  EXPECT_EQ(decode_error(frame(0x82, "00 01 00 01 61 04"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0x82, "00 01 00 01 61 80"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0x82, "00 01 00 01 61 03"), v311), malformed); // QoS 3
}

TEST(malformed, subscribe_v5_options_mqtt_3_8_3_5) {
  EXPECT_EQ(decode_error(frame(0x82, "00 01 00 00 01 61 03"), v5), malformed); // QoS 3
  EXPECT_EQ(decode_error(frame(0x82, "00 01 00 00 01 61 30"), v5), malformed); // retain handling 3
  EXPECT_EQ(decode_error(frame(0x82, "00 01 00 00 01 61 40"), v5), malformed); // bit 6
  EXPECT_EQ(decode_error(frame(0x82, "00 01 00 00 01 61 80"), v5), malformed); // bit 7
}

TEST(malformed, subscribe_truncated_entry) {
  EXPECT_EQ(decode_error(frame(0x82, "00 01 00 01 61"), v311), malformed); // no options byte
  EXPECT_EQ(decode_error(frame(0x82, "00 01 00 01 61 00 00"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0x82, "00 01 00 02 c0 80 00"), v311), malformed); // bad UTF-8
}

TEST(malformed, subscribe_filter_wildcards_are_not_checked_by_the_decoder) {
  // The broker answers a bad filter with a SUBACK failure for that subscription.
  const packet p = decode_ok(frame(0x82, "00 01 00 02 61 23 00 00 00 01"), v311);
  const auto& s = std::get<subscribe>(p);
  ASSERT_EQ(s.subscriptions.size(), 2u);
  EXPECT_EQ(s.subscriptions[0].topic_filter, "a#");
  EXPECT_EQ(s.subscriptions[1].topic_filter, "");
  EXPECT_EQ(s.subscriptions[1].options.max_qos, 1);
}

// -- UNSUBSCRIBE, SUBACK, UNSUBACK --------------------------------------------------------------

TEST(malformed, unsubscribe_packet_id_zero) {
  EXPECT_EQ(decode_error(frame(0xa2, "00 00 00 01 61"), v311), malformed);
}

TEST(malformed, unsubscribe_without_filters_mqtt_3_10_3_2) {
  EXPECT_EQ(decode_error(frame(0xa2, "00 01"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0xa2, "00 01 00"), v5), protocol_error);
}

TEST(malformed, unsubscribe_truncated_filter) {
  EXPECT_EQ(decode_error(frame(0xa2, "00 01 00 01 61 00"), v311), malformed);
  EXPECT_EQ(decode_error(frame(0xa2, "00 01 00 03 61"), v311), malformed);
}

TEST(malformed, suback_codes) {
  EXPECT_EQ(decode_error(hex("90 03 00 01 03"), v311), malformed);
  EXPECT_EQ(decode_error(hex("90 03 00 01 87"), v311), malformed); // not a 3.1.1 code
  EXPECT_EQ(decode_error(hex("90 02 00 01"), v311), malformed);    // no codes
  EXPECT_EQ(decode_error(hex("90 04 00 01 00 03"), v5), protocol_error);
  EXPECT_EQ(decode_error(hex("90 03 00 01 00"), v5), protocol_error); // no codes
  EXPECT_EQ(decode_error(hex("90 02 00 00"), v311), malformed);       // packet id 0
}

TEST(malformed, unsuback) {
  EXPECT_EQ(decode_error(hex("b0 02 00 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("b0 04 00 01 00 01"), v5), protocol_error); // not an UNSUBACK code
  EXPECT_EQ(decode_error(hex("b0 03 00 01 00"), v5), protocol_error);    // no codes
}

// -- CONNACK, PINGREQ, PINGRESP, DISCONNECT, AUTH -----------------------------------------------

TEST(malformed, connack_acknowledge_flags_mqtt_3_2_2_1) {
  EXPECT_EQ(decode_error(hex("20 02 02 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("20 03 80 00 00"), v5), malformed);
}

TEST(malformed, connack_return_code) {
  EXPECT_EQ(decode_error(hex("20 02 00 06"), v311), malformed);
  EXPECT_EQ(decode_error(hex("20 02 00 80"), v311), malformed);
  EXPECT_EQ(decode_error(hex("20 03 00 10 00"), v5), protocol_error);
  EXPECT_EQ(decode_error(hex("20 01 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("20 02 00 00"), v5), malformed); // v5 needs a Property Length
}

TEST(malformed, ping_with_body) {
  EXPECT_EQ(decode_error(hex("c0 01 00"), v311), malformed);
  EXPECT_EQ(decode_error(hex("d0 01 00"), v5), malformed);
}

TEST(malformed, disconnect) {
  EXPECT_EQ(decode_error(hex("e0 01 00"), v311), malformed); // 3.1.1 §3.14: empty
  EXPECT_EQ(decode_error(hex("e0 01 01"), v5), protocol_error);
  EXPECT_EQ(decode_error(hex("e0 03 00 00 00"), v5), malformed);
  EXPECT_EQ(decode_error(hex("e0 02 00 05"), v5), malformed); // property length beyond body
}

TEST(malformed, auth) {
  // Packet type 15 is reserved before MQTT 5.
  EXPECT_EQ(decode_error(hex("f0 00"), v311), protocol_error);
  EXPECT_EQ(decode_error(hex("f0 00"), v31), protocol_error);
  EXPECT_EQ(decode_error(hex("f0 01 04"), v5), protocol_error);
  EXPECT_EQ(decode_error(hex("f0 03 18 00 00"), v5), malformed);
}

// -- nothing on the data path throws ------------------------------------------------------------

TEST(malformed, every_truncation_of_a_valid_body_fails_cleanly) {
  // Shrink the Remaining Length of a full-featured v5 CONNECT one byte at a time.
  const bytes good = hex("10 29 00 04 4d 51 54 54 05 06 00 3c 0f 11 00 00 00 3c 21 00 0a 26 00 01"
                         "6b 00 01 76 00 01 63 05 18 00 00 00 05 00 01 77 00 01 78");
  ASSERT_EQ(decode_one(good, v5).status, decode_status::packet);
  for (std::size_t n = 0; n + 2 < good.size(); ++n) {
    bytes cut(good.begin(), good.begin() + 2 + static_cast<std::ptrdiff_t>(n));
    cut[1] = static_cast<std::uint8_t>(n);
    const auto r = decode_one(cut, v5);
    EXPECT_EQ(r.status, decode_status::error) << n;
  }
}

} // namespace
