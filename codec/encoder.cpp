// MQTT 3.1 / 3.1.1 / 5.0 packet encoder. Each packet's size is computed first so the output
// grows once; the same helpers compute encoded_size(), which must match what encode() appends.
#include "encoder.hpp"

#include "reason_code.hpp"

#include <algorithm>
#include <cassert>
#include <type_traits>

namespace colony::codec {
namespace {

bool is_v5(protocol_version v) noexcept { return v == protocol_version::v5; }

/// Wraps a Variable Byte Integer property value (Subscription Identifier).
struct varint_value {
  std::uint32_t value;
};

/// Calls f(id, value) if `v` is present; strings are passed as string_view.
template <class F, class T>
void visit_present(F& f, property_id id, const std::optional<T>& v) {
  if (!v) {
    return;
  }
  if constexpr (std::is_same_v<T, std::string>) {
    f(id, std::string_view(*v));
  } else {
    f(id, *v);
  }
}

/// Calls f(id, value) for every present property, in identifier order. User properties keep their
/// relative order (MQTT-3.3.2-18) and subscription identifiers come one per value.
template <class F>
void for_each_property(const properties& p, F& f) {
  using id = property_id;
  visit_present(f, id::payload_format_indicator, p.payload_format_indicator);
  visit_present(f, id::message_expiry_interval, p.message_expiry_interval);
  visit_present(f, id::content_type, p.content_type);
  visit_present(f, id::response_topic, p.response_topic);
  visit_present(f, id::correlation_data, p.correlation_data);
  for (const std::uint32_t s : p.subscription_identifiers) {
    f(id::subscription_identifier, varint_value{s});
  }
  visit_present(f, id::session_expiry_interval, p.session_expiry_interval);
  visit_present(f, id::assigned_client_identifier, p.assigned_client_identifier);
  visit_present(f, id::server_keep_alive, p.server_keep_alive);
  visit_present(f, id::authentication_method, p.authentication_method);
  visit_present(f, id::authentication_data, p.authentication_data);
  visit_present(f, id::request_problem_information, p.request_problem_information);
  visit_present(f, id::will_delay_interval, p.will_delay_interval);
  visit_present(f, id::request_response_information, p.request_response_information);
  visit_present(f, id::response_information, p.response_information);
  visit_present(f, id::server_reference, p.server_reference);
  visit_present(f, id::reason_string, p.reason_string);
  visit_present(f, id::receive_maximum, p.receive_maximum);
  visit_present(f, id::topic_alias_maximum, p.topic_alias_maximum);
  visit_present(f, id::topic_alias, p.topic_alias);
  visit_present(f, id::maximum_qos, p.maximum_qos);
  visit_present(f, id::retain_available, p.retain_available);
  for (const user_property& up : p.user_properties) {
    f(id::user_property, up);
  }
  visit_present(f, id::maximum_packet_size, p.maximum_packet_size);
  visit_present(f, id::wildcard_subscription_available, p.wildcard_subscription_available);
  visit_present(f, id::subscription_identifier_available, p.subscription_identifier_available);
  visit_present(f, id::shared_subscription_available, p.shared_subscription_available);
}

/// Size of a UTF-8 string or binary data field: Two Byte Integer length + bytes.
constexpr std::size_t field_size(std::string_view s) noexcept { return 2 + s.size(); }

struct property_sizer {
  std::size_t total = 0;
  void operator()(property_id, std::uint8_t) noexcept { total += 1 + 1; }
  void operator()(property_id, std::uint16_t) noexcept { total += 1 + 2; }
  void operator()(property_id, std::uint32_t) noexcept { total += 1 + 4; }
  void operator()(property_id, std::string_view s) noexcept { total += 1 + field_size(s); }
  void operator()(property_id, varint_value v) noexcept { total += 1 + varint_size(v.value); }
  void operator()(property_id, const user_property& up) noexcept {
    total += 1 + field_size(up.first) + field_size(up.second);
  }
};

/// Appends to a vector whose capacity the caller has already ensured.
class writer {
public:
  explicit writer(std::vector<std::uint8_t>& out) noexcept : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void varint(std::uint32_t v) { encode_varint(v, out_); }
  void raw(std::string_view s) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    out_.insert(out_.end(), p, p + s.size());
  }
  /// UTF-8 string or binary data (the caller guarantees at most 65,535 bytes).
  void field(std::string_view s) {
    assert(s.size() <= 0xFFFF);
    u16(static_cast<std::uint16_t>(s.size()));
    raw(s);
  }

