// The transport's face toward the rest of the broker: a `link` is one client connection
// (TCP, TLS, WebSocket, ...) that has already been split into MQTT packets, and a
// `link_handler` is who the packets go to. No Asio and no CAF here, so the actors layer can
// use links without knowing how bytes move, and tests can fake them.
#pragma once

#include "codec/packets.hpp"
#include "codec/reason_code.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace colony::transport {

/// Why a link closed. Reported exactly once to the handler.
enum class close_reason : std::uint8_t {
  peer_closed,       ///< EOF from the client
  io_error,          ///< read/write error (reset, broken pipe, TLS failure)
  protocol_error,    ///< the decoder rejected the stream (see close_info::code)
  keepalive_timeout, ///< no packet within 1.5 x keepalive (MQTT-3.1.2-24)
  connect_timeout,   ///< no CONNECT in time
  server_close,      ///< the broker called close()
  shutdown,          ///< the transport is stopping
};

std::string_view to_string(close_reason r) noexcept;

struct close_info {
  close_reason reason = close_reason::peer_closed;
  codec::reason_code code = codec::reason_code::success; ///< for protocol_error
};

/// A batch of packets decoded from one read. Sent as one actor message.
using packet_batch = std::vector<codec::packet>;

/// Receives what a link decodes. Called on the link's I/O thread, never concurrently for one
/// link. After on_close nothing more is called.
class link_handler {
public:
  virtual ~link_handler() = default;
  /// Complete packets in stream order. The handler calls link::batch_done() once it has
  /// processed them (read flow control).
  virtual void on_packets(packet_batch batch) = 0;
  /// The outgoing buffer fell below the low-water mark after link::notify_when_drained().
  virtual void on_drained() = 0;
  virtual void on_close(close_info info) = 0;
};

/// One client connection. Every member function is thread-safe.
class link {
public:
  virtual ~link() = default;

  /// Process-unique id of this connection.
  virtual std::uint64_t id() const noexcept = 0;
  /// "ip:port" of the peer (for logs and ACL ip rules).
  virtual const std::string& remote_address() const noexcept = 0;
  /// The peer's IP address only.
  virtual const std::string& remote_ip() const noexcept = 0;
  /// Listener name: "mqtt", "mqtts", "ws", "wss", "unix".
  virtual const std::string& listener() const noexcept = 0;
  /// Identity proven by the transport: the Common Name of a verified TLS client certificate
  /// (mutual TLS on "mqtts"/"wss"); empty when there is none (plain links, no certificate).
  virtual const std::string& peer_identity() const noexcept {
    static const std::string none;
    return none;
  }

  /// Queues bytes for sending; many calls are coalesced into one write.
  virtual void write(std::vector<std::uint8_t> bytes) = 0;
  /// Bytes queued and not yet written to the socket.
  virtual std::size_t queued_bytes() const noexcept = 0;
  /// Asks for one on_drained() once queued bytes fall to the low-water mark.
  virtual void notify_when_drained() = 0;

  /// Closes the link after writing what is queued (bounded by a short timeout).
  virtual void close() = 0;

  /// After CONNECT, decoding pauses until the broker has answered it; this resumes it.
  virtual void resume() = 0;
  /// While paused after CONNECT: decodes one more packet, then pauses again. Enhanced
  /// authentication (MQTT 5 §4.12) reads the client's AUTH packets this way until CONNACK, so
  /// nothing decoded before the session takes the link is lost.
  virtual void resume_one() { resume(); }
  /// Flow control: one batch given to on_packets has been processed.
  virtual void batch_done() = 0;

  /// Keep-alive in seconds (0 = none); the link closes after 1.5x without a packet.
  virtual void set_keepalive(std::uint16_t seconds) = 0;
  /// Largest inbound packet accepted from now on.
  virtual void set_max_packet_size(std::size_t bytes) = 0;
};

using link_ptr = std::shared_ptr<link>;

} // namespace colony::transport
