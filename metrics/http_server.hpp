// A small HTTP/1.1 server (Boost.Beast) on its own thread: one io_context, keep-alive,
// bounded request size, idle timeout. Every request goes to one handler, called on the
// server thread (it may block briefly; it never runs on an MQTT I/O thread or an actor).
// Beast stays inside http_server.cpp.
#pragma once

#include "metrics/http_api.hpp"

#include <functional>
#include <memory>
#include <string>

namespace colony::metrics::http {

class server {
public:
  using handler = std::function<response(const request&)>;

  explicit server(handler h);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds `host`:`port` (0 = any free port). Returns the bound port, or -1 and sets `error`.
  int listen(const std::string& host, int port, std::string& error);
  /// Starts the server thread.
  void start();
  /// Closes the listener and every connection, joins the thread. Idempotent.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace colony::metrics::http