  void operator()(property_id id, std::uint8_t v) { prop(id), u8(v); }
  void operator()(property_id id, std::uint16_t v) { prop(id), u16(v); }
  void operator()(property_id id, std::uint32_t v) { prop(id), u32(v); }
  void operator()(property_id id, std::string_view s) { prop(id), field(s); }
  void operator()(property_id id, varint_value v) { prop(id), varint(v.value); }
  void operator()(property_id id, const user_property& up) {
    prop(id);
    field(up.first);
    field(up.second);
  }

  /// Property Length followed by the properties; `length` is properties_size(p).
  void properties_block(const properties& p, std::size_t length) {
    varint(static_cast<std::uint32_t>(length));
    for_each_property(p, *this);
  }

private:
  void prop(property_id id) { out_.push_back(static_cast<std::uint8_t>(id)); }

  std::vector<std::uint8_t>& out_;
};

/// Property Length + properties.
std::size_t block_size(std::size_t props_len) noexcept {
  return varint_size(static_cast<std::uint32_t>(props_len)) + props_len;
}

/// Grows `out` for `n` more bytes without defeating geometric growth when a caller appends many
/// packets to one buffer (an exact reserve each time would make that quadratic).
void make_room(std::vector<std::uint8_t>& out, std::size_t n) {
  const std::size_t need = out.size() + n;
  if (need > out.capacity()) {
    out.reserve(out.empty() ? need : std::max(need, 2 * out.capacity()));
  }
}

std::uint8_t first_byte(packet_type t, std::uint8_t flags) noexcept {
  return static_cast<std::uint8_t>((static_cast<std::uint8_t>(t) << 4) | flags);
}

/// Variable header + payload size of one packet, plus the property lengths it needs (computed
/// once and reused while writing).
struct layout {
  std::size_t remaining = 0;
  std::size_t props_len = 0;
  std::size_t will_props_len = 0;
};

// -- per-packet layouts -------------------------------------------------------------------------

std::string_view protocol_name(protocol_version v) noexcept {
  return v == protocol_version::v3_1 ? "MQIsdp" : "MQTT";
}

layout layout_of(const connect& c, protocol_version v) noexcept {
  layout l;
  l.remaining = field_size(protocol_name(v)) + 1 + 1 + 2 + field_size(c.client_id);
  if (is_v5(v)) {
    l.props_len = properties_size(c.props);
    l.remaining += block_size(l.props_len);
  }
  if (c.will_message) {
    const auto& w = *c.will_message;
    l.remaining += field_size(w.topic) + field_size(w.payload);
    if (is_v5(v)) {
      l.will_props_len = properties_size(w.props);
      l.remaining += block_size(l.will_props_len);
    }
  }
  if (c.username) {
    l.remaining += field_size(*c.username);
  }
  if (c.password) {
    l.remaining += field_size(*c.password);
  }
  return l;
}

layout layout_of(const connack& c, protocol_version v) noexcept {
  layout l;
  l.remaining = 2;
  if (is_v5(v)) {
    l.props_len = properties_size(c.props);
    l.remaining += block_size(l.props_len);
  }
  return l;
}

/// PUBACK family (MQTT 5 §3.4.2.1): the reason code is left out when it is Success and there are
/// no properties; the Property Length is left out when there are no properties.
template <class Ack>
layout ack_layout(const Ack& a, protocol_version v) noexcept {
  layout l;
  l.remaining = 2;
  if (!is_v5(v)) {
    return l;
  }
  const bool has_props = !a.props.empty();
  if (a.code != reason_code::success || has_props) {
    l.remaining += 1;
  }
  if (has_props) {
    l.props_len = properties_size(a.props);
    l.remaining += block_size(l.props_len);
  }
  return l;
}

layout layout_of(const puback& a, protocol_version v) noexcept { return ack_layout(a, v); }
layout layout_of(const pubrec& a, protocol_version v) noexcept { return ack_layout(a, v); }
layout layout_of(const pubrel& a, protocol_version v) noexcept { return ack_layout(a, v); }
layout layout_of(const pubcomp& a, protocol_version v) noexcept { return ack_layout(a, v); }

layout layout_of(const subscribe& s, protocol_version v) noexcept {
  layout l;
  l.remaining = 2;
  if (is_v5(v)) {
    l.props_len = properties_size(s.props);
    l.remaining += block_size(l.props_len);
  }
  for (const auto& sub : s.subscriptions) {
    l.remaining += field_size(sub.topic_filter) + 1;
  }
  return l;
}

layout layout_of(const suback& s, protocol_version v) noexcept {
  layout l;
  l.remaining = 2 + s.codes.size();
  if (is_v5(v)) {
    l.props_len = properties_size(s.props);
    l.remaining += block_size(l.props_len);
  }
  return l;
}

layout layout_of(const unsubscribe& u, protocol_version v) noexcept {
  layout l;
  l.remaining = 2;
  if (is_v5(v)) {
    l.props_len = properties_size(u.props);
    l.remaining += block_size(l.props_len);
  }
  for (const auto& f : u.topic_filters) {
    l.remaining += field_size(f);
  }
  return l;
}

layout layout_of(const unsuback& u, protocol_version v) noexcept {
  layout l;
  l.remaining = 2;
  if (is_v5(v)) { // 3.1.1 §3.11: no payload
    l.props_len = properties_size(u.props);
    l.remaining += block_size(l.props_len) + u.codes.size();
  }
  return l;
}

layout layout_of(const pingreq&, protocol_version) noexcept { return {}; }
layout layout_of(const pingresp&, protocol_version) noexcept { return {}; }

/// DISCONNECT and AUTH (MQTT 5 §3.14.2.1, §3.15.2.1): Remaining Length 0 for Success without
/// properties, 1 for a reason code without properties. 3.1.x DISCONNECT is always empty; AUTH does
/// not exist there and is written empty as well.
template <class P>
layout code_props_layout(const P& p, protocol_version v) noexcept {
  layout l;
  if (!is_v5(v)) {
    return l;
  }
  const bool has_props = !p.props.empty();
  if (p.code != reason_code::success || has_props) {
    l.remaining = 1;
  }
  if (has_props) {
    l.props_len = properties_size(p.props);
    l.remaining += block_size(l.props_len);
  }
  return l;
}

layout layout_of(const disconnect& d, protocol_version v) noexcept {
  return code_props_layout(d, v);
}
layout layout_of(const auth& a, protocol_version v) noexcept { return code_props_layout(a, v); }

std::size_t publish_remaining(protocol_version v, std::uint8_t qos, std::string_view topic,
                              std::size_t props_len, std::string_view payload) noexcept {
  std::size_t n = field_size(topic) + payload.size();
  if (qos > 0) {
    n += 2;
  }
  if (is_v5(v)) {
    n += block_size(props_len);
  }
  return n;
}

// -- per-packet writers (variable header + payload) ---------------------------------------------

void write_body(writer& w, const connect& c, protocol_version v, const layout& l) {
  w.field(protocol_name(v));
  w.u8(static_cast<std::uint8_t>(v));
  std::uint8_t flags = 0;
  if (c.username) {
    flags |= 0x80;
  }
  if (c.password) {
    flags |= 0x40;
  }
  if (c.will_message) {
    flags |= 0x04;
    flags |= static_cast<std::uint8_t>((c.will_message->qos & 0x03) << 3);
    if (c.will_message->retain) {
      flags |= 0x20;
    }
  }
  if (c.clean_start) {
    flags |= 0x02;
  }
  w.u8(flags);
  w.u16(c.keep_alive);
  if (is_v5(v)) {
    w.properties_block(c.props, l.props_len);
  }
  w.field(c.client_id);
  if (c.will_message) {
    if (is_v5(v)) {
      w.properties_block(c.will_message->props, l.will_props_len);
    }
    w.field(c.will_message->topic);
    w.field(c.will_message->payload);
  }
  if (c.username) {
    w.field(*c.username);
  }
  if (c.password) {
    w.field(*c.password);
  }
}

void write_body(writer& w, const connack& c, protocol_version v, const layout& l) {
  w.u8(c.session_present ? 1 : 0);
  if (!is_v5(v)) {
    w.u8(static_cast<std::uint8_t>(to_v3_return_code(c.code)));
    return;
  }
  w.u8(static_cast<std::uint8_t>(c.code));
  w.properties_block(c.props, l.props_len);
}

template <class Ack>
void write_ack(writer& w, const Ack& a, protocol_version v, const layout& l) {
  w.u16(a.packet_id);
  if (l.remaining > 2) {
    w.u8(static_cast<std::uint8_t>(a.code));
  }
  if (is_v5(v) && !a.props.empty()) {
    w.properties_block(a.props, l.props_len);
  }
}

void write_body(writer& w, const puback& a, protocol_version v, const layout& l) {
  write_ack(w, a, v, l);
}
void write_body(writer& w, const pubrec& a, protocol_version v, const layout& l) {
  write_ack(w, a, v, l);
}
void write_body(writer& w, const pubrel& a, protocol_version v, const layout& l) {
  write_ack(w, a, v, l);
}
void write_body(writer& w, const pubcomp& a, protocol_version v, const layout& l) {
  write_ack(w, a, v, l);
}

void write_body(writer& w, const subscribe& s, protocol_version v, const layout& l) {
  w.u16(s.packet_id);
  if (is_v5(v)) {
    w.properties_block(s.props, l.props_len);
  }
  for (const auto& sub : s.subscriptions) {
    w.field(sub.topic_filter);
    const auto& o = sub.options;
    std::uint8_t opts = o.max_qos & 0x03;
    if (is_v5(v)) { // 3.1.1 §3.8.3.1: only the QoS bits exist
      if (o.no_local) {
        opts |= 0x04;
      }
      if (o.retain_as_published) {
        opts |= 0x08;
      }
      opts |= static_cast<std::uint8_t>((o.retain_handling & 0x03) << 4);
    }
    w.u8(opts);
  }
}

void write_body(writer& w, const suback& s, protocol_version v, const layout& l) {
  w.u16(s.packet_id);
  if (is_v5(v)) {
    w.properties_block(s.props, l.props_len);
    for (const reason_code c : s.codes) {
      w.u8(static_cast<std::uint8_t>(c));
    }
    return;
  }
  // 3.1.1 §3.9.3: 0x00, 0x01, 0x02 grant a QoS; everything else becomes 0x80 Failure.
  for (const reason_code c : s.codes) {
    const auto b = static_cast<std::uint8_t>(c);
    w.u8(b <= 2 ? b : 0x80);
  }
}

void write_body(writer& w, const unsubscribe& u, protocol_version v, const layout& l) {
  w.u16(u.packet_id);
  if (is_v5(v)) {
    w.properties_block(u.props, l.props_len);
  }
  for (const auto& f : u.topic_filters) {
    w.field(f);
  }
}

void write_body(writer& w, const unsuback& u, protocol_version v, const layout& l) {
  w.u16(u.packet_id);
  if (!is_v5(v)) {
    return;
  }
  w.properties_block(u.props, l.props_len);
  for (const reason_code c : u.codes) {
    w.u8(static_cast<std::uint8_t>(c));
  }
}

void write_body(writer&, const pingreq&, protocol_version, const layout&) {}
void write_body(writer&, const pingresp&, protocol_version, const layout&) {}

template <class P>
void write_code_props(writer& w, const P& p, protocol_version v, const layout& l) {
  if (!is_v5(v) || l.remaining == 0) {
    return;
  }
  w.u8(static_cast<std::uint8_t>(p.code));
  if (!p.props.empty()) {
    w.properties_block(p.props, l.props_len);
  }
}

void write_body(writer& w, const disconnect& d, protocol_version v, const layout& l) {
  write_code_props(w, d, v, l);
}
void write_body(writer& w, const auth& a, protocol_version v, const layout& l) {
  write_code_props(w, a, v, l);
}

std::uint8_t flags_of(const packet& p) noexcept {
  switch (type_of(p)) {
  case packet_type::pubrel:
  case packet_type::subscribe:
  case packet_type::unsubscribe:
    return 0x02; // MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1
  default:
    return 0;
  }
}

} // namespace

