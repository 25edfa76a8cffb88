// broker: everything one Colony node runs — CAF actor system, topic shards, session registry,
// $SYS publisher and the transport listeners — started and stopped in the right order.
#pragma once

#include "config/settings.hpp"

#include <memory>

namespace colony::server {

class broker {
public:
  explicit broker(config::settings s);
  ~broker();

  /// Starts listeners and actors. Returns false (after logging why) if a listener fails.
  bool start();
  /// SIGHUP: reload what can be reloaded.
  void reload();
  /// Stops accepting, disconnects clients (MQTT 5: 0x8B), stops every thread.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace colony::server
