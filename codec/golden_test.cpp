// Golden bytes written by hand from the specifications (MQTT 3.1.1 §3, MQTT 5 §3), one or more
// per control packet: decode(golden) == expected and encode(expected) == golden.
#include "codec_test_util.hpp"

using namespace colony::codec;
using namespace colony::codec::test;

namespace {

constexpr auto v31 = protocol_version::v3_1;
constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

/// Both directions: golden bytes decode to `expected`, and `expected` encodes to the golden bytes.
void expect_golden(const char* golden_hex, const packet& expected, protocol_version v) {
  const bytes golden = hex(golden_hex);
  EXPECT_EQ(decode_ok(golden, v), expected);
  EXPECT_EQ(to_hex(encode_bytes(expected, v)), to_hex(golden));
  EXPECT_EQ(encoded_size(expected, v), golden.size());
}

// -- CONNECT ------------------------------------------------------------------------------------

TEST(golden, connect_v311_spec_example_3_1_2_10) {
  // Variable header of 3.1.1 Figure 3.6: "MQTT", level 4, flags 0xCE (user name, password,
  // will QoS 1, will flag, clean session), keep alive 10. Payload in the order of §3.1.3.
  connect c;
  c.version = v311;
  c.clean_start = true;
  c.keep_alive = 10;
  c.client_id = "cid";
  c.will_message = will{.qos = 1, .retain = false, .topic = "t", .payload = "hi", .props = {}};
  c.username = "user";
  c.password = "pw";
  expect_golden("10 20"
                "00 04 4d 51 54 54" // "MQTT"
                "04 ce 00 0a"
                "00 03 63 69 64"    // client id "cid"
                "00 01 74"          // will topic "t"
                "00 02 68 69"       // will message "hi"
                "00 04 75 73 65 72" // user name "user"
                "00 02 70 77",      // password "pw"
                c, v311);
}

TEST(golden, connect_v31_mqisdp) {
  // MQTT 3.1: protocol name "MQIsdp", level 3, clean session, keep alive 60.
  connect c;
  c.version = v31;
  c.keep_alive = 60;
  c.client_id = "c1";
  expect_golden("10 10 00 06 4d 51 49 73 64 70 03 02 00 3c 00 02 63 31", c, v31);
}

TEST(golden, connect_v5_with_properties_and_will_properties) {
  // MQTT 5 §3.1.2: properties after keep alive; will properties before the will topic (§3.1.3.2).
  connect c;
  c.version = v5;
  c.clean_start = true;
  c.keep_alive = 60;
  c.props.session_expiry_interval = 60;
  c.props.receive_maximum = 10;
  c.props.user_properties = {{"k", "v"}};
  c.client_id = "c";
  will w;
  w.topic = "w";
  w.payload = "x";
  w.props.will_delay_interval = 5;
  c.will_message = w;
  expect_golden("10 29 00 04 4d 51 54 54 05 06 00 3c"
                "0f"                   // property length 15
                "11 00 00 00 3c"       // session expiry interval 60
                "21 00 0a"             // receive maximum 10
                "26 00 01 6b 00 01 76" // user property ("k", "v")
                "00 01 63"             // client id "c"
                "05 18 00 00 00 05"    // will properties: will delay interval 5
                "00 01 77 00 01 78",   // will topic "w", will payload "x"
                c, v5);
}

TEST(golden, connect_v5_password_without_user_name) {
  // MQTT 5 §3.1.2.9 allows a password without a user name (3.1.1 does not, MQTT-3.1.2-22).
  connect c;
  c.version = v5;
  c.clean_start = false;
  c.client_id = "";
  c.password = std::string("\x00\xff", 2);
  expect_golden("10 11 00 04 4d 51 54 54 05 40 00 00 00 00 00 00 02 00 ff", c, v5);
}

// -- CONNACK ------------------------------------------------------------------------------------

TEST(golden, connack_v311) {
  expect_golden("20 02 01 00", connack{.session_present = true}, v311);
  expect_golden("20 02 00 05", connack{.code = reason_code::not_authorized}, v311);
  expect_golden("20 02 00 01", connack{.code = reason_code::unsupported_protocol_version}, v311);
}

TEST(golden, connack_v5_with_properties) {
  connack c;
  c.props.topic_alias_maximum = 16;
  c.props.maximum_qos = 1;
  c.props.retain_available = 0;
  expect_golden("20 0a 00 00 07 22 00 10 24 01 25 00", c, v5);
  expect_golden("20 03 00 84 00", connack{.code = reason_code::unsupported_protocol_version}, v5);
}

// -- PUBLISH ------------------------------------------------------------------------------------

TEST(golden, publish_qos0_v311) {
  // No packet identifier at QoS 0 (3.1.1 §3.3.2.2).
  expect_golden("30 07 00 03 61 2f 62 68 69", publish{.topic = "a/b", .payload = "hi"}, v311);
}

TEST(golden, publish_qos1_v311_spec_example) {
  // 3.1.1 §3.3.2.3 Figure 3.11: topic "a/b", packet identifier 10.
  publish p{.qos = 1, .topic = "a/b", .packet_id = 10, .payload = "hi"};
  expect_golden("32 09 00 03 61 2f 62 00 0a 68 69", p, v311);
  p.dup = true;
  p.retain = true;
  expect_golden("3b 09 00 03 61 2f 62 00 0a 68 69", p, v311);
}

TEST(golden, publish_empty_payload) {
  expect_golden("31 05 00 03 61 2f 62", publish{.retain = true, .topic = "a/b"}, v311);
}

TEST(golden, publish_qos0_v5) {
  expect_golden("30 08 00 03 61 2f 62 00 68 69", publish{.topic = "a/b", .payload = "hi"}, v5);
}

TEST(golden, publish_qos2_v5_with_properties) {
  publish p;
  p.qos = 2;
  p.retain = true;
  p.topic = "a/b";
  p.packet_id = 7;
  p.props.message_expiry_interval = 30;
  p.props.subscription_identifiers = {1, 200};
  p.props.topic_alias = 3;
  p.payload = "hi";
  expect_golden("35 17 00 03 61 2f 62 00 07"
                "0d"             // property length 13
                "02 00 00 00 1e" // message expiry interval 30
                "0b 01"          // subscription identifier 1
                "0b c8 01"       // subscription identifier 200 (Variable Byte Integer)
                "23 00 03"       // topic alias 3
                "68 69",
                p, v5);
}

TEST(golden, publish_v5_topic_alias_with_empty_topic) {
  // MQTT 5 §3.3.2.1: a zero-length topic is allowed with a Topic Alias.
  publish p;
  p.props.topic_alias = 1;
  expect_golden("30 06 00 00 03 23 00 01", p, v5);
}

// -- PUBACK, PUBREC, PUBREL, PUBCOMP ------------------------------------------------------------

TEST(golden, puback) {
  expect_golden("40 02 00 01", puback{.packet_id = 1}, v311);
  expect_golden("40 02 00 01", puback{.packet_id = 1}, v5); // Success, no properties: omitted
  expect_golden("40 03 00 01 10",
                puback{.packet_id = 1, .code = reason_code::no_matching_subscribers}, v5);
}

TEST(golden, pubrec) {
  expect_golden("50 02 ff ff", pubrec{.packet_id = 0xFFFF}, v311);
  pubrec r{.packet_id = 2, .code = reason_code::unspecified_error};
  r.props.reason_string = "x";
  expect_golden("50 08 00 02 80 04 1f 00 01 78", r, v5);
}

TEST(golden, pubrel) {
  // Fixed header flags 0010 (MQTT-3.6.1-1).
  expect_golden("62 02 00 02", pubrel{.packet_id = 2}, v311);
  expect_golden("62 03 00 02 92",
                pubrel{.packet_id = 2, .code = reason_code::packet_identifier_not_found}, v5);
}

TEST(golden, pubcomp) {
  expect_golden("70 02 00 02", pubcomp{.packet_id = 2}, v311);
  expect_golden("70 02 00 02", pubcomp{.packet_id = 2}, v5);
}

// -- SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK ---------------------------------------------------

TEST(golden, subscribe_v311_spec_example) {
  // 3.1.1 §3.8.3 Figure 3.23: "a/b" QoS 1 and "c/d" QoS 2, packet identifier 10; flags 0010.
  subscribe s{.packet_id = 10, .props = {}, .subscriptions = {}};
  s.subscriptions.push_back({"a/b", {.max_qos = 1}});
  s.subscriptions.push_back({"c/d", {.max_qos = 2}});
  expect_golden("82 0e 00 0a 00 03 61 2f 62 01 00 03 63 2f 64 02", s, v311);
}

TEST(golden, subscribe_v5_options_byte) {
  // Options 0x2e: QoS 2, No Local, Retain As Published, Retain Handling 2 (MQTT 5 §3.8.3.1).
  subscribe s;
  s.packet_id = 10;
  s.props.subscription_identifiers = {5};
  s.subscriptions.push_back(
      {"a/b", {.max_qos = 2, .no_local = true, .retain_as_published = true, .retain_handling = 2}});
  expect_golden("82 0b 00 0a 02 0b 05 00 03 61 2f 62 2e", s, v5);
}

TEST(golden, suback) {
  // 3.1.1 §3.9.3 Figure 3.26: Success QoS 0, Success QoS 2, Failure.
  suback s{
      .packet_id = 10,
      .props = {},
      .codes = {reason_code::success, reason_code::granted_qos_2, reason_code::unspecified_error}};
  expect_golden("90 05 00 0a 00 02 80", s, v311);
  suback s5{
      .packet_id = 10,
      .props = {},
      .codes = {reason_code::success, reason_code::granted_qos_1, reason_code::not_authorized}};
  expect_golden("90 06 00 0a 00 00 01 87", s5, v5);
}

TEST(golden, unsubscribe) {
  // Flags 0010 (MQTT-3.10.1-1).
  unsubscribe u{.packet_id = 11, .props = {}, .topic_filters = {"a/b", "c"}};
  expect_golden("a2 0a 00 0b 00 03 61 2f 62 00 01 63", u, v311);
  unsubscribe u5{.packet_id = 11, .props = {}, .topic_filters = {"a/b"}};
  expect_golden("a2 08 00 0b 00 00 03 61 2f 62", u5, v5);
}

TEST(golden, unsuback) {
  expect_golden("b0 02 00 0b", unsuback{.packet_id = 11}, v311);
  unsuback u5{.packet_id = 11,
              .props = {},
              .codes = {reason_code::success, reason_code::no_subscription_existed}};
  expect_golden("b0 05 00 0b 00 00 11", u5, v5);
}

// -- PINGREQ, PINGRESP, DISCONNECT, AUTH --------------------------------------------------------

TEST(golden, pingreq_pingresp) {
  for (const auto v : {v31, v311, v5}) {
    expect_golden("c0 00", pingreq{}, v);
    expect_golden("d0 00", pingresp{}, v);
  }
}

TEST(golden, disconnect) {
  expect_golden("e0 00", disconnect{}, v311);
  expect_golden("e0 00", disconnect{}, v5); // Normal disconnection, no properties (§3.14.2.1)
  expect_golden("e0 01 04", disconnect{.code = reason_code::disconnect_with_will_message}, v5);
  disconnect d{.code = reason_code::disconnect_with_will_message};
  d.props.session_expiry_interval = 0;
  expect_golden("e0 07 04 05 11 00 00 00 00", d, v5);
}

TEST(golden, auth) {
  expect_golden("f0 00", auth{}, v5);
  auth a{.code = reason_code::continue_authentication};
  a.props.authentication_method = "SCRM1";
  expect_golden("f0 0a 18 08 15 00 05 53 43 52 4d 31", a, v5);
}

// -- decoding-only forms the encoder never produces ---------------------------------------------

TEST(golden, decode_accepts_any_property_order) {
  connack c;
  c.props.topic_alias_maximum = 16;
  c.props.maximum_qos = 1;
  c.props.retain_available = 0;
  EXPECT_EQ(decode_ok(hex("20 0a 00 00 07 24 01 25 00 22 00 10"), v5), packet(c));
}

TEST(golden, decode_explicit_success_forms) {
  // MQTT 5 §3.4.2.1 / §3.14.2.1: the long forms mean the same as the short ones.
  EXPECT_EQ(decode_ok(hex("40 03 00 01 00"), v5), packet(puback{.packet_id = 1}));
  EXPECT_EQ(decode_ok(hex("40 04 00 01 00 00"), v5), packet(puback{.packet_id = 1}));
  EXPECT_EQ(decode_ok(hex("e0 01 00"), v5), packet(disconnect{}));
  EXPECT_EQ(decode_ok(hex("e0 02 00 00"), v5), packet(disconnect{}));
  EXPECT_EQ(decode_ok(hex("f0 02 00 00"), v5), packet(auth{}));
}

} // namespace
