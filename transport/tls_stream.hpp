// The TLS stream policy for stream_link and helpers for TLS handshakes. Included by tls.cpp and
// ws.cpp only (OpenSSL headers stay out of the rest).
#pragma once

#include "transport/detail.hpp"

#include <boost/asio/ssl.hpp>

namespace colony::transport::detail {

namespace ssl = boost::asio::ssl;
using ssl_stream = ssl::stream<tcp::socket>;

template <>
struct stream_ops<ssl_stream> {
  static tcp::socket& socket(ssl_stream& s) { return s.next_layer(); }

  template <class Buffer, class Handler>
  static void async_read_some(ssl_stream& s, const Buffer& b, Handler&& h) {
    s.async_read_some(b, std::forward<Handler>(h));
  }

  template <class Buffers, class Handler>
  static void async_write(ssl_stream& s, const Buffers& b, Handler&& h) {
    asio::async_write(s, b, std::forward<Handler>(h));
  }

  static bool read_ok(ssl_stream&) { return true; }

  static bool is_peer_close(const boost::system::error_code& ec) {
    // stream_truncated: the client closed TCP without close_notify (common, harmless here
    // since MQTT frames itself).
    return ec == asio::error::eof || ec == ssl::error::stream_truncated;
  }

  static constexpr bool can_wait_readable = false; // TLS/WebSocket buffer inside
  static constexpr bool can_send_directly = false; // only the I/O thread may write
  static constexpr bool has_graceful_close = true;
  static constexpr bool graceful_close_needs_idle_read = true;
  template <class Handler>
  static void async_graceful_close(ssl_stream& s, Handler&& h) {
    s.async_shutdown(std::forward<Handler>(h));
  }
};

/// The Common Name of the client certificate if one was sent and verified, else "".
std::string verified_peer_cn(SSL* ssl);

/// A readable reason for a failed handshake (OpenSSL's reason string when there is one).
std::string handshake_error_text(const boost::system::error_code& ec, SSL* ssl);

} // namespace colony::transport::detail
