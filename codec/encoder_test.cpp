// Encoder: encode -> decode round trips for every packet in every version it exists in and for
// every property in every packet that allows it; encoded_size() exactness; 3.1.x down-mapping.
#include "codec_test_util.hpp"

using namespace colony::codec;
using namespace colony::codec::test;

namespace {

constexpr auto v31 = protocol_version::v3_1;
constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;
constexpr protocol_version all_versions[] = {v31, v311, v5};

// -- helpers ------------------------------------------------------------------------------------

/// Sets `id` in `p` to a legal, non-default value.
void set_sample(properties& p, property_id id) {
  using pid = property_id;
  switch (id) {
  case pid::payload_format_indicator:
    p.payload_format_indicator = 1;
    break;
  case pid::message_expiry_interval:
    p.message_expiry_interval = 3600;
    break;
  case pid::content_type:
    p.content_type = "text/plain; charset=utf-8";
    break;
  case pid::response_topic:
    p.response_topic = "reply/to/me";
    break;
  case pid::correlation_data:
    p.correlation_data = std::string("\x00\x01\xff", 3);
    break;
  case pid::subscription_identifier:
    p.subscription_identifiers = {268'435'455};
    break;
  case pid::session_expiry_interval:
    p.session_expiry_interval = 0xFFFFFFFF;
    break;
  case pid::assigned_client_identifier:
    p.assigned_client_identifier = "auto-4711";
    break;
  case pid::server_keep_alive:
    p.server_keep_alive = 30;
    break;
  case pid::authentication_method:
    p.authentication_method = "SCRAM-SHA-256";
    break;
  case pid::authentication_data:
    p.authentication_data = std::string("\x00\x80", 2);
    break;
  case pid::request_problem_information:
    p.request_problem_information = 0;
    break;
  case pid::will_delay_interval:
    p.will_delay_interval = 10;
    break;
  case pid::request_response_information:
    p.request_response_information = 1;
    break;
  case pid::response_information:
    p.response_information = "resp/prefix";
    break;
  case pid::server_reference:
    p.server_reference = "other.example:1883";
    break;
  case pid::reason_string:
    p.reason_string = "because \xc3\xa9";
    break;
  case pid::receive_maximum:
    p.receive_maximum = 65535;
    break;
  case pid::topic_alias_maximum:
    p.topic_alias_maximum = 0;
    break;
  case pid::topic_alias:
    p.topic_alias = 7;
    break;
  case pid::maximum_qos:
    p.maximum_qos = 0;
    break;
  case pid::retain_available:
    p.retain_available = 1;
    break;
  case pid::user_property:
    p.user_properties = {{"a", "1"}, {"a", "2"}, {"", ""}};
    break;
  case pid::maximum_packet_size:
    p.maximum_packet_size = 1024;
    break;
  case pid::wildcard_subscription_available:
    p.wildcard_subscription_available = 0;
    break;
  case pid::subscription_identifier_available:
    p.subscription_identifier_available = 1;
    break;
  case pid::shared_subscription_available:
    p.shared_subscription_available = 0;
    break;
  }
}

/// A valid v5 packet whose property list for `ctx` is `props`.
packet packet_with(property_context ctx, const properties& props) {
  using pc = property_context;
  switch (ctx) {
  case pc::connect: {
    connect c{.version = v5, .client_id = "c"};
    c.props = props;
    return c;
  }
  case pc::will: {
    connect c{.version = v5, .client_id = "c"};
    c.will_message = will{.qos = 2, .retain = true, .topic = "w", .payload = "x", .props = props};
    return c;
  }
  case pc::connack:
    return connack{.props = props};
  case pc::publish:
    return publish{.qos = 1, .topic = "t", .packet_id = 1, .props = props, .payload = "p"};
  case pc::puback:
    return puback{.packet_id = 1, .props = props};
  case pc::pubrec:
    return pubrec{.packet_id = 1, .props = props};
  case pc::pubrel:
    return pubrel{.packet_id = 1, .props = props};
  case pc::pubcomp:
    return pubcomp{.packet_id = 1, .props = props};
  case pc::subscribe:
    return subscribe{.packet_id = 1, .props = props, .subscriptions = {{"a/#", {}}}};
  case pc::suback:
    return suback{.packet_id = 1, .props = props, .codes = {reason_code::success}};
  case pc::unsubscribe:
    return unsubscribe{.packet_id = 1, .props = props, .topic_filters = {"a"}};
  case pc::unsuback:
    return unsuback{.packet_id = 1, .props = props, .codes = {reason_code::success}};
  case pc::disconnect:
    return disconnect{.props = props};
  case pc::auth:
    return auth{.code = reason_code::continue_authentication, .props = props};
  }
  return pingreq{};
}

std::vector<property_id> all_property_ids() {
  std::vector<property_id> ids;
  for (unsigned raw = 0; raw < 256; ++raw) {
    if (type_of(static_cast<std::uint8_t>(raw))) {
      ids.push_back(static_cast<property_id>(raw));
    }
  }
  return ids;
}

// -- round trips --------------------------------------------------------------------------------

TEST(round_trip, connect_every_version) {
  for (const auto v : all_versions) {
    SCOPED_TRACE(static_cast<int>(v));
    connect c;
    c.version = v;
    c.clean_start = false;
    c.keep_alive = 65535;
    c.client_id = "client-\xc3\xa9";
    expect_round_trip(c, v);
    c.will_message =
        will{.qos = 1, .retain = true, .topic = "last/will", .payload = std::string(300, 'w')};
    expect_round_trip(c, v);
    c.username = "user";
    expect_round_trip(c, v);
    c.password = std::string("\x00\x01\x02", 3);
    expect_round_trip(c, v);
    c.will_message->qos = 2;
    c.will_message->retain = false;
    c.clean_start = true;
    expect_round_trip(c, v);
  }
  // MQTT 5 only: password without user name, properties.
  connect c{.version = v5, .client_id = ""};
  c.password = "pw";
  c.props.session_expiry_interval = 10;
  c.props.user_properties = {{"k", "v"}};
  expect_round_trip(c, v5);
}

TEST(round_trip, connack_every_version) {
  for (const auto v : {v31, v311}) {
    for (const auto code :
         {reason_code::success, reason_code::unsupported_protocol_version,
          reason_code::client_identifier_not_valid, reason_code::server_unavailable,
          reason_code::bad_user_name_or_password, reason_code::not_authorized}) {
      expect_round_trip(connack{.session_present = code == reason_code::success, .code = code}, v);
    }
  }
  connack c{.session_present = true};
  c.props.maximum_qos = 1;
  c.props.assigned_client_identifier = "x";
  expect_round_trip(c, v5);
  expect_round_trip(connack{.code = reason_code::banned}, v5);
}

TEST(round_trip, publish_every_version) {
  for (const auto v : all_versions) {
    SCOPED_TRACE(static_cast<int>(v));
    for (std::uint8_t qos = 0; qos <= 2; ++qos) {
      publish p{.qos = qos,
                .retain = qos == 1,
                .topic = "a/b/c",
                .packet_id = static_cast<std::uint16_t>(qos ? 1000 + qos : 0),
                .payload = "payload"};
      expect_round_trip(p, v);
      p.dup = qos > 0;
      p.payload.clear();
      expect_round_trip(p, v);
    }
  }
  publish p{.qos = 1, .topic = "t", .packet_id = 9};
  p.props.subscription_identifiers = {1, 127, 128, 16383, 16384, 268'435'455};
  p.props.user_properties = {{"z", "1"}, {"a", "2"}, {"z", "3"}};
  p.props.payload_format_indicator = 1;
  expect_round_trip(p, v5);
}

TEST(round_trip, publish_remaining_length_sizes) {
  // 1, 2, 3 and 4 byte Remaining Lengths (MQTT 5 §1.5.5).
  for (const std::size_t n :
       {std::size_t{0}, std::size_t{200}, std::size_t{20'000}, std::size_t{2'100'000}}) {
    publish p{.topic = "big", .payload = std::string(n, 'x')};
    for (const auto v : {v311, v5}) {
      const bytes b = encode_bytes(p, v);
      EXPECT_EQ(decode_ok(b, v), packet(p)) << n;
    }
  }
}

TEST(round_trip, pub_acks_every_version) {
  for (const auto v : all_versions) {
    expect_round_trip(puback{.packet_id = 1}, v);
    expect_round_trip(pubrec{.packet_id = 0xFFFF}, v);
    expect_round_trip(pubrel{.packet_id = 2}, v);
    expect_round_trip(pubcomp{.packet_id = 3}, v);
  }
  expect_round_trip(puback{.packet_id = 1, .code = reason_code::quota_exceeded}, v5);
  expect_round_trip(pubrec{.packet_id = 1, .code = reason_code::payload_format_invalid}, v5);
  expect_round_trip(pubrel{.packet_id = 1, .code = reason_code::packet_identifier_not_found}, v5);
  expect_round_trip(pubcomp{.packet_id = 1, .code = reason_code::packet_identifier_not_found}, v5);
  puback a{.packet_id = 5};
  a.props.reason_string = "ok"; // Success with properties: the code must be written
  expect_round_trip(a, v5);
}

TEST(round_trip, subscribe_every_version) {
  for (const auto v : all_versions) {
    subscribe s{.packet_id = 42};
    s.subscriptions = {
        {"a/+/c", {.max_qos = 0}}, {"#", {.max_qos = 1}}, {"$share/g/x", {.max_qos = 2}}};
    expect_round_trip(s, v);
  }
  subscribe s{.packet_id = 42};
  s.props.subscription_identifiers = {99};
  for (std::uint8_t rh = 0; rh <= 2; ++rh) {
    s.subscriptions.push_back({"f" + std::to_string(rh),
                               {.max_qos = rh,
                                .no_local = rh == 1,
                                .retain_as_published = rh != 1,
                                .retain_handling = rh}});
  }
  expect_round_trip(s, v5);
}

TEST(round_trip, suback_every_version) {
  for (const auto v : all_versions) {
    expect_round_trip(suback{.packet_id = 1,
                             .codes = {reason_code::granted_qos_2, reason_code::unspecified_error,
                                       reason_code::success}},
                      v);
  }
  suback s{.packet_id = 1,
           .codes = {reason_code::shared_subscriptions_not_supported,
                     reason_code::wildcard_subscriptions_not_supported,
                     reason_code::granted_qos_1}};
  s.props.reason_string = "r";
  expect_round_trip(s, v5);
}

TEST(round_trip, unsubscribe_and_unsuback_every_version) {
  for (const auto v : all_versions) {
    expect_round_trip(unsubscribe{.packet_id = 7, .topic_filters = {"a", "b/#", ""}}, v);
  }
  for (const auto v : {v31, v311}) {
    expect_round_trip(unsuback{.packet_id = 7}, v);
  }
  expect_round_trip(unsuback{.packet_id = 7,
                             .codes = {reason_code::success, reason_code::no_subscription_existed,
                                       reason_code::not_authorized}},
                    v5);
}

TEST(round_trip, ping_disconnect_auth) {
  for (const auto v : all_versions) {
    expect_round_trip(pingreq{}, v);
    expect_round_trip(pingresp{}, v);
    expect_round_trip(disconnect{}, v);
  }
  expect_round_trip(disconnect{.code = reason_code::server_shutting_down}, v5);
  disconnect d{.code = reason_code::use_another_server};
  d.props.server_reference = "elsewhere";
  expect_round_trip(d, v5);
  expect_round_trip(auth{}, v5);
  expect_round_trip(auth{.code = reason_code::re_authenticate}, v5);
}

TEST(round_trip, every_property_in_every_packet_that_allows_it) {
  int checked = 0;
  for (const property_id id : all_property_ids()) {
    for (unsigned c = 0; c <= static_cast<unsigned>(property_context::auth); ++c) {
      const auto ctx = static_cast<property_context>(c);
      if (!is_allowed(id, ctx)) {
        continue;
      }
      SCOPED_TRACE("property 0x" + std::to_string(static_cast<unsigned>(id)) + " context " +
                   std::to_string(c));
      properties props;
      set_sample(props, id);
      expect_round_trip(packet_with(ctx, props), v5);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 64); // the number of ticks in the §2.2.2.2 table, Will Properties included
}

TEST(round_trip, all_allowed_properties_together) {
  for (unsigned c = 0; c <= static_cast<unsigned>(property_context::auth); ++c) {
    const auto ctx = static_cast<property_context>(c);
    properties props;
    for (const property_id id : all_property_ids()) {
      if (is_allowed(id, ctx)) {
        set_sample(props, id);
      }
    }
    if (ctx == property_context::publish) {
      props.subscription_identifiers = {1, 2, 3};
    }
    SCOPED_TRACE("context " + std::to_string(c));
    expect_round_trip(packet_with(ctx, props), v5);
  }
}

TEST(round_trip, every_property_is_refused_where_it_is_not_allowed) {
  for (const property_id id : all_property_ids()) {
    for (unsigned c = 0; c <= static_cast<unsigned>(property_context::auth); ++c) {
      const auto ctx = static_cast<property_context>(c);
      if (is_allowed(id, ctx)) {
        continue;
      }
      properties props;
      set_sample(props, id);
      // The encoder writes whatever it is given; the decoder enforces the table.
      EXPECT_EQ(decode_error(encode_bytes(packet_with(ctx, props), v5), v5),
                reason_code::protocol_error)
          << "property 0x" << std::hex << static_cast<unsigned>(id) << " context " << std::dec << c;
    }
  }
}

// -- encoding details ---------------------------------------------------------------------------

TEST(encoder, varint_spec_table) {
  // MQTT 5 §1.5.5 Table 1-1 boundaries.
  const std::pair<std::uint32_t, const char*> table[] = {
      {0, "00"},
      {127, "7f"},
      {128, "80 01"},
      {16'383, "ff 7f"},
      {16'384, "80 80 01"},
      {2'097'151, "ff ff 7f"},
      {2'097'152, "80 80 80 01"},
      {268'435'455, "ff ff ff 7f"},
  };
  for (const auto& [value, expected] : table) {
    bytes b;
    encode_varint(value, b);
    EXPECT_EQ(to_hex(b), to_hex(hex(expected))) << value;
    EXPECT_EQ(varint_size(value), b.size()) << value;
  }
}

TEST(encoder, properties_size_matches_the_property_length) {
  properties p;
  EXPECT_EQ(properties_size(p), 0u);
  p.topic_alias = 1;                     // 1 + 2
  p.subscription_identifiers = {1, 200}; // (1 + 1) + (1 + 2)
  p.user_properties = {{"ab", "c"}};     // 1 + 4 + 3
  p.content_type = "json";               // 1 + 6
  EXPECT_EQ(properties_size(p), 3u + 5u + 8u + 7u);
}

TEST(encoder, properties_in_identifier_order_user_properties_in_their_order) {
  publish p{.topic = "t"};
  p.props.topic_alias = 1;                          // 0x23
  p.props.user_properties = {{"z", ""}, {"a", ""}}; // 0x26, kept as given
  p.props.payload_format_indicator = 0;             // 0x01
  p.props.subscription_identifiers = {3, 2};        // 0x0b, one per value
  EXPECT_EQ(to_hex(encode_bytes(p, v5)), to_hex(hex("30 19 00 01 74 15 01 00 0b 03 0b 02 23 00 01"
                                                    "26 00 01 7a 00 00 26 00 01 61 00 00")));
}

TEST(encoder, encode_appends) {
  bytes out{0xAA};
  encode(pingreq{}, v311, out);
  encode(puback{.packet_id = 1}, v311, out);
  EXPECT_EQ(to_hex(out), "aa c0 00 40 02 00 01");
}

TEST(encoder, many_packets_into_one_buffer) {
  bytes out;
  std::size_t expected = 0;
  for (int i = 0; i < 1000; ++i) {
    const publish p{.qos = 1,
                    .topic = "a/b",
                    .packet_id = static_cast<std::uint16_t>(i + 1),
                    .payload = std::string(static_cast<std::size_t>(i % 50), 'x')};
    expected += encoded_size(p, v5);
    encode(p, v5, out);
  }
  EXPECT_EQ(out.size(), expected);
  stream_decoder d;
  d.set_version(v5);
  std::span<const std::uint8_t> in(out);
  int n = 0;
  while (!in.empty()) {
    auto r = d.next(in);
    ASSERT_EQ(r.status, decode_status::packet);
    EXPECT_EQ(std::get<publish>(r.pkt).packet_id, n + 1);
    in = in.subspan(r.used);
    ++n;
  }
  EXPECT_EQ(n, 1000);
}

TEST(encoder, encode_publish_matches_encode) {
  properties props;
  props.message_expiry_interval = 5;
  props.user_properties = {{"k", "v"}};
  for (const auto v : all_versions) {
    const properties* const choices[] = {nullptr, &props};
    for (const properties* pp : choices) {
      bytes direct;
      encode_publish(direct, v, true, 2, true, "x/y", 77, pp, "data");
      EXPECT_EQ(direct.size(), publish_size(v, 2, "x/y", pp, "data"));
      publish p{.dup = true,
                .qos = 2,
                .retain = true,
                .topic = "x/y",
                .packet_id = 77,
                .props = pp ? *pp : properties{},
                .payload = "data"};
      EXPECT_EQ(to_hex(direct), to_hex(encode_bytes(p, v)));
    }
  }
  // Null properties in MQTT 5 still write a zero Property Length.
  bytes b;
  encode_publish(b, v5, false, 0, false, "t", 0, nullptr, "");
  EXPECT_EQ(to_hex(b), "30 04 00 01 74 00");
}

TEST(encoder, v3_drops_properties_and_reason_codes) {
  puback a{.packet_id = 1, .code = reason_code::quota_exceeded};
  a.props.reason_string = "no";
  EXPECT_EQ(to_hex(encode_bytes(a, v311)), "40 02 00 01");
  disconnect d{.code = reason_code::server_shutting_down};
  d.props.reason_string = "bye";
  EXPECT_EQ(to_hex(encode_bytes(d, v311)), "e0 00");
  publish p{.topic = "t", .payload = "x"};
  p.props.message_expiry_interval = 1;
  EXPECT_EQ(to_hex(encode_bytes(p, v311)), "30 04 00 01 74 78");
  connect c{.version = v311, .client_id = "c"};
  c.props.session_expiry_interval = 5;
  c.will_message = will{.topic = "w", .payload = "", .props = {}};
  c.will_message->props.will_delay_interval = 5;
  EXPECT_EQ(to_hex(encode_bytes(c, v311)),
            to_hex(hex("10 12 00 04 4d 51 54 54 04 06 00 00 00 01 63 00 01 77 00 00")));
}

TEST(encoder, v3_connack_return_codes) {
  const std::pair<reason_code, const char*> table[] = {
      {reason_code::success, "20 02 00 00"},
      {reason_code::unsupported_protocol_version, "20 02 00 01"},
      {reason_code::client_identifier_not_valid, "20 02 00 02"},
      {reason_code::server_busy, "20 02 00 03"},
      {reason_code::bad_user_name_or_password, "20 02 00 04"},
      {reason_code::banned, "20 02 00 05"},
      {reason_code::unspecified_error, "20 02 00 05"},
  };
  for (const auto& [code, expected] : table) {
    EXPECT_EQ(to_hex(encode_bytes(connack{.code = code}, v311)), to_hex(hex(expected)));
  }
}

TEST(encoder, v3_suback_codes) {
  // 3.1.1 §3.9.3: 0x00/0x01/0x02 or 0x80.
  const suback s{.packet_id = 1,
                 .codes = {reason_code::success, reason_code::granted_qos_1,
                           reason_code::granted_qos_2, reason_code::not_authorized,
                           reason_code::topic_filter_invalid, reason_code::unspecified_error}};
  EXPECT_EQ(to_hex(encode_bytes(s, v311)), "90 08 00 01 00 01 02 80 80 80");
}

TEST(encoder, v3_unsuback_has_no_payload) {
  const unsuback u{.packet_id = 3, .codes = {reason_code::success}};
  EXPECT_EQ(to_hex(encode_bytes(u, v311)), "b0 02 00 03");
}

TEST(encoder, v5_short_forms) {
  // MQTT 5 §3.4.2.1: Remaining Length 2 for Success without properties; 3 with only a code.
  EXPECT_EQ(to_hex(encode_bytes(pubrel{.packet_id = 1}, v5)), "62 02 00 01");
  EXPECT_EQ(to_hex(encode_bytes(puback{.packet_id = 1, .code = reason_code::not_authorized}, v5)),
            "40 03 00 01 87");
  puback a{.packet_id = 1};
  a.props.user_properties = {{"", ""}};
  EXPECT_EQ(to_hex(encode_bytes(a, v5)), "40 09 00 01 00 05 26 00 00 00 00");
  // §3.14.2.1 / §3.15.2.1: Remaining Length 0 for Success without properties.
  EXPECT_EQ(to_hex(encode_bytes(disconnect{}, v5)), "e0 00");
  EXPECT_EQ(to_hex(encode_bytes(disconnect{.code = reason_code::keep_alive_timeout}, v5)),
            "e0 01 8d");
  EXPECT_EQ(to_hex(encode_bytes(auth{}, v5)), "f0 00");
  EXPECT_EQ(to_hex(encode_bytes(auth{.code = reason_code::re_authenticate}, v5)), "f0 01 19");
}

TEST(encoder, encoded_size_of_every_packet_type) {
  const packet samples[] = {connect{.version = v5, .client_id = "x"},
                            connack{},
                            publish{.topic = "t"},
                            puback{.packet_id = 1},
                            pubrec{.packet_id = 1},
                            pubrel{.packet_id = 1},
                            pubcomp{.packet_id = 1},
                            subscribe{.packet_id = 1, .subscriptions = {{"a", {}}}},
                            suback{.packet_id = 1, .codes = {reason_code::success}},
                            unsubscribe{.packet_id = 1, .topic_filters = {"a"}},
                            unsuback{.packet_id = 1, .codes = {reason_code::success}},
                            pingreq{},
                            pingresp{},
                            disconnect{},
                            auth{}};
  for (const auto& p : samples) {
    for (const auto v : all_versions) {
      bytes b;
      encode(p, v, b);
      EXPECT_EQ(b.size(), encoded_size(p, v)) << to_string(type_of(p));
    }
  }
}

TEST(encoder, packet_type_names) {
  EXPECT_EQ(to_string(packet_type::connect), "CONNECT");
  EXPECT_EQ(to_string(packet_type::pubrel), "PUBREL");
  EXPECT_EQ(to_string(packet_type::auth), "AUTH");
  EXPECT_EQ(type_of(packet(unsuback{})), packet_type::unsuback);
}

} // namespace
