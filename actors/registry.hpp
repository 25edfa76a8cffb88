// The session registry: client id -> session actor. Creates sessions, attaches connections to
// them (taking over an existing connection), ends them on clean start or expiry, and is the
// one place that knows every session (admin API, shutdown).
#pragma once

#include "actors/messages.hpp"
#include "actors/session_logic.hpp"

#include "transport/striped_map.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>

namespace colony::actors {

/// The client ids the registry knows, shared with the I/O threads: a CONNECT whose client id has
/// no session is handled on the thread that read it (session spawned and attached there, its
/// CONNACK written in the same turn) instead of going through the registry actor, which would
/// mean two hops between threads per connect. Everything else (an existing client id: take-over,
/// resumption, Clean Start; expiry; shutdown; the admin API) stays with the registry actor.
/// The table is split in lock stripes by client id; both sides change an entry only under its
/// stripe's lock.
class session_directory {
public:
  struct entry {
    caf::actor session;
    std::uint64_t session_id = 0;
    std::uint64_t attach_count = 0;
  };
  using table = transport::striped_map<std::string, entry, 64>;
  using stripe = table::stripe;

  stripe& stripe_of(const std::string& client_id) { return sessions_.stripe_of(client_id); }
  template <class F>
  void for_each_stripe(F&& f) {
    sessions_.for_each_stripe(std::forward<F>(f));
  }

  std::atomic<std::uint64_t> next_session_id{1};
  /// Set (before the stripes are visited) by the registry's shutdown: no new sessions here.
  std::atomic<bool> shutting_down{false};
  /// Set by the registry actor when it has started (the fields below are set before); until
  /// then every CONNECT goes to it.
  std::atomic<bool> open{false};
  caf::actor registry;
  caf::actor_system* system = nullptr;
  std::shared_ptr<const session_limits> limits;
  shard_list shards;

private:
  // Buckets for 16k sessions up front (64 KB per 8k buckets).
  table sessions_{256};
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
