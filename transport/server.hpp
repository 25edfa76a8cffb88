// The transport server: listeners and the I/O threads that run every link. Bytes in, packets
// out to a link_handler; encoded bytes in from any thread, coalesced writes out.
#pragma once

#include "transport/link.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace colony::transport {

struct transport_options {
  std::size_t io_threads = 1;
  /// Largest inbound packet before CONNECT sets a tighter limit (MQTT 5 Maximum Packet Size).
  std::size_t max_packet_size = 1024 * 1024;
  /// Time allowed between accept and a complete CONNECT.
  std::chrono::milliseconds connect_timeout{10'000};
  /// Bytes a link may have queued for writing; callers check queued_bytes() against it.
  std::size_t max_write_buffer = 1024 * 1024;
  /// Decoded batches handed to the handler and not yet processed before reading pauses.
  int max_outstanding_batches = 4;
  /// Initial size of each link's read buffer (grows up to the packet size limit).
  std::size_t read_buffer_size = 4096;
};

struct listener_options {
  std::string name = "mqtt"; ///< "mqtt", "mqtts", "ws", "wss", "unix"
  std::string host = "127.0.0.1";
  int port = 1883; ///< 0 picks a free port
  std::size_t max_connections = 0; ///< 0 = unlimited
};

/// Called on an I/O thread for each accepted connection; returns who receives its packets.
using accept_handler = std::function<std::shared_ptr<link_handler>(link_ptr)>;

class server {
public:
  explicit server(transport_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and listens. Returns the bound port, or -1 and sets `error`.
  int add_tcp_listener(const listener_options& options, accept_handler on_accept,
                       std::string& error);

  /// Starts the I/O threads. Listeners added before start accept from then on.
  void start();
  /// Stops accepting new connections (listeners closed).
  void stop_accepting();
  /// Closes every open link (each handler sees on_close(shutdown)).
  void close_all();
  /// Joins the I/O threads. Call after close_all().
  void stop();

  /// Open links right now.
  std::size_t connection_count() const noexcept;

  const transport_options& options() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace colony::transport
