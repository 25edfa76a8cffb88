// Incremental MQTT frame decoder: bytes in, one packet (plus bytes used), "need more", or the
// reason code that explains why the stream is broken. Never reads past its input and rejects an
// oversize packet from its Remaining Length before any of its body is buffered.
#pragma once

#include "packets.hpp"
#include "reason_code.hpp"
#include "result.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace colony::codec {

/// MQTT's absolute maximum packet size: 1 byte header + 4 bytes length + 268,435,455.
inline constexpr std::size_t absolute_max_packet_size = 268'435'460;

enum class decode_status : std::uint8_t {
  need_more, ///< Input holds no complete packet yet; call again with more bytes.
  packet,    ///< `pkt` holds one packet; `used` bytes of input were consumed.
  error,     ///< The stream is broken; `error` says why. Close the connection.
};

struct decode_result {
  decode_status status = decode_status::need_more;
  std::size_t used = 0;
  reason_code error = reason_code::success;
  packet pkt;
};

/// The fixed header (MQTT 5 §2.1): type, the four flag bits, remaining length.
struct fixed_header {
  packet_type type = packet_type::connect;
  std::uint8_t flags = 0;
  std::size_t remaining_length = 0;
  std::size_t header_size = 0; ///< 2..5 bytes
};

/// Decodes a fixed header from `input`. need_more if it is incomplete; malformed_packet for a
/// Remaining Length longer than 4 bytes or packet type 0; packet_too_large if header + remaining
/// length exceeds `max_packet_size`. On success `used` is unset (0); the header is returned via out.
decode_status decode_fixed_header(std::span<const std::uint8_t> input, std::size_t max_packet_size,
                                  fixed_header& out, reason_code& error) noexcept;

/// Decodes one packet body (the `remaining_length` bytes after the fixed header).
/// `version` selects the 3.1.x or 5.0 layout; CONNECT ignores it (it carries its own level).
result<packet> decode_packet(const fixed_header& header, std::span<const std::uint8_t> body,
                             protocol_version version);

/// True if `code` is a reason code the spec defines for packet type `t` in `version` (CONNACK,
/// PUBACK/PUBREC/PUBREL/PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH; MQTT 5 §3.x.2.1 tables).
/// For a 3.1.x CONNACK, `code` is the return code 0..5. False for packet types without a code.
bool is_valid_reason_code(packet_type t, std::uint8_t code, protocol_version version) noexcept;

/// Stateful decoder for one connection's byte stream. It knows the protocol version, which it
/// learns from the CONNECT packet it decodes.
class stream_decoder {
public:
  explicit stream_decoder(std::size_t max_packet_size = absolute_max_packet_size) noexcept
    : max_packet_size_(max_packet_size) {}

  /// Decodes at most one packet from the front of `input`.
  decode_result next(std::span<const std::uint8_t> input);

  protocol_version version() const noexcept { return version_; }
  void set_version(protocol_version v) noexcept { version_ = v; }
  std::size_t max_packet_size() const noexcept { return max_packet_size_; }
  void set_max_packet_size(std::size_t n) noexcept { max_packet_size_ = n; }

private:
  std::size_t max_packet_size_;
  protocol_version version_ = protocol_version::v3_1_1;
};

} // namespace colony::codec
