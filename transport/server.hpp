// The transport server: listeners and the I/O threads that run every link. Bytes in, packets
// out to a link_handler; encoded bytes in from any thread, coalesced writes out.
//
// Listener kinds: MQTT over TCP, over TLS, over WebSocket, over WebSocket over TLS, and over a
// Unix-domain socket. They all end in the same read/decode/write path (stream_link); TLS and
// WebSocket only add a handshake in front of it, and that handshake counts against the
// CONNECT timeout.
#pragma once

#include "transport/link.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace colony::transport {

enum class event_level : std::uint8_t { debug, info, warn, error };

/// Something the transport wants logged (handshake failures, certificate reloads, ...). The
/// transport has no logger of its own: the broker maps these to log lines.
struct transport_event {
  event_level level = event_level::info;
  std::string_view msg;
  std::string_view listener; ///< may be empty
  std::string_view address;  ///< peer "ip:port", may be empty
  std::string_view detail;   ///< error text or file names, may be empty
};

using event_handler = std::function<void(const transport_event&)>;

class io_pool;

struct transport_options {
  /// The I/O threads to run on (shared with the broker's actor scheduler); null: the server
  /// makes its own pool of io_threads threads. A shared pool must be stopped before the server
  /// is destroyed.
  std::shared_ptr<io_pool> pool;
  std::size_t io_threads = 1;
  /// Largest inbound packet before CONNECT sets a tighter limit (MQTT 5 Maximum Packet Size).
  std::size_t max_packet_size = 1024 * 1024;
  /// Time allowed between accept and a complete CONNECT (TLS and WebSocket handshakes
  /// included).
  std::chrono::milliseconds connect_timeout{10'000};
  /// Bytes a link may have queued for writing; callers check queued_bytes() against it.
  std::size_t max_write_buffer = 1024 * 1024;
  /// Decoded batches handed to the handler and not yet processed before reading pauses.
  int max_outstanding_batches = 4;
  /// Initial size of each link's read buffer (grows up to the packet size limit). Plain TCP and
  /// Unix links hold it only while they have undecoded bytes (see read_buffer.hpp).
  std::size_t read_buffer_size = 4096;
  /// Receives transport events; may be empty. Called from I/O threads and from reload_tls().
  event_handler on_event;
};

/// Server certificate and client verification for the "mqtts" and "wss" listeners.
struct tls_options {
  std::string cert_file; ///< PEM certificate chain (leaf first)
  std::string key_file;  ///< PEM private key; empty = in cert_file
  std::string ca_file;   ///< PEM CA bundle for client certificates; empty = none
  /// Require a client certificate signed by ca_file (mutual TLS). Without it a client
  /// certificate is optional, and checked against ca_file when sent.
  bool verify_peer = false;
  /// OpenSSL cipher list for TLS 1.2 and/or TLS 1.3 suite names (names starting "TLS_"),
  /// ':'-separated; empty = OpenSSL's defaults.
  std::string ciphers;
  /// Lowest protocol version accepted: "1.2" (default) or "1.3".
  std::string min_version = "1.2";
  /// How often the files' modification times are checked for rotation (0 = never; reload_tls()
  /// still works).
  std::chrono::milliseconds watch_interval{2000};
};

enum class listener_kind : std::uint8_t { tcp, tls, ws, wss, unix_socket };

struct listener_options {
  std::string name = "mqtt"; ///< "mqtt", "mqtts", "ws", "wss", "unix"
  listener_kind kind = listener_kind::tcp;
  std::string host = "127.0.0.1";
  int port = 1883; ///< 0 picks a free port
  std::size_t max_connections = 0; ///< 0 = unlimited
  std::string ws_path = "/mqtt";   ///< ws and wss: the only path upgraded (others get 404)
  std::string socket_path;         ///< unix_socket: file system path of the socket
};

/// Called on an I/O thread for each accepted connection (after its TLS/WebSocket handshake);
/// returns who receives its packets.
using accept_handler = std::function<std::shared_ptr<link_handler>(link_ptr)>;

class server {
public:
  explicit server(transport_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Loads the certificate, key and CA for TLS listeners. Call before adding a tls or wss
  /// listener. Returns false and sets `error` if the files cannot be used.
  bool configure_tls(const tls_options& options, std::string& error);

  /// Reloads the TLS files now (SIGHUP). New connections use the new certificate; open ones
  /// keep theirs. On failure the old certificate stays in use and `error` says why.
  bool reload_tls(std::string& error);

  /// Binds and listens. Returns the bound port (0 for a Unix socket), or -1 and sets `error`.
  int add_listener(const listener_options& options, accept_handler on_accept, std::string& error);

  /// Same as add_listener with kind tcp (kept for existing callers).
  int add_tcp_listener(const listener_options& options, accept_handler on_accept,
                       std::string& error);

  /// Starts the I/O threads. Listeners added before start accept from then on.
  void start();
  /// Stops accepting new connections (listeners closed).
  void stop_accepting();
  /// Closes every open link (each handler sees on_close(shutdown)).
  void close_all();
  /// Joins the I/O threads (its own pool), or closes the listeners and lets a shared pool run
  /// on. Call after close_all().
  void stop();

  /// Open links right now (connections still in their TLS/WebSocket handshake not included).
  std::size_t connection_count() const noexcept;

  const transport_options& options() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace colony::transport