void encode_varint(std::uint32_t value, std::vector<std::uint8_t>& out) {
  assert(value < 268'435'456u);
  do {
    std::uint8_t b = value & 0x7F;
    value >>= 7;
    if (value != 0) {
      b |= 0x80;
    }
    out.push_back(b);
  } while (value != 0);
}

std::size_t varint_size(std::uint32_t value) noexcept {
  if (value < 128u) {
    return 1;
  }
  if (value < 16'384u) {
    return 2;
  }
  if (value < 2'097'152u) {
    return 3;
  }
  return 4;
}

std::size_t properties_size(const properties& props) noexcept {
  property_sizer s;
  for_each_property(props, s);
  return s.total;
}

std::size_t publish_size(protocol_version version, std::uint8_t qos, std::string_view topic,
                         const properties* props, std::string_view payload) {
  const std::size_t props_len = is_v5(version) && props ? properties_size(*props) : 0;
  const std::size_t rl = publish_remaining(version, qos, topic, props_len, payload);
  return 1 + varint_size(static_cast<std::uint32_t>(rl)) + rl;
}

void encode_publish(std::vector<std::uint8_t>& out, protocol_version version, bool dup,
                    std::uint8_t qos, bool retain, std::string_view topic, std::uint16_t packet_id,
                    const properties* props, std::string_view payload) {
  const bool v5 = is_v5(version);
  const std::size_t props_len = v5 && props ? properties_size(*props) : 0;
  const std::size_t rl = publish_remaining(version, qos, topic, props_len, payload);
  make_room(out, 1 + varint_size(static_cast<std::uint32_t>(rl)) + rl);
  writer w(out);
  std::uint8_t flags = static_cast<std::uint8_t>((qos & 0x03) << 1);
  if (dup) {
    flags |= 0x08;
  }
  if (retain) {
    flags |= 0x01;
  }
  w.u8(first_byte(packet_type::publish, flags));
  w.varint(static_cast<std::uint32_t>(rl));
  w.field(topic);
  if (qos > 0) {
    w.u16(packet_id);
  }
  if (v5) {
    if (props) {
      w.properties_block(*props, props_len);
    } else {
      w.u8(0); // Property Length 0
    }
  }
  w.raw(payload);
}

