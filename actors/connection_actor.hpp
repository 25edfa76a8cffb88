// Deciding a link's CONNECT: validation (client id rules, will), authentication, the refusing
// CONNACK, or the hand-over to the session registry. There is no actor per connection: a CONNECT
// without credentials is decided on the I/O thread that decoded it (no spawn, no hop); one with a
// username runs on a CAF worker (password hashing or an HTTP hook must not stall I/O). The session
// actor then owns the link, so an idle connection costs one actor (its session).
#pragma once

#include "actors/link_bridge.hpp"
#include "actors/messages.hpp"
#include "actors/session_logic.hpp"

#include <caf/all.hpp>

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
  caf::actor_system* system = nullptr; ///< runs credential checks off the I/O thread
  transport::link_ptr link;
  std::shared_ptr<link_bridge> bridge;
  caf::actor registry;
  session_limits limits;
  bool allow_anonymous = true;
  std::shared_ptr<authenticator> auth; ///< may be null: then only anonymous rules apply
  /// A verified TLS client certificate's identity (CN) is the username, and no password is
  /// asked for (`--tls-use-identity-as-username`).
  bool identity_as_username = false;
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
