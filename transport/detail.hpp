// Internal to the transport: what server.cpp (listeners, no OpenSSL, no Beast) shares with
// tls.cpp (OpenSSL contexts, TLS handshakes) and ws.cpp (the only Beast translation unit).
#pragma once

#include "transport/server.hpp"
#include "transport/stream_link.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace boost::asio::ssl {
class context;
}

namespace colony::transport::detail {

using tcp = boost::asio::ip::tcp;
using ssl_context_ptr = std::shared_ptr<boost::asio::ssl::context>;

/// A connection accepted on a tls, ws or wss listener whose handshake is still to be done.
struct pending_conn {
  link_info info;
  link_config cfg; ///< cfg.connect_timeout is filled in when the handshake is done
  /// End of the CONNECT timeout, counted from accept: handshakes must finish before it.
  std::chrono::steady_clock::time_point deadline;
  /// Registers the link, asks the accept handler for its handler and starts it.
  std::function<void(std::shared_ptr<link_base>)> ready;
  /// For handshake failures (may be empty).
  event_handler on_event;

  /// Time left for the CONNECT once the handshake is done (at least 1 ms).
  std::chrono::milliseconds remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? left : std::chrono::milliseconds{1};
  }

  void report(event_level level, std::string_view msg, std::string_view detail) const {
    if (on_event)
      on_event(transport_event{level, msg, info.listener, info.address, detail});
  }
};

/// The certificate, key and CA of the TLS listeners, as one ssl::context per generation: a
/// reload builds a new context for new connections; connections keep the one they started with.
class tls_store {
public:
  explicit tls_store(tls_options options);
  ~tls_store();

  /// Builds a context from the files. On success it becomes current; on failure the
  /// current one stays and `error` says why.
  bool load(std::string& error);
  /// True (once) when any of the files changed on disk since the last load.
  bool files_changed();
  /// The context for a new connection.
  ssl_context_ptr current() const;
  const tls_options& options() const noexcept { return options_; }
  /// "cert=..., key=..., ca=..." for log lines.
  std::string describe() const;
  /// Serial number (hex) of the certificate currently served.
  std::string serial() const;

private:
  struct stamp {
    bool exists = false;
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const stamp&) const = default;
  };
  std::vector<std::string> files() const;
  std::vector<stamp> stamps() const;

  tls_options options_;
  mutable std::mutex mtx_;
  ssl_context_ptr current_;
  std::string serial_;
  std::vector<stamp> loaded_stamps_;
};

/// TLS handshake, then a stream_link over ssl::stream<tcp::socket>.
void accept_tls(tcp::socket sock, ssl_context_ptr ctx, pending_conn conn);

/// WebSocket upgrade (after a TLS handshake when `ctx` is set), then a stream_link over
/// websocket::stream<...>. Only `path` is upgraded; other paths get 404, requests without an
/// upgrade get 426.
void accept_ws(tcp::socket sock, ssl_context_ptr ctx, std::string path, pending_conn conn);

} // namespace colony::transport::detail
