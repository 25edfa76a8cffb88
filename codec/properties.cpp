// The MQTT 5 property table (§2.2.2.2): value types, where each property is allowed, and which
// properties may repeat.
#include "properties.hpp"

#include <array>

namespace colony::codec {
namespace {

constexpr std::uint16_t bit(property_context c) noexcept {
  return static_cast<std::uint16_t>(1u << static_cast<unsigned>(c));
}

struct property_info {
  bool defined = false;
  property_type type = property_type::byte;
  std::uint16_t contexts = 0; // bit set of property_context
};

using pc = property_context;

// Indexed by identifier; 0x2A is the largest identifier MQTT 5.0 defines.
constexpr std::array<property_info, 0x2B> make_table() noexcept {
  std::array<property_info, 0x2B> t{};
  auto set = [&t](property_id id, property_type type, std::uint16_t contexts) {
    t[static_cast<std::uint8_t>(id)] = property_info{true, type, contexts};
  };
  const std::uint16_t pub_will = bit(pc::publish) | bit(pc::will);
  const std::uint16_t acks = bit(pc::puback) | bit(pc::pubrec) | bit(pc::pubrel) | bit(pc::pubcomp);
  set(property_id::payload_format_indicator, property_type::byte, pub_will);
  set(property_id::message_expiry_interval, property_type::four_byte_integer, pub_will);
  set(property_id::content_type, property_type::utf8_string, pub_will);
  set(property_id::response_topic, property_type::utf8_string, pub_will);
  set(property_id::correlation_data, property_type::binary_data, pub_will);
  set(property_id::subscription_identifier, property_type::variable_byte_integer,
      bit(pc::publish) | bit(pc::subscribe));
  set(property_id::session_expiry_interval, property_type::four_byte_integer,
      bit(pc::connect) | bit(pc::connack) | bit(pc::disconnect));
  set(property_id::assigned_client_identifier, property_type::utf8_string, bit(pc::connack));
  set(property_id::server_keep_alive, property_type::two_byte_integer, bit(pc::connack));
  set(property_id::authentication_method, property_type::utf8_string,
      bit(pc::connect) | bit(pc::connack) | bit(pc::auth));
  set(property_id::authentication_data, property_type::binary_data,
      bit(pc::connect) | bit(pc::connack) | bit(pc::auth));
  set(property_id::request_problem_information, property_type::byte, bit(pc::connect));
  set(property_id::will_delay_interval, property_type::four_byte_integer, bit(pc::will));
  set(property_id::request_response_information, property_type::byte, bit(pc::connect));
  set(property_id::response_information, property_type::utf8_string, bit(pc::connack));
  set(property_id::server_reference, property_type::utf8_string,
      bit(pc::connack) | bit(pc::disconnect));
  set(property_id::reason_string, property_type::utf8_string,
      bit(pc::connack) | acks | bit(pc::suback) | bit(pc::unsuback) | bit(pc::disconnect) |
          bit(pc::auth));
  set(property_id::receive_maximum, property_type::two_byte_integer,
      bit(pc::connect) | bit(pc::connack));
  set(property_id::topic_alias_maximum, property_type::two_byte_integer,
      bit(pc::connect) | bit(pc::connack));
  set(property_id::topic_alias, property_type::two_byte_integer, bit(pc::publish));
  set(property_id::maximum_qos, property_type::byte, bit(pc::connack));
  set(property_id::retain_available, property_type::byte, bit(pc::connack));
  // User Property is allowed in every packet that has properties, and in the Will Properties.
  set(property_id::user_property, property_type::utf8_string_pair, 0x3FFF);
  set(property_id::maximum_packet_size, property_type::four_byte_integer,
      bit(pc::connect) | bit(pc::connack));
  set(property_id::wildcard_subscription_available, property_type::byte, bit(pc::connack));
  set(property_id::subscription_identifier_available, property_type::byte, bit(pc::connack));
  set(property_id::shared_subscription_available, property_type::byte, bit(pc::connack));
  return t;
}

constexpr auto table = make_table();
static_assert(static_cast<unsigned>(pc::auth) == 13, "user_property mask covers 14 contexts");

} // namespace

std::optional<property_type> type_of(std::uint8_t id) noexcept {
  if (id >= table.size() || !table[id].defined) {
    return std::nullopt;
  }
  return table[id].type;
}

bool is_allowed(property_id id, property_context ctx) noexcept {
  const auto i = static_cast<std::uint8_t>(id);
  return i < table.size() && table[i].defined && (table[i].contexts & bit(ctx)) != 0;
}

bool may_repeat(property_id id, property_context ctx) noexcept {
  // MQTT 5 §3.3.2.3.8: a PUBLISH carries one Subscription Identifier per matching subscription;
  // SUBSCRIBE allows at most one (§3.8.2.1.2). User Property may always repeat (§2.2.2.2).
  return id == property_id::user_property ||
         (id == property_id::subscription_identifier && ctx == property_context::publish);
}

bool properties::empty() const noexcept {
  return !payload_format_indicator && !message_expiry_interval && !content_type &&
         !response_topic && !correlation_data && subscription_identifiers.empty() &&
         !session_expiry_interval && !assigned_client_identifier && !server_keep_alive &&
         !authentication_method && !authentication_data && !request_problem_information &&
         !will_delay_interval && !request_response_information && !response_information &&
         !server_reference && !reason_string && !receive_maximum && !topic_alias_maximum &&
         !topic_alias && !maximum_qos && !retain_available && user_properties.empty() &&
         !maximum_packet_size && !wildcard_subscription_available &&
         !subscription_identifier_available && !shared_subscription_available;
}

} // namespace colony::codec
