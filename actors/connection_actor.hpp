// Deciding a link's CONNECT: validation (client id rules, will), the connection rate,
// authentication, the refusing CONNACK, or the hand-over to the session registry. A CONNECT
// without credentials to check is decided on the I/O thread that decoded it (no actor, no hop).
// One with a username to verify (password hashing, an HTTP hook) or an Authentication Method
// (the AUTH exchange of MQTT 5 §4.12) gets a short-lived connection actor, which
// ends once the CONNECT is answered. The session actor then owns the link, so an idle
// connection costs one actor (its session).
#pragma once

#include "actors/link_bridge.hpp"
#include "actors/messages.hpp"
#include "actors/rate_limit.hpp"
#include "actors/registry.hpp"
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
  /// The outcome, when it needs no work (no credentials to check): then authenticate() is not
  /// called. The default always asks authenticate().
  virtual std::optional<auth_outcome> decide_at_once(const codec::connect&) const {
    return std::nullopt;
  }
};

struct connection_args {
  caf::actor_system* system = nullptr; ///< runs credential checks off the I/O thread
  transport::link_ptr link;
  std::shared_ptr<link_bridge> bridge;
  caf::actor registry;
  /// The registry's table: a new client id is started on the link's own thread. May be null
  /// (then every CONNECT goes to the registry actor).
  std::shared_ptr<session_directory> directory;
  std::shared_ptr<const session_limits> limits; ///< shared by every link (never null)
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

/// The first batch of a link (its CONNECT; the transport pauses decoding after it). Calls
/// batch_done() on the link; refuses or hands over, now or once the authenticator answers.
void handle_connect(std::shared_ptr<connection_args> args, transport::packet_batch& batch);

/// The link closed before its CONNECT was answered (logged and counted).
void handle_closed_before_connect(const connection_args& args, const transport::close_info& info);

/// Checks a CONNECT against the broker's rules. Returns success, or the MQTT 5 reason code of
/// the CONNACK that refuses it. May assign a client id (sets `assigned`).
codec::reason_code validate_connect(codec::connect& c, const session_limits& limits,
                                    bool& assigned);

} // namespace colony::actors
