// See mqtt_wire.hpp. MQTT 3.1.1 (OASIS standard, 29 October 2014).
#include "mqtt_wire.hpp"

#include <cassert>

namespace colony::bench::mqtt {
namespace {

void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

// UTF-8 string with a 2-byte length prefix (§1.5.3). Callers pass short,
// program-generated ASCII strings, so no validation is done here.
void put_string(Bytes& out, std::string_view s) {
  assert(s.size() <= 0xFFFF);
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

std::uint16_t get_u16(ByteView b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

}  // namespace

void append_remaining_length(Bytes& out, std::uint32_t len) {
  assert(len <= kMaxRemainingLength);
  do {
    std::uint8_t byte = len % 128;
    len /= 128;
    if (len > 0) byte |= 0x80;
    out.push_back(byte);
  } while (len > 0);
}

std::size_t remaining_length_size(std::uint32_t len) {
  if (len < 128) return 1;
  if (len < 16'384) return 2;
  if (len < 2'097'152) return 3;
  return 4;
}

void append_connect(Bytes& out, const ConnectOptions& opts) {
  // Variable header: protocol name "MQTT", level 4, connect flags, keep alive.
  const std::uint32_t remaining = 10 + 2 + static_cast<std::uint32_t>(opts.client_id.size());
  out.push_back(static_cast<std::uint8_t>(PacketType::connect) << 4);
  append_remaining_length(out, remaining);
  put_string(out, "MQTT");
  out.push_back(4);                                  // protocol level 3.1.1
  out.push_back(opts.clean_session ? 0x02 : 0x00);   // no will, no user/password
  put_u16(out, opts.keep_alive_s);
  put_string(out, opts.client_id);                   // payload: client identifier
}

void append_subscribe(Bytes& out, std::uint16_t packet_id, std::string_view filter,
                      std::uint8_t qos) {
  const std::uint32_t remaining = 2 + 2 + static_cast<std::uint32_t>(filter.size()) + 1;
  out.push_back((static_cast<std::uint8_t>(PacketType::subscribe) << 4) | 0x02);
  append_remaining_length(out, remaining);
  put_u16(out, packet_id);
  put_string(out, filter);
  out.push_back(qos);
}

void append_publish(Bytes& out, std::string_view topic, std::uint8_t qos,
                    std::uint16_t packet_id, ByteView payload_head, std::size_t filler_len,
                    bool dup, bool retain) {
  const std::size_t remaining = 2 + topic.size() + (qos > 0 ? 2 : 0) + payload_head.size() +
                                filler_len;
  assert(remaining <= kMaxRemainingLength);
  std::uint8_t first = static_cast<std::uint8_t>(PacketType::publish) << 4;
  if (dup) first |= 0x08;
  first |= static_cast<std::uint8_t>((qos & 0x03) << 1);
  if (retain) first |= 0x01;
  out.reserve(out.size() + 1 + 4 + remaining);
  out.push_back(first);
  append_remaining_length(out, static_cast<std::uint32_t>(remaining));
  put_string(out, topic);
  if (qos > 0) put_u16(out, packet_id);
  out.insert(out.end(), payload_head.begin(), payload_head.end());
  out.insert(out.end(), filler_len, static_cast<std::uint8_t>('x'));
}

void append_puback(Bytes& out, std::uint16_t packet_id) {
  out.push_back(static_cast<std::uint8_t>(PacketType::puback) << 4);
  out.push_back(2);
  put_u16(out, packet_id);
}

void append_pingreq(Bytes& out) {
  out.push_back(static_cast<std::uint8_t>(PacketType::pingreq) << 4);
  out.push_back(0);
}

void append_disconnect(Bytes& out) {
  out.push_back(static_cast<std::uint8_t>(PacketType::disconnect) << 4);
  out.push_back(0);
}

ParseResult parse_frame(ByteView data, std::uint32_t max_packet) {
  ParseResult r;
  if (data.size() < 2) return r;  // need_more
  std::uint32_t len = 0;
  std::uint32_t multiplier = 1;
  std::size_t i = 1;
  for (;; ++i) {
    if (i > 4) {  // a 5th length byte: §2.2.3 allows at most four
      r.status = ParseStatus::malformed;
      return r;
    }
    if (i >= data.size()) return r;  // need_more (varint incomplete)
    const std::uint8_t b = data[i];
    len += static_cast<std::uint32_t>(b & 0x7F) * multiplier;
    multiplier *= 128;
    if ((b & 0x80) == 0) break;
  }
  if (len > max_packet) {
    r.status = ParseStatus::malformed;
    return r;
  }
  const std::size_t header = i + 1;
  if (data.size() - header < len) return r;  // need_more (body incomplete)
  r.status = ParseStatus::ok;
  r.frame.first_byte = data[0];
  r.frame.body = data.subspan(header, len);
  r.frame.total_size = header + len;
  return r;
}

std::optional<Connack> decode_connack(ByteView body) {
  if (body.size() != 2) return std::nullopt;
  if ((body[0] & 0xFE) != 0) return std::nullopt;  // reserved bits must be 0
  return Connack{(body[0] & 0x01) != 0, body[1]};
}

std::optional<Suback> decode_suback(ByteView body) {
  if (body.size() < 3) return std::nullopt;
  Suback s;
  s.packet_id = get_u16(body, 0);
  s.return_codes.assign(body.begin() + 2, body.end());
  for (std::uint8_t c : s.return_codes)
    if (c > 2 && c != 0x80) return std::nullopt;
  return s;
}

std::optional<Publish> decode_publish(std::uint8_t flags, ByteView body) {
  Publish p;
  p.dup = (flags & 0x08) != 0;
  p.qos = (flags >> 1) & 0x03;
  p.retain = (flags & 0x01) != 0;
  if (p.qos == 3) return std::nullopt;
  if (body.size() < 2) return std::nullopt;
  const std::size_t topic_len = get_u16(body, 0);
  std::size_t at = 2 + topic_len;
  if (body.size() < at) return std::nullopt;
  p.topic = std::string_view(reinterpret_cast<const char*>(body.data()) + 2, topic_len);
  if (p.qos > 0) {
    if (body.size() < at + 2) return std::nullopt;
    p.packet_id = get_u16(body, at);
    if (p.packet_id == 0) return std::nullopt;
    at += 2;
  }
  p.payload = body.subspan(at);
  return p;
}

std::optional<std::uint16_t> decode_puback(ByteView body) {
  if (body.size() != 2) return std::nullopt;
  return get_u16(body, 0);
}

const char* connack_reason(std::uint8_t code) {
  switch (code) {
    case 0: return "accepted";
    case 1: return "unacceptable protocol version";
    case 2: return "identifier rejected";
    case 3: return "server unavailable";
    case 4: return "bad user name or password";
    case 5: return "not authorized";
    default: return "unknown return code";
  }
}

}  // namespace colony::bench::mqtt
