// The connection actor: one per accepted socket until its CONNECT is answered. It validates
// CONNECT (client id rules, authentication, will), refuses with the right CONNACK code, or
// hands the link to the session registry. A CONNECT with an Authentication Method runs that
// method's exchange (AUTH packets, MQTT 5 §4.12) here before the hand-over. The session actor
// then owns the link, so an idle connection costs one actor (its session), not two.
#pragma once

#include "actors/link_bridge.hpp"
#include "actors/messages.hpp"
#include "actors/rate_limit.hpp"
#include "actors/session_logic.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <functional>
#include <optional>

namespace colony::actors {

enum class auth_outcome : std::uint8_t { allowed, bad_credentials, not_authorized };

/// Decides whether a CONNECT's credentials are accepted. Calls `done` exactly once, on any
/// thread (an HTTP hook answers from its own thread); never blocks the caller on I/O.
class authenticator {
public:
  virtual ~authenticator() = default;
  virtual void authenticate(const codec::connect& c, const transport::link& link,
                            std::function<void(auth_outcome)> done) = 0;
};

struct connection_args {
  transport::link_ptr link;
  std::shared_ptr<link_bridge> bridge;
  caf::actor registry;
  session_limits limits;
  bool allow_anonymous = true;
  std::shared_ptr<authenticator> auth; ///< may be null: then only anonymous rules apply
  /// A verified TLS client certificate's identity (CN) is the username, and no password is
  /// asked for (`--tls-use-identity-as-username`).
  bool identity_as_username = false;
  /// CONNECTs per second per source IP (--max-connect-rate-per-ip); null = unlimited.
  std::shared_ptr<per_ip_rate_limiter> connect_rate;
  /// How long an enhanced authentication (CONNECT ... CONNACK) may take (the CONNECT timeout).
  /// The enabled methods themselves are limits.auth_methods.
  std::chrono::milliseconds auth_timeout{10000};
};

caf::actor spawn_connection(caf::actor_system& sys, connection_args args);

/// Checks a CONNECT against the broker's rules. Returns success, or the MQTT 5 reason code of
/// the CONNACK that refuses it. May assign a client id (sets `assigned`).
codec::reason_code validate_connect(codec::connect& c, const session_limits& limits,
                                    bool& assigned);

} // namespace colony::actors
