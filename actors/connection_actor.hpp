// The connection actor: one per accepted socket until its CONNECT is answered. It validates
// CONNECT (client id rules, authentication, will), refuses with the right CONNACK code, or
// hands the link to the session registry. The session actor then owns the link, so an idle
// connection costs one actor (its session), not two.
#pragma once

#include "actors/link_bridge.hpp"
#include "actors/messages.hpp"
#include "actors/session_logic.hpp"

#include <caf/all.hpp>

#include <functional>
#include <optional>

namespace colony::actors {

/// Decides whether a CONNECT's credentials are accepted. Returns the identity to use
/// (normally the username), or nullopt to refuse (bad user name or password).
using authenticate_fn = std::function<std::optional<std::string>(
  const codec::connect& c, const transport::link& link)>;

struct connection_args {
  transport::link_ptr link;
  std::shared_ptr<link_bridge> bridge;
  caf::actor registry;
  session_limits limits;
  bool allow_anonymous = true;
  authenticate_fn authenticate; ///< may be empty: then only anonymous rules apply
};

caf::actor spawn_connection(caf::actor_system& sys, connection_args args);

/// Checks a CONNECT against the broker's rules. Returns success, or the MQTT 5 reason code of
/// the CONNACK that refuses it. May assign a client id (sets `assigned`).
codec::reason_code validate_connect(codec::connect& c, const session_limits& limits,
                                    bool& assigned);

} // namespace colony::actors
