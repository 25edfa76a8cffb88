// The broker's HTTP endpoint: metrics::http::server + router, backed by the actor system.
// The HTTP thread asks actors with a caf::scoped_actor and request/receive with timeouts
// (never blocking an actor, never touching the MQTT hot path).
#pragma once

#include <caf/fwd.hpp>
#include <caf/actor.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace colony::server {

struct admin_options {
  std::string host = "127.0.0.1";
  int port = 8080;             ///< 0 = any free port
  std::string api_token;       ///< empty = the /api/ routes are open
  std::string version;
  caf::actor registry;         ///< the session registry
  std::size_t shard_count = 0; ///< topic shard actors (for colony_actors{kind})
  std::chrono::milliseconds timeout{2000}; ///< per actor request
};

class admin_endpoint {
public:
  admin_endpoint(caf::actor_system& sys, admin_options options);
  ~admin_endpoint();
  admin_endpoint(const admin_endpoint&) = delete;
  admin_endpoint& operator=(const admin_endpoint&) = delete;

  /// Binds and starts serving; logs the "listening" line (listener "http"). Returns false
  /// (after logging why) if it cannot listen.
  bool start();
  /// Stops serving and joins the HTTP thread. Idempotent.
  void stop();

  int port() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace colony::server
