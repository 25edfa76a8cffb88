// The session registry: client id -> session actor. Creates sessions, attaches connections to
// them (taking over an existing connection), ends them on clean start or expiry, and is the
// one place that knows every session (admin API, shutdown).
#pragma once

#include "actors/messages.hpp"
#include "actors/session_logic.hpp"

#include <caf/all.hpp>

namespace colony::actors {

struct registry_args {
  session_limits limits;
  shard_list shards;
  /// Sessions read from the persistent store, restored before the first connect.
  std::shared_ptr<persistence::loaded_state> loaded;
};

caf::actor spawn_registry(caf::actor_system& sys, registry_args args);

} // namespace colony::actors
