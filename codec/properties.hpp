// MQTT 5 properties (§2.2.2): one struct holding every property a packet may carry, the table of
// property identifiers and their value types, and the rule of which property is legal where.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace colony::codec {

/// Property identifiers (MQTT 5 §2.2.2.2).
enum class property_id : std::uint8_t {
  payload_format_indicator = 0x01,
  message_expiry_interval = 0x02,
  content_type = 0x03,
  response_topic = 0x08,
  correlation_data = 0x09,
  subscription_identifier = 0x0B,
  session_expiry_interval = 0x11,
  assigned_client_identifier = 0x12,
  server_keep_alive = 0x13,
  authentication_method = 0x15,
  authentication_data = 0x16,
  request_problem_information = 0x17,
  will_delay_interval = 0x18,
  request_response_information = 0x19,
  response_information = 0x1A,
  server_reference = 0x1C,
  reason_string = 0x1F,
  receive_maximum = 0x21,
  topic_alias_maximum = 0x22,
  topic_alias = 0x23,
  maximum_qos = 0x24,
  retain_available = 0x25,
  user_property = 0x26,
  maximum_packet_size = 0x27,
  wildcard_subscription_available = 0x28,
  subscription_identifier_available = 0x29,
  shared_subscription_available = 0x2A,
};

/// The wire type of a property's value (MQTT 5 §1.5).
enum class property_type : std::uint8_t {
  byte,
  two_byte_integer,
  four_byte_integer,
  variable_byte_integer,
  utf8_string,
  utf8_string_pair,
  binary_data,
};

/// Where a property list appears. `will` is the Will Properties of a CONNECT payload.
enum class property_context : std::uint8_t {
  connect,
  connack,
  publish,
  will,
  puback,
  pubrec,
  pubrel,
  pubcomp,
  subscribe,
  suback,
  unsubscribe,
  unsuback,
  disconnect,
  auth,
};

/// Value type of `id`, or nullopt if `id` is not a defined property.
std::optional<property_type> type_of(std::uint8_t id) noexcept;

/// True if property `id` may appear in `ctx` (MQTT 5 §2.2.2.2 table).
bool is_allowed(property_id id, property_context ctx) noexcept;

/// True if `id` may appear more than once (User Property; Subscription Identifier in PUBLISH).
bool may_repeat(property_id id, property_context ctx) noexcept;

using user_property = std::pair<std::string, std::string>;

/// All MQTT 5 properties. An absent optional means "not present in the packet".
/// Binary data (correlation data, authentication data) is kept in std::string.
struct properties {
  std::optional<std::uint8_t> payload_format_indicator;
  std::optional<std::uint32_t> message_expiry_interval;
  std::optional<std::string> content_type;
  std::optional<std::string> response_topic;
  std::optional<std::string> correlation_data;
  /// Repeatable in PUBLISH (one per matching subscription); at most one in SUBSCRIBE.
  std::vector<std::uint32_t> subscription_identifiers;
  std::optional<std::uint32_t> session_expiry_interval;
  std::optional<std::string> assigned_client_identifier;
  std::optional<std::uint16_t> server_keep_alive;
  std::optional<std::string> authentication_method;
  std::optional<std::string> authentication_data;
  std::optional<std::uint8_t> request_problem_information;
  std::optional<std::uint32_t> will_delay_interval;
  std::optional<std::uint8_t> request_response_information;
  std::optional<std::string> response_information;
  std::optional<std::string> server_reference;
  std::optional<std::string> reason_string;
  std::optional<std::uint16_t> receive_maximum;
  std::optional<std::uint16_t> topic_alias_maximum;
  std::optional<std::uint16_t> topic_alias;
  std::optional<std::uint8_t> maximum_qos;
  std::optional<std::uint8_t> retain_available;
  /// In wire order; order is significant and must be kept when forwarding (MQTT-3.3.2-18).
  std::vector<user_property> user_properties;
  std::optional<std::uint32_t> maximum_packet_size;
  std::optional<std::uint8_t> wildcard_subscription_available;
  std::optional<std::uint8_t> subscription_identifier_available;
  std::optional<std::uint8_t> shared_subscription_available;

  /// True if no property is present.
  bool empty() const noexcept;

  friend bool operator==(const properties&, const properties&) = default;
};

} // namespace colony::codec
