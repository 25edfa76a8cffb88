// The 15 MQTT control packets as plain structs (MQTT 3.1.1 §3, MQTT 5 §3), one variant of them all.
// Fields are named as the MQTT 5 spec names them. Version-specific fields are ignored by the
// encoder for versions that lack them (e.g. properties and reason codes for 3.1.1).
#pragma once

#include "properties.hpp"
#include "reason_code.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace colony::codec {

/// Protocol level byte of CONNECT: 3 = MQTT 3.1 ("MQIsdp"), 4 = 3.1.1, 5 = 5.0.
enum class protocol_version : std::uint8_t { v3_1 = 3, v3_1_1 = 4, v5 = 5 };

/// Control packet type, the high nibble of the fixed header's first byte.
enum class packet_type : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
  auth = 15,
};

std::string_view to_string(packet_type t) noexcept;

/// Will message carried in CONNECT.
struct will {
  std::uint8_t qos = 0;
  bool retain = false;
  std::string topic;
  std::string payload;
  properties props; // Will Properties (v5)
  friend bool operator==(const will&, const will&) = default;
};

struct connect {
  protocol_version version = protocol_version::v3_1_1;
  bool clean_start = true; // "Clean Session" in 3.1.1
  std::uint16_t keep_alive = 0;
  std::string client_id;
  std::optional<will> will_message;
  std::optional<std::string> username;
  std::optional<std::string> password; // binary data
  properties props;
  friend bool operator==(const connect&, const connect&) = default;
};

struct connack {
  bool session_present = false;
  /// v5 reason code. For 3.1.x the encoder maps it with to_v3_return_code().
  reason_code code = reason_code::success;
  properties props;
  friend bool operator==(const connack&, const connack&) = default;
};

struct publish {
  bool dup = false;
  std::uint8_t qos = 0;
  bool retain = false;
  std::string topic;
  std::uint16_t packet_id = 0; // present only for QoS 1 and 2
  properties props;
  std::string payload; // application message, binary
  friend bool operator==(const publish&, const publish&) = default;
};

/// PUBACK, PUBREC, PUBREL and PUBCOMP share one layout (MQTT 5 §3.4–3.7).
struct puback {
  std::uint16_t packet_id = 0;
  reason_code code = reason_code::success;
  properties props;
  friend bool operator==(const puback&, const puback&) = default;
};
struct pubrec {
  std::uint16_t packet_id = 0;
  reason_code code = reason_code::success;
  properties props;
  friend bool operator==(const pubrec&, const pubrec&) = default;
};
struct pubrel {
  std::uint16_t packet_id = 0;
  reason_code code = reason_code::success;
  properties props;
  friend bool operator==(const pubrel&, const pubrel&) = default;
};
struct pubcomp {
  std::uint16_t packet_id = 0;
  reason_code code = reason_code::success;
  properties props;
  friend bool operator==(const pubcomp&, const pubcomp&) = default;
};

/// Subscription Options byte (MQTT 5 §3.8.3.1); for 3.1.x only `max_qos` is used.
struct subscription_options {
  std::uint8_t max_qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  std::uint8_t retain_handling = 0; // 0, 1 or 2
  friend bool operator==(const subscription_options&, const subscription_options&) = default;
};

struct topic_subscription {
  std::string topic_filter;
  subscription_options options;
  friend bool operator==(const topic_subscription&, const topic_subscription&) = default;
};

struct subscribe {
  std::uint16_t packet_id = 0;
  properties props;
  std::vector<topic_subscription> subscriptions; // at least one (MQTT-3.8.3-3)
  friend bool operator==(const subscribe&, const subscribe&) = default;
};

struct suback {
  std::uint16_t packet_id = 0;
  properties props;
  /// One per subscription. For 3.1.1: 0x00/0x01/0x02 granted, 0x80 failure; other values are
  /// mapped to 0x80 by the encoder.
  std::vector<reason_code> codes;
  friend bool operator==(const suback&, const suback&) = default;
};

struct unsubscribe {
  std::uint16_t packet_id = 0;
  properties props;
  std::vector<std::string> topic_filters; // at least one (MQTT-3.10.3-2)
  friend bool operator==(const unsubscribe&, const unsubscribe&) = default;
};

struct unsuback {
  std::uint16_t packet_id = 0;
  properties props;
  std::vector<reason_code> codes; // v5 only; empty for 3.1.x
  friend bool operator==(const unsuback&, const unsuback&) = default;
};

struct pingreq {
  friend bool operator==(const pingreq&, const pingreq&) = default;
};
struct pingresp {
  friend bool operator==(const pingresp&, const pingresp&) = default;
};

struct disconnect {
  reason_code code = reason_code::success; // v5 only
  properties props;
  friend bool operator==(const disconnect&, const disconnect&) = default;
};

struct auth {
  reason_code code = reason_code::success;
  properties props;
  friend bool operator==(const auth&, const auth&) = default;
};

/// Any control packet. Alternative index + 1 == packet_type value.
using packet = std::variant<connect, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe,
                            suback, unsubscribe, unsuback, pingreq, pingresp, disconnect, auth>;

/// The packet_type of the alternative held by `p`.
inline packet_type type_of(const packet& p) noexcept {
  return static_cast<packet_type>(p.index() + 1);
}

} // namespace colony::codec