void encode(const packet& p, protocol_version version, std::vector<std::uint8_t>& out) {
  if (const auto* pub = std::get_if<publish>(&p)) {
    encode_publish(out, version, pub->dup, pub->qos, pub->retain, pub->topic, pub->packet_id,
                   &pub->props, pub->payload);
    return;
  }
  std::visit(
      [&](const auto& pkt) {
        using T = std::decay_t<decltype(pkt)>;
        if constexpr (!std::is_same_v<T, publish>) {
          const layout l = layout_of(pkt, version);
          make_room(out, 1 + varint_size(static_cast<std::uint32_t>(l.remaining)) + l.remaining);
          writer w(out);
          w.u8(first_byte(type_of(p), flags_of(p)));
          w.varint(static_cast<std::uint32_t>(l.remaining));
          [[maybe_unused]] const std::size_t body_start = out.size();
          write_body(w, pkt, version, l);
          assert(out.size() - body_start == l.remaining);
        }
      },
      p);
}

std::size_t encoded_size(const packet& p, protocol_version version) {
  return std::visit(
      [&](const auto& pkt) -> std::size_t {
        using T = std::decay_t<decltype(pkt)>;
        if constexpr (std::is_same_v<T, publish>) {
          return publish_size(version, pkt.qos, pkt.topic, &pkt.props, pkt.payload);
        } else {
          const std::size_t rl = layout_of(pkt, version).remaining;
          return 1 + varint_size(static_cast<std::uint32_t>(rl)) + rl;
        }
      },
      p);
}

} // namespace colony::codec
