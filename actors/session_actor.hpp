// The session actor: one per client id, outliving its connections. Wraps session_logic and
// carries out what it asks: writes go straight to the attached link, publishes to the topic
// shards (one batch per shard per turn), timers through CAF.
#pragma once

#include "actors/messages.hpp"
#include "actors/session_logic.hpp"

#include <caf/all.hpp>

namespace colony::actors {

struct session_spawn_args {
  std::string client_id;
  std::uint64_t session_id = 0;
  std::shared_ptr<const session_limits> limits; ///< shared by all sessions
  shard_list shards;
  caf::actor registry;
  /// Store incarnation of a new session (0 when persistence is off).
  std::uint64_t incarnation = 0;
  /// What the store kept of this session (at start only).
  std::shared_ptr<restored_session> restored;
};

caf::actor spawn_session(caf::actor_system& sys, session_spawn_args args);

/// What the registry sends a session to attach a new connection.
struct attach_request {
  connect_request req;
  bool session_present = false;
  bool assigned_client_id = false;
  std::uint64_t attach_count = 0;
};

/// A snapshot of one session for the admin API and $SYS.
struct session_info {
  std::string client_id;
  std::string username;
  std::string remote_address;
  std::string listener;
  int protocol_version = 4;
  int keep_alive = 0;
  bool connected = false;
  std::size_t subscriptions = 0;
  std::size_t inflight = 0;
  std::size_t queued = 0;
  std::int64_t connected_at_ms = 0;
};

} // namespace colony::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::actors::attach_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::actors::session_info)
