// MQTT 3.1 / 3.1.1 / 5.0 packet decoder (MQTT 3.1.1 §2–3, MQTT 5 §2–3).
//
// Every read is bounds-checked against the packet body; nothing here throws on hostile input and
// nothing allocates more than the bytes actually present (strings are copied only after their
// length has been checked against the body).
#include "decoder.hpp"

#include "topic.hpp"
#include "utf8.hpp"

#include <string_view>

namespace colony::codec {
namespace {

constexpr reason_code ok = reason_code::success;
constexpr reason_code malformed = reason_code::malformed_packet;
constexpr reason_code protocol_error = reason_code::protocol_error;

/// Bounds-checked cursor over a packet body. Every read fails (returns false or malformed)
/// instead of reading past the end.
class reader {
public:
  explicit reader(std::span<const std::uint8_t> in) noexcept
    : p_(in.data()), end_(in.data() + in.size()) {}

  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  bool empty() const noexcept { return p_ == end_; }

  bool u8(std::uint8_t& v) noexcept {
    if (p_ == end_) {
      return false;
    }
    v = *p_++;
    return true;
  }

  bool u16(std::uint16_t& v) noexcept {
    if (remaining() < 2) {
      return false;
    }
    v = static_cast<std::uint16_t>((p_[0] << 8) | p_[1]);
    p_ += 2;
    return true;
  }

  bool u32(std::uint32_t& v) noexcept {
    if (remaining() < 4) {
      return false;
    }
    v = (std::uint32_t{p_[0]} << 24) | (std::uint32_t{p_[1]} << 16) | (std::uint32_t{p_[2]} << 8) |
        std::uint32_t{p_[3]};
    p_ += 4;
    return true;
  }

  /// Variable Byte Integer (MQTT 5 §1.5.5): at most 4 bytes, minimally encoded (MQTT-1.5.5-1).
  bool varint(std::uint32_t& v) noexcept {
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      if (p_ == end_) {
        return false;
      }
      const std::uint8_t b = *p_++;
      value |= std::uint32_t{b & 0x7Fu} << (7 * i);
      if ((b & 0x80) == 0) {
        if (i > 0 && b == 0) {
          return false; // non-minimal encoding
        }
        v = value;
        return true;
      }
    }
    return false; // continuation bit on the 4th byte
  }

  /// Two Byte Integer length followed by that many bytes (MQTT 5 §1.5.4, §1.5.6).
  bool length_prefixed(std::string_view& v) noexcept {
    std::uint16_t n = 0;
    if (!u16(n) || remaining() < n) {
      return false;
    }
    v = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }

  /// The next `n` bytes (the caller has checked n <= remaining()).
  std::span<const std::uint8_t> take(std::size_t n) noexcept {
    std::span<const std::uint8_t> s(p_, n);
    p_ += n;
    return s;
  }

