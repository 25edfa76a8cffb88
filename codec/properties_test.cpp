// The MQTT 5 property table (§2.2.2.2): value types, allowed packets, repetition.
#include "codec/properties.hpp"

#include <gtest/gtest.h>

#include <set>
#include <utility>

using namespace colony::codec;

namespace {

using pid = property_id;
using pc = property_context;
using pt = property_type;

TEST(properties, type_of_every_defined_identifier) {
  const std::pair<pid, pt> table[] = {
      {pid::payload_format_indicator, pt::byte},
      {pid::message_expiry_interval, pt::four_byte_integer},
      {pid::content_type, pt::utf8_string},
      {pid::response_topic, pt::utf8_string},
      {pid::correlation_data, pt::binary_data},
      {pid::subscription_identifier, pt::variable_byte_integer},
      {pid::session_expiry_interval, pt::four_byte_integer},
      {pid::assigned_client_identifier, pt::utf8_string},
      {pid::server_keep_alive, pt::two_byte_integer},
      {pid::authentication_method, pt::utf8_string},
      {pid::authentication_data, pt::binary_data},
      {pid::request_problem_information, pt::byte},
      {pid::will_delay_interval, pt::four_byte_integer},
      {pid::request_response_information, pt::byte},
      {pid::response_information, pt::utf8_string},
      {pid::server_reference, pt::utf8_string},
      {pid::reason_string, pt::utf8_string},
      {pid::receive_maximum, pt::two_byte_integer},
      {pid::topic_alias_maximum, pt::two_byte_integer},
      {pid::topic_alias, pt::two_byte_integer},
      {pid::maximum_qos, pt::byte},
      {pid::retain_available, pt::byte},
      {pid::user_property, pt::utf8_string_pair},
      {pid::maximum_packet_size, pt::four_byte_integer},
      {pid::wildcard_subscription_available, pt::byte},
      {pid::subscription_identifier_available, pt::byte},
      {pid::shared_subscription_available, pt::byte},
  };
  std::set<unsigned> defined;
  for (const auto& [id, type] : table) {
    const auto raw = static_cast<std::uint8_t>(id);
    defined.insert(raw);
    ASSERT_TRUE(type_of(raw).has_value()) << unsigned{raw};
    EXPECT_EQ(*type_of(raw), type) << unsigned{raw};
  }
  for (unsigned raw = 0; raw < 256; ++raw) {
    if (!defined.count(raw)) {
      EXPECT_FALSE(type_of(static_cast<std::uint8_t>(raw)).has_value()) << raw;
    }
  }
}

TEST(properties, is_allowed_matches_the_spec_table) {
  // MQTT 5 §2.2.2.2, row by row ("will" = Will Properties).
  const std::pair<pid, std::set<pc>> table[] = {
      {pid::payload_format_indicator, {pc::publish, pc::will}},
      {pid::message_expiry_interval, {pc::publish, pc::will}},
      {pid::content_type, {pc::publish, pc::will}},
      {pid::response_topic, {pc::publish, pc::will}},
      {pid::correlation_data, {pc::publish, pc::will}},
      {pid::subscription_identifier, {pc::publish, pc::subscribe}},
      {pid::session_expiry_interval, {pc::connect, pc::connack, pc::disconnect}},
      {pid::assigned_client_identifier, {pc::connack}},
      {pid::server_keep_alive, {pc::connack}},
      {pid::authentication_method, {pc::connect, pc::connack, pc::auth}},
      {pid::authentication_data, {pc::connect, pc::connack, pc::auth}},
      {pid::request_problem_information, {pc::connect}},
      {pid::will_delay_interval, {pc::will}},
      {pid::request_response_information, {pc::connect}},
      {pid::response_information, {pc::connack}},
      {pid::server_reference, {pc::connack, pc::disconnect}},
      {pid::reason_string,
       {pc::connack, pc::puback, pc::pubrec, pc::pubrel, pc::pubcomp, pc::suback, pc::unsuback,
        pc::disconnect, pc::auth}},
      {pid::receive_maximum, {pc::connect, pc::connack}},
      {pid::topic_alias_maximum, {pc::connect, pc::connack}},
      {pid::topic_alias, {pc::publish}},
      {pid::maximum_qos, {pc::connack}},
      {pid::retain_available, {pc::connack}},
      {pid::user_property,
       {pc::connect, pc::connack, pc::publish, pc::will, pc::puback, pc::pubrec, pc::pubrel,
        pc::pubcomp, pc::subscribe, pc::suback, pc::unsubscribe, pc::unsuback, pc::disconnect,
        pc::auth}},
      {pid::maximum_packet_size, {pc::connect, pc::connack}},
      {pid::wildcard_subscription_available, {pc::connack}},
      {pid::subscription_identifier_available, {pc::connack}},
      {pid::shared_subscription_available, {pc::connack}},
  };
  for (const auto& [id, allowed] : table) {
    for (unsigned c = 0; c <= static_cast<unsigned>(pc::auth); ++c) {
      const auto ctx = static_cast<pc>(c);
      EXPECT_EQ(is_allowed(id, ctx), allowed.count(ctx) == 1)
          << "property 0x" << std::hex << static_cast<unsigned>(id) << " context " << std::dec << c;
    }
  }
  // An undefined identifier is allowed nowhere.
  EXPECT_FALSE(is_allowed(static_cast<pid>(0x04), pc::publish));
  EXPECT_FALSE(is_allowed(static_cast<pid>(0x7F), pc::connect));
}

TEST(properties, may_repeat) {
  for (unsigned c = 0; c <= static_cast<unsigned>(pc::auth); ++c) {
    EXPECT_TRUE(may_repeat(pid::user_property, static_cast<pc>(c)));
  }
  EXPECT_TRUE(may_repeat(pid::subscription_identifier, pc::publish));
  EXPECT_FALSE(may_repeat(pid::subscription_identifier, pc::subscribe)); // §3.8.2.1.2
  EXPECT_FALSE(may_repeat(pid::topic_alias, pc::publish));
  EXPECT_FALSE(may_repeat(pid::reason_string, pc::puback));
  EXPECT_FALSE(may_repeat(pid::session_expiry_interval, pc::connect));
}

TEST(properties, empty) {
  properties p;
  EXPECT_TRUE(p.empty());
  p.topic_alias_maximum = 0; // present even though the value is zero
  EXPECT_FALSE(p.empty());

  properties q;
  q.user_properties.emplace_back("k", "v");
  EXPECT_FALSE(q.empty());

  properties r;
  r.subscription_identifiers.push_back(1);
  EXPECT_FALSE(r.empty());

  properties s;
  s.shared_subscription_available = 1; // the last field
  EXPECT_FALSE(s.empty());
}

} // namespace
