// The session registry: client id -> session actor. Creates sessions, attaches connections to
// them (taking over an existing connection), ends them on clean start or expiry, and is the
// one place that knows every session (admin API, shutdown).
#pragma once

#include "actors/messages.hpp"
#include "actors/session_logic.hpp"

#include <caf/all.hpp>

#include <mutex>
#include <string>
#include <unordered_map>

namespace colony::actors {

/// The client ids the registry knows, shared with the I/O threads: a CONNECT whose client id has
/// no session is handled on the thread that read it (session spawned and attached there, its
/// CONNACK written in the same turn) instead of going through the registry actor, which would
/// mean two hops between threads per connect. Everything else (an existing client id: take-over,
/// resumption, Clean Start; expiry; shutdown; the admin API) stays with the registry actor.
/// Both sides change the table only under `mtx`.
class session_directory {
public:
  struct entry {
    caf::actor session;
    std::uint64_t session_id = 0;
    std::uint64_t attach_count = 0;
  };
  std::mutex mtx;
  std::unordered_map<std::string, entry> sessions;
  std::uint64_t next_session_id = 1;
  bool shutting_down = false;
  /// Set by the registry actor when it starts; until then every CONNECT goes to it.
  caf::actor registry;
  caf::actor_system* system = nullptr;
  std::shared_ptr<const session_limits> limits;
  shard_list shards;
};

/// On the I/O thread: starts a session for `req` if its client id has none and attaches the
/// connection (the session runs on this thread). False if the client id is known (or the
/// registry has not started): then `req` is untouched and goes to the registry actor.
bool connect_new_client(session_directory& dir, connect_request& req, bool assigned_id);

struct registry_args {
  session_limits limits;
  shard_list shards;
  /// Sessions read from the persistent store, restored before the first connect.
  std::shared_ptr<persistence::loaded_state> loaded;
  /// Shared with the connections (connection_args::directory); made here if null.
  std::shared_ptr<session_directory> directory;
};

caf::actor spawn_registry(caf::actor_system& sys, registry_args args);

} // namespace colony::actors