  std::string_view rest() noexcept {
    std::string_view s(reinterpret_cast<const char*>(p_), remaining());
    p_ = end_;
    return s;
  }

private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

/// UTF-8 Encoded String (MQTT 5 §1.5.4): ill-formed UTF-8 or U+0000 is a Malformed Packet
/// (MQTT-1.5.4-1, MQTT-1.5.4-2).
reason_code read_utf8(reader& r, std::string_view& v) noexcept {
  if (!r.length_prefixed(v) || !is_valid_mqtt_utf8(v)) {
    return malformed;
  }
  return ok;
}

reason_code read_utf8(reader& r, std::string& out) {
  std::string_view v;
  if (auto rc = read_utf8(r, v); rc != ok) {
    return rc;
  }
  out.assign(v);
  return ok;
}

reason_code read_utf8(reader& r, std::optional<std::string>& out) {
  return read_utf8(r, out.emplace());
}

reason_code read_binary(reader& r, std::optional<std::string>& out) {
  std::string_view v;
  if (!r.length_prefixed(v)) {
    return malformed;
  }
  out.emplace(v);
  return ok;
}

/// A Byte property whose only legal values are 0 and 1.
reason_code read_flag(reader& r, std::optional<std::uint8_t>& out) noexcept {
  std::uint8_t v = 0;
  if (!r.u8(v)) {
    return malformed;
  }
  if (v > 1) {
    return protocol_error;
  }
  out = v;
  return ok;
}

reason_code read_u16(reader& r, std::optional<std::uint16_t>& out, bool nonzero) noexcept {
  std::uint16_t v = 0;
  if (!r.u16(v)) {
    return malformed;
  }
  if (nonzero && v == 0) {
    return protocol_error;
  }
  out = v;
  return ok;
}

reason_code read_u32(reader& r, std::optional<std::uint32_t>& out, bool nonzero) noexcept {
  std::uint32_t v = 0;
  if (!r.u32(v)) {
    return malformed;
  }
  if (nonzero && v == 0) {
    return protocol_error;
  }
  out = v;
  return ok;
}

/// Property Length and properties (MQTT 5 §2.2.2).
reason_code read_properties(reader& r, property_context ctx, properties& out) {
  std::uint32_t length = 0;
  if (!r.varint(length) || length > r.remaining()) {
    return malformed;
  }
  reader pr(r.take(length));
  std::uint64_t seen = 0; // identifiers are < 64
  while (!pr.empty()) {
    // The identifier is a Variable Byte Integer, but all MQTT 5.0 identifiers are one byte; a
    // byte >= 0x80 would start a longer identifier, which is unknown too.
    std::uint8_t raw = 0;
    (void)pr.u8(raw);
    if (!type_of(raw)) {
      return malformed; // unknown property identifier
    }
    const auto id = static_cast<property_id>(raw);
    if (!is_allowed(id, ctx)) {
      return protocol_error;
    }
    const std::uint64_t mask = std::uint64_t{1} << raw;
    if ((seen & mask) != 0 && !may_repeat(id, ctx)) {
      return protocol_error; // "It is a Protocol Error to include ... more than once"
    }
    seen |= mask;
    reason_code rc = ok;
    switch (id) {
    case property_id::payload_format_indicator:
      rc = read_flag(pr, out.payload_format_indicator);
      break;
    case property_id::message_expiry_interval:
      rc = read_u32(pr, out.message_expiry_interval, false);
      break;
    case property_id::content_type:
      rc = read_utf8(pr, out.content_type);
      break;
    case property_id::response_topic:
      rc = read_utf8(pr, out.response_topic);
      break;
    case property_id::correlation_data:
      rc = read_binary(pr, out.correlation_data);
      break;
    case property_id::subscription_identifier: {
      std::uint32_t v = 0;
      if (!pr.varint(v)) {
        return malformed;
      }
      if (v == 0) {
        return protocol_error; // MQTT 5 §3.8.2.1.2: "a value of 0 ... is a Protocol Error"
      }
      out.subscription_identifiers.push_back(v);
      break;
    }
    case property_id::session_expiry_interval:
      rc = read_u32(pr, out.session_expiry_interval, false);
      break;
    case property_id::assigned_client_identifier:
      rc = read_utf8(pr, out.assigned_client_identifier);
      break;
    case property_id::server_keep_alive:
      rc = read_u16(pr, out.server_keep_alive, false);
      break;
    case property_id::authentication_method:
      rc = read_utf8(pr, out.authentication_method);
      break;
    case property_id::authentication_data:
      rc = read_binary(pr, out.authentication_data);
      break;
    case property_id::request_problem_information:
      rc = read_flag(pr, out.request_problem_information);
      break;
    case property_id::will_delay_interval:
      rc = read_u32(pr, out.will_delay_interval, false);
      break;
    case property_id::request_response_information:
      rc = read_flag(pr, out.request_response_information);
      break;
    case property_id::response_information:
      rc = read_utf8(pr, out.response_information);
      break;
    case property_id::server_reference:
      rc = read_utf8(pr, out.server_reference);
      break;
    case property_id::reason_string:
      rc = read_utf8(pr, out.reason_string);
      break;
    case property_id::receive_maximum:
      rc = read_u16(pr, out.receive_maximum, true); // MQTT 5 §3.1.2.11.3: 0 is an error
      break;
    case property_id::topic_alias_maximum:
      rc = read_u16(pr, out.topic_alias_maximum, false);
      break;
    case property_id::topic_alias:
      // MQTT-3.3.2-8: 0 is not a valid alias, but it is the session that knows the limits and
      // answers with DISCONNECT 0x94 Topic Alias invalid, so 0 passes here.
      rc = read_u16(pr, out.topic_alias, false);
      break;
    case property_id::maximum_qos:
      rc = read_flag(pr, out.maximum_qos);
      break;
    case property_id::retain_available:
      rc = read_flag(pr, out.retain_available);
      break;
    case property_id::user_property: {
      user_property up;
      if (rc = read_utf8(pr, up.first); rc != ok) {
        return rc;
      }
      if (rc = read_utf8(pr, up.second); rc != ok) {
        return rc;
      }
      out.user_properties.push_back(std::move(up));
      break;
    }
    case property_id::maximum_packet_size:
      rc = read_u32(pr, out.maximum_packet_size, true); // MQTT 5 §3.1.2.11.4: 0 is an error
      break;
    case property_id::wildcard_subscription_available:
      rc = read_flag(pr, out.wildcard_subscription_available);
      break;
    case property_id::subscription_identifier_available:
      rc = read_flag(pr, out.subscription_identifier_available);
      break;
    case property_id::shared_subscription_available:
      rc = read_flag(pr, out.shared_subscription_available);
      break;
    }
    if (rc != ok) {
      return rc;
    }
  }
  return ok;
}

/// Packet Identifier: MQTT-2.3.1-1 requires a non-zero value.
reason_code read_packet_id(reader& r, std::uint16_t& id) noexcept {
  if (!r.u16(id) || id == 0) {
    return malformed;
  }
  return ok;
}

bool is_v5(protocol_version v) noexcept { return v == protocol_version::v5; }

// Reason codes each packet may carry (MQTT 5 §3.2.2.2, §3.4.2.1–§3.7.2.1, §3.9.3, §3.11.3,
// §3.14.2.1, §3.15.2.1).
constexpr std::uint8_t connack_codes[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                          0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                          0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
constexpr std::uint8_t puback_codes[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
constexpr std::uint8_t pubrel_codes[] = {0x00, 0x92}; // also PUBCOMP
constexpr std::uint8_t suback_v3_codes[] = {0x00, 0x01, 0x02, 0x80};
constexpr std::uint8_t suback_codes[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                         0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
constexpr std::uint8_t unsuback_codes[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
constexpr std::uint8_t disconnect_codes[] = {
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
    0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
constexpr std::uint8_t auth_codes[] = {0x00, 0x18, 0x19};

template <std::size_t N>
constexpr bool one_of(std::uint8_t c, const std::uint8_t (&codes)[N]) noexcept {
  for (const std::uint8_t x : codes) {
    if (x == c) {
      return true;
    }
  }
  return false;
}

// -- CONNECT (3.1.1 §3.1, MQTT 5 §3.1) -----------------------------------------------------------

reason_code decode_connect(reader& r, connect& c) {
  std::string_view name;
  std::uint8_t level = 0;
  if (!r.length_prefixed(name) || !r.u8(level)) {
    return malformed;
  }
  if (name == "MQTT") {
    if (level == 4) {
      c.version = protocol_version::v3_1_1;
    } else if (level == 5) {
      c.version = protocol_version::v5;
    } else {
      return reason_code::unsupported_protocol_version; // 3.1.1 §3.1.2.2, MQTT 5 §3.1.2.2
    }
  } else if (name == "MQIsdp") {
    if (level != 3) {
      return reason_code::unsupported_protocol_version;
    }
    c.version = protocol_version::v3_1;
  } else {
    return protocol_error; // MQTT-3.1.2-1
  }
  const bool v5 = is_v5(c.version);

  std::uint8_t flags = 0;
  if (!r.u8(flags) || !r.u16(c.keep_alive)) {
    return malformed;
  }
  if ((flags & 0x01) != 0) {
    return malformed; // MQTT-3.1.2-3: reserved flag must be 0
  }
  const bool will_flag = (flags & 0x04) != 0;
  const std::uint8_t will_qos = (flags >> 3) & 0x03;
  const bool will_retain = (flags & 0x20) != 0;
  const bool password_flag = (flags & 0x40) != 0;
  const bool username_flag = (flags & 0x80) != 0;
  if (!will_flag && (will_qos != 0 || will_retain)) {
    return malformed; // MQTT-3.1.2-11, MQTT-3.1.2-13
  }
  if (will_qos == 3) {
    return malformed; // MQTT-3.1.2-12
  }
  if (!v5 && password_flag && !username_flag) {
    return malformed; // MQTT-3.1.2-22 (3.1.1); MQTT 5 allows a password without a user name
  }
  c.clean_start = (flags & 0x02) != 0;

  reason_code rc = ok;
  if (v5 && (rc = read_properties(r, property_context::connect, c.props)) != ok) {
    return rc;
  }
  // MQTT-3.1.3-4: the Client Identifier is a UTF-8 string; whether an empty one is acceptable is
  // the broker's decision (MQTT-3.1.3-6..8).
  if ((rc = read_utf8(r, c.client_id)) != ok) {
    return rc;
  }
  if (will_flag) {
    auto& w = c.will_message.emplace();
    w.qos = will_qos;
    w.retain = will_retain;
    if (v5 && (rc = read_properties(r, property_context::will, w.props)) != ok) {
      return rc;
    }
    if ((rc = read_utf8(r, w.topic)) != ok) { // MQTT-3.1.3-11
      return rc;
    }
    // The Will Message is published to the Will Topic, so it must be a valid Topic Name
    // (MQTT-3.3.2-2, MQTT-4.7.3-1); the broker answers with CONNACK 0x90 (v5).
    if (w.topic.empty() || has_wildcard(w.topic)) {
      return reason_code::topic_name_invalid;
    }
    std::string_view payload;
    if (!r.length_prefixed(payload)) {
      return malformed;
    }
    w.payload.assign(payload);
  }
  if (username_flag && (rc = read_utf8(r, c.username)) != ok) { // MQTT-3.1.3-11
    return rc;
  }
  if (password_flag && (rc = read_binary(r, c.password)) != ok) {
    return rc;
  }
  return r.empty() ? ok : malformed;
}

// -- CONNACK (3.1.1 §3.2, MQTT 5 §3.2) -----------------------------------------------------------

reason_code decode_connack(reader& r, protocol_version v, connack& c) {
  std::uint8_t ack_flags = 0;
  std::uint8_t code = 0;
  if (!r.u8(ack_flags) || !r.u8(code)) {
    return malformed;
  }
  if ((ack_flags & 0xFE) != 0) {
    return malformed; // MQTT-3.2.2-1 (3.1.1 §3.2.2.1): bits 7-1 are reserved
  }
  c.session_present = ack_flags != 0;
  if (!is_v5(v)) {
    // 3.1.1 §3.2.2.3: return codes 0..5; map each to the MQTT 5 code the encoder maps back.
    static constexpr reason_code v3_codes[] = {
        reason_code::success,
        reason_code::unsupported_protocol_version,
        reason_code::client_identifier_not_valid,
        reason_code::server_unavailable,
        reason_code::bad_user_name_or_password,
        reason_code::not_authorized,
    };
    if (code > 5) {
      return malformed;
    }
    c.code = v3_codes[code];
    return r.empty() ? ok : malformed;
  }
  if (!one_of(code, connack_codes)) {
    return protocol_error;
  }
  c.code = static_cast<reason_code>(code);
  if (auto rc = read_properties(r, property_context::connack, c.props); rc != ok) {
    return rc;
  }
  return r.empty() ? ok : malformed;
}

// -- PUBLISH (3.1.1 §3.3, MQTT 5 §3.3) -----------------------------------------------------------

reason_code decode_publish(const fixed_header& h, reader& r, protocol_version v, publish& p) {
  p.dup = (h.flags & 0x08) != 0;
  p.qos = (h.flags >> 1) & 0x03;
  p.retain = (h.flags & 0x01) != 0;
  std::string_view topic;
  if (auto rc = read_utf8(r, topic); rc != ok) {
    return rc;
  }
  // MQTT-3.3.2-2: the Topic Name must not contain wildcard characters.
  if (has_wildcard(topic)) {
    return reason_code::topic_name_invalid;
  }
  if (p.qos > 0) {
    if (auto rc = read_packet_id(r, p.packet_id); rc != ok) {
      return rc;
    }
  }
  if (is_v5(v)) {
    if (auto rc = read_properties(r, property_context::publish, p.props); rc != ok) {
      return rc;
    }
    // MQTT 5 §3.3.2.1: a zero-length Topic Name is only allowed together with a Topic Alias.
    if (topic.empty() && !p.props.topic_alias) {
      return protocol_error;
    }
  } else if (topic.empty()) {
    return malformed; // MQTT-4.7.3-1: a Topic Name is at least one character
  }
  p.topic.assign(topic);
  p.payload.assign(r.rest()); // the payload may be empty (3.1.1 §3.3.3)
  return ok;
}

// -- PUBACK, PUBREC, PUBREL, PUBCOMP (MQTT 5 §3.4–3.7) ------------------------------------------

bool is_pub_ack_code(packet_type t, std::uint8_t c) noexcept {
  if (t == packet_type::pubrel || t == packet_type::pubcomp) {
    return one_of(c, pubrel_codes);
  }
  return one_of(c, puback_codes);
}

template <class Ack>
reason_code decode_pub_ack(packet_type t, property_context ctx, reader& r, protocol_version v,
                           Ack& a) {
  if (auto rc = read_packet_id(r, a.packet_id); rc != ok) {
    return rc;
  }
  if (!is_v5(v)) {
    return r.empty() ? ok : malformed; // 3.1.1: Remaining Length is exactly 2
  }
  // MQTT 5 §3.4.2.1: Remaining Length 2 means Success without properties; 3 means a reason code
  // without properties.
  if (r.empty()) {
    return ok;
  }
  std::uint8_t code = 0;
  (void)r.u8(code);
  if (!is_pub_ack_code(t, code)) {
    return protocol_error;
  }
  a.code = static_cast<reason_code>(code);
  if (r.empty()) {
    return ok;
  }
  if (auto rc = read_properties(r, ctx, a.props); rc != ok) {
    return rc;
  }
  return r.empty() ? ok : malformed;
}

// -- SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (MQTT 5 §3.8–3.11) --------------------------------

reason_code decode_subscribe(reader& r, protocol_version v, subscribe& s) {
  if (auto rc = read_packet_id(r, s.packet_id); rc != ok) {
    return rc;
  }
  const bool v5 = is_v5(v);
  if (v5) {
    if (auto rc = read_properties(r, property_context::subscribe, s.props); rc != ok) {
      return rc;
    }
  }
  if (r.empty()) {
    return v5 ? protocol_error : malformed; // MQTT-3.8.3-3: at least one topic filter
  }
  while (!r.empty()) {
    std::string_view filter;
    if (auto rc = read_utf8(r, filter); rc != ok) {
      return rc;
    }
    std::uint8_t opts = 0;
    if (!r.u8(opts)) {
      return malformed;
    }
    subscription_options o;
    o.max_qos = opts & 0x03;
    if (o.max_qos == 3) {
      return malformed; // 3.1.1 §3.8.3.1, MQTT 5 §3.8.3.1
    }
    if (v5) {
      if ((opts & 0xC0) != 0) {
        return malformed; // MQTT-3.8.3-5: reserved bits 6-7
      }
      o.no_local = (opts & 0x04) != 0;
      o.retain_as_published = (opts & 0x08) != 0;
      o.retain_handling = (opts >> 4) & 0x03;
      if (o.retain_handling == 3) {
        return malformed; // MQTT 5 §3.8.3.1
      }
    } else if ((opts & 0xFC) != 0) {
      return malformed; // MQTT-3.8.3-4 (3.1.1): bits 2-7 reserved
    }
    // Wildcard placement is not checked here: the broker refuses a bad filter per subscription
    // in its SUBACK instead of dropping the connection.
    s.subscriptions.push_back(topic_subscription{std::string(filter), o});
  }
  return ok;
}

bool is_suback_code(protocol_version v, std::uint8_t c) noexcept {
  return is_v5(v) ? one_of(c, suback_codes) : one_of(c, suback_v3_codes); // 3.1.1 §3.9.3
}

bool is_unsuback_code(std::uint8_t c) noexcept { return one_of(c, unsuback_codes); }

reason_code decode_suback(reader& r, protocol_version v, suback& s) {
  if (auto rc = read_packet_id(r, s.packet_id); rc != ok) {
    return rc;
  }
  const bool v5 = is_v5(v);
  if (v5) {
    if (auto rc = read_properties(r, property_context::suback, s.props); rc != ok) {
      return rc;
    }
  }
  if (r.empty()) {
    return v5 ? protocol_error : malformed; // one return code per topic filter, at least one
  }
  const std::string_view codes = r.rest();
  s.codes.reserve(codes.size()); // bounded by the body
  for (const char ch : codes) {
    const auto c = static_cast<std::uint8_t>(ch);
    if (!is_suback_code(v, c)) {
      return v5 ? protocol_error : malformed;
    }
    s.codes.push_back(static_cast<reason_code>(c));
  }
  return ok;
}

reason_code decode_unsubscribe(reader& r, protocol_version v, unsubscribe& u) {
  if (auto rc = read_packet_id(r, u.packet_id); rc != ok) {
    return rc;
  }
  const bool v5 = is_v5(v);
  if (v5) {
    if (auto rc = read_properties(r, property_context::unsubscribe, u.props); rc != ok) {
      return rc;
    }
  }
  if (r.empty()) {
    return v5 ? protocol_error : malformed; // MQTT-3.10.3-2: at least one topic filter
  }
  while (!r.empty()) {
    std::string_view filter;
    if (auto rc = read_utf8(r, filter); rc != ok) {
      return rc;
    }
    u.topic_filters.emplace_back(filter);
  }
  return ok;
}

reason_code decode_unsuback(reader& r, protocol_version v, unsuback& u) {
  if (auto rc = read_packet_id(r, u.packet_id); rc != ok) {
    return rc;
  }
  if (!is_v5(v)) {
    return r.empty() ? ok : malformed; // 3.1.1 §3.11: Remaining Length is exactly 2
  }
  if (auto rc = read_properties(r, property_context::unsuback, u.props); rc != ok) {
    return rc;
  }
  if (r.empty()) {
    return protocol_error; // MQTT 5 §3.11.3: one reason code per topic filter
  }
  const std::string_view codes = r.rest();
  u.codes.reserve(codes.size());
  for (const char ch : codes) {
    const auto c = static_cast<std::uint8_t>(ch);
    if (!is_unsuback_code(c)) {
      return protocol_error;
    }
    u.codes.push_back(static_cast<reason_code>(c));
  }
  return ok;
}

// -- DISCONNECT and AUTH (MQTT 5 §3.14, §3.15) --------------------------------------------------

bool is_disconnect_code(std::uint8_t c) noexcept { return one_of(c, disconnect_codes); }

bool is_auth_code(std::uint8_t c) noexcept { return one_of(c, auth_codes); }

/// DISCONNECT and AUTH: Remaining Length 0 means Success without properties; 1 means a reason
/// code without properties (MQTT 5 §3.14.2.1, §3.15.2.1).
template <class P>
reason_code decode_code_and_props(reader& r, property_context ctx, bool (*valid)(std::uint8_t),
                                  P& p) {
  if (r.empty()) {
    return ok;
  }
  std::uint8_t code = 0;
  (void)r.u8(code);
  if (!valid(code)) {
    return protocol_error;
  }
  p.code = static_cast<reason_code>(code);
  if (r.empty()) {
    return ok;
  }
  if (auto rc = read_properties(r, ctx, p.props); rc != ok) {
    return rc;
  }
  return r.empty() ? ok : malformed;
}

/// Checks the fixed-header flags of `h` (MQTT-2.2.2-1, MQTT-2.2.2-2) and that the packet type
/// exists in `v`. Called before the body is buffered so a broken stream fails early.
reason_code check_fixed_header(const fixed_header& h, protocol_version v) noexcept {
  switch (h.type) {
  case packet_type::publish: {
    const std::uint8_t qos = (h.flags >> 1) & 0x03;
    if (qos == 3) {
      return malformed; // MQTT-3.3.1-4
    }
    if (qos == 0 && (h.flags & 0x08) != 0) {
      return malformed; // MQTT-3.3.1-2
    }
    return ok;
  }
  case packet_type::pubrel:
  case packet_type::subscribe:
  case packet_type::unsubscribe:
    // MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1
    return h.flags == 0x02 ? ok : malformed;
  case packet_type::auth:
    if (!is_v5(v)) {
      return protocol_error; // type 15 is reserved in 3.1.1 (§2.2.1)
    }
    return h.flags == 0 ? ok : malformed;
  default:
    return h.flags == 0 ? ok : malformed; // MQTT-2.2.2-2
  }
}

reason_code decode_into(const fixed_header& h, std::span<const std::uint8_t> body,
                        protocol_version v, packet& out) {
  if (body.size() != h.remaining_length) {
    return malformed;
  }
  if (auto rc = check_fixed_header(h, v); rc != ok) {
    return rc;
  }
  reader r(body);
  switch (h.type) {
  case packet_type::connect:
    return decode_connect(r, out.emplace<connect>());
  case packet_type::connack:
    return decode_connack(r, v, out.emplace<connack>());
  case packet_type::publish:
    return decode_publish(h, r, v, out.emplace<publish>());
  case packet_type::puback:
    return decode_pub_ack(h.type, property_context::puback, r, v, out.emplace<puback>());
  case packet_type::pubrec:
    return decode_pub_ack(h.type, property_context::pubrec, r, v, out.emplace<pubrec>());
  case packet_type::pubrel:
    return decode_pub_ack(h.type, property_context::pubrel, r, v, out.emplace<pubrel>());
  case packet_type::pubcomp:
    return decode_pub_ack(h.type, property_context::pubcomp, r, v, out.emplace<pubcomp>());
  case packet_type::subscribe:
    return decode_subscribe(r, v, out.emplace<subscribe>());
  case packet_type::suback:
    return decode_suback(r, v, out.emplace<suback>());
  case packet_type::unsubscribe:
    return decode_unsubscribe(r, v, out.emplace<unsubscribe>());
  case packet_type::unsuback:
    return decode_unsuback(r, v, out.emplace<unsuback>());
  case packet_type::pingreq:
    out.emplace<pingreq>();
    return r.empty() ? ok : malformed; // 3.1.1 §3.12, MQTT 5 §3.12: no variable header
  case packet_type::pingresp:
    out.emplace<pingresp>();
    return r.empty() ? ok : malformed;
  case packet_type::disconnect: {
    auto& d = out.emplace<disconnect>();
    if (!is_v5(v)) {
      return r.empty() ? ok : malformed; // 3.1.1 §3.14: no variable header
    }
    return decode_code_and_props(r, property_context::disconnect, &is_disconnect_code, d);
  }
  case packet_type::auth:
    return decode_code_and_props(r, property_context::auth, &is_auth_code, out.emplace<auth>());
  }
  return malformed; // packet type 0 (reserved) or a fixed_header not from decode_fixed_header
}

} // namespace

bool is_valid_reason_code(packet_type t, std::uint8_t code, protocol_version v) noexcept {
  switch (t) {
  case packet_type::connack:
    return is_v5(v) ? one_of(code, connack_codes) : code <= 5;
  case packet_type::puback:
  case packet_type::pubrec:
  case packet_type::pubrel:
  case packet_type::pubcomp:
    return is_pub_ack_code(t, code);
  case packet_type::suback:
    return is_suback_code(v, code);
  case packet_type::unsuback:
    return is_unsuback_code(code);
  case packet_type::disconnect:
    return is_disconnect_code(code);
  case packet_type::auth:
    return is_auth_code(code);
  default:
    return false;
  }
}

decode_status decode_fixed_header(std::span<const std::uint8_t> input, std::size_t max_packet_size,
                                  fixed_header& out, reason_code& error) noexcept {
  if (input.empty()) {
    return decode_status::need_more;
  }
  const std::uint8_t type = input[0] >> 4;
  if (type == 0) {
    error = malformed; // 3.1.1 §2.2.1, MQTT 5 §2.1.2: type 0 is reserved
    return decode_status::error;
  }
  // Remaining Length: Variable Byte Integer of at most 4 bytes (MQTT 5 §2.1.4, 3.1.1 §2.2.3).
  std::size_t length = 0;
  std::size_t i = 1;
  while (true) {
    if (i >= input.size()) {
      return decode_status::need_more;
    }
    const std::uint8_t b = input[i];
    length |= std::size_t{b & 0x7Fu} << (7 * (i - 1));
    if ((b & 0x80) == 0) {
      if (i > 1 && b == 0) {
        error = malformed; // MQTT-1.5.5-1: minimal number of bytes
        return decode_status::error;
      }
      break;
    }
    if (i == 4) {
      error = malformed; // a 5th length byte
      return decode_status::error;
    }
    ++i;
  }
  const std::size_t header_size = i + 1;
  // Reject from the length field alone, before any of the body is buffered (MQTT 5 §3.1.2.11.4).
  if (header_size + length > max_packet_size) {
    error = reason_code::packet_too_large;
    return decode_status::error;
  }
  out.type = static_cast<packet_type>(type);
  out.flags = input[0] & 0x0F;
  out.remaining_length = length;
  out.header_size = header_size;
  return decode_status::packet;
}

result<packet> decode_packet(const fixed_header& header, std::span<const std::uint8_t> body,
                             protocol_version version) {
  packet p;
  if (auto rc = decode_into(header, body, version, p); rc != ok) {
    return rc;
  }
  return p;
}

decode_result stream_decoder::next(std::span<const std::uint8_t> input) {
  decode_result out;
  fixed_header h;
  reason_code error = ok;
  const decode_status st = decode_fixed_header(input, max_packet_size_, h, error);
  if (st == decode_status::need_more) {
    return out;
  }
  if (st == decode_status::error) {
    out.status = decode_status::error;
    out.error = error;
    return out;
  }
  // Fail on bad flags before waiting for a body that may never come.
  if (auto rc = check_fixed_header(h, version_); rc != ok) {
    out.status = decode_status::error;
    out.error = rc;
    return out;
  }
  if (input.size() - h.header_size < h.remaining_length) {
    return out; // need_more
  }
  // Decode straight into the result: no intermediate packet to move.
  if (auto rc = decode_into(h, input.subspan(h.header_size, h.remaining_length), version_, out.pkt);
      rc != ok) {
    out.status = decode_status::error;
    out.error = rc;
    return out;
  }
  if (const auto* c = std::get_if<connect>(&out.pkt)) {
    version_ = c->version;
  }
  out.status = decode_status::packet;
  out.used = h.header_size + h.remaining_length;
  return out;
}

} // namespace colony::codec
