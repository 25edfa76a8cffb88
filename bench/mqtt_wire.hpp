// Minimal MQTT 3.1.1 client-side wire format for the Colony load generator.
//
// This is deliberately independent from the broker's codec (/work/main/codec):
// a benchmark that shares the codec under test could hide codec bugs on both
// sides of the wire. Only what the load generator needs is implemented:
//   encode: CONNECT, SUBSCRIBE, PUBLISH, PUBACK, PINGREQ, DISCONNECT
//   decode: fixed header framing, CONNACK, SUBACK, PUBLISH, PUBACK
// All multi-byte integers on the wire are big-endian (MQTT 3.1.1 §1.5.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace colony::bench::mqtt {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Control packet types (high nibble of the first byte).
enum class PacketType : std::uint8_t {
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
};

// The largest value the 4-byte "remaining length" varint can hold.
inline constexpr std::uint32_t kMaxRemainingLength = 268'435'455;

// Appends the variable-length "remaining length" encoding of `len` (1-4 bytes).
// Precondition: len <= kMaxRemainingLength.
void append_remaining_length(Bytes& out, std::uint32_t len);

// Number of bytes append_remaining_length() would write for `len`.
std::size_t remaining_length_size(std::uint32_t len);

// ---- encoders (append to `out`, return nothing; callers own buffering) -----

struct ConnectOptions {
  std::string_view client_id;
  std::uint16_t keep_alive_s = 60;
  bool clean_session = true;
};
void append_connect(Bytes& out, const ConnectOptions& opts);

// SUBSCRIBE with a single topic filter. Fixed header flags are 0b0010 (§3.8.1).
void append_subscribe(Bytes& out, std::uint16_t packet_id, std::string_view filter,
                      std::uint8_t qos);

// PUBLISH. `packet_id` is only written for qos > 0. The payload is given in
// two parts (a header and `filler_len` bytes of filler) so the load generator
// never has to assemble it in a temporary buffer; filler bytes are 'x'.
void append_publish(Bytes& out, std::string_view topic, std::uint8_t qos,
                    std::uint16_t packet_id, ByteView payload_head, std::size_t filler_len,
                    bool dup = false, bool retain = false);

void append_puback(Bytes& out, std::uint16_t packet_id);
void append_pingreq(Bytes& out);
void append_disconnect(Bytes& out);

// ---- framing -----------------------------------------------------------------

// One complete control packet found at the front of a byte stream.
struct Frame {
  std::uint8_t first_byte = 0;  // type (high nibble) and flags (low nibble)
  ByteView body;                // variable header + payload ("remaining length" bytes)
  std::size_t total_size = 0;   // fixed header + body; what to consume from the stream

  PacketType type() const { return static_cast<PacketType>(first_byte >> 4); }
  std::uint8_t flags() const { return first_byte & 0x0F; }
};

enum class ParseStatus { ok, need_more, malformed };

struct ParseResult {
  ParseStatus status = ParseStatus::need_more;
  Frame frame;  // valid only when status == ok
};

// Tries to split one control packet off the front of `data`. Never reads past
// data.size(); returns need_more for an incomplete packet (including an
// incomplete remaining-length varint) and malformed for a varint longer than
// 4 bytes or a length above `max_packet` (a guard against garbage).
ParseResult parse_frame(ByteView data, std::uint32_t max_packet = kMaxRemainingLength);

// ---- packet decoders (input: Frame::body, plus flags where relevant) ---------

struct Connack {
  bool session_present = false;
  std::uint8_t return_code = 0;  // 0 = accepted
};
std::optional<Connack> decode_connack(ByteView body);

struct Suback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> return_codes;  // 0x00-0x02 granted QoS, 0x80 failure
};
std::optional<Suback> decode_suback(ByteView body);

struct Publish {
  std::string_view topic;  // views into the frame body
  ByteView payload;
  std::uint16_t packet_id = 0;  // 0 for QoS 0
  std::uint8_t qos = 0;
  bool dup = false;
  bool retain = false;
};
// `flags` is Frame::flags(). Rejects QoS 3 and a QoS>0 packet id of 0.
std::optional<Publish> decode_publish(std::uint8_t flags, ByteView body);

// PUBACK body is exactly the 2-byte packet id.
std::optional<std::uint16_t> decode_puback(ByteView body);

// Human-readable text for a CONNACK return code (for error messages).
const char* connack_reason(std::uint8_t code);

}  // namespace colony::bench::mqtt
