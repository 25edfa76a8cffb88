#include "actors/connection_actor.hpp"

#include "actors/mailbox_sampler.hpp"
#include "codec/encoder.hpp"
#include "codec/topic.hpp"
#include "metrics/log.hpp"
#include "metrics/stats.hpp"

#include <atomic>
#include <mutex>
#include <chrono>
#include <random>

namespace colony::actors {

using codec::reason_code;

namespace {

std::string make_client_id() {
  // Unique within this process and unlikely to collide across restarts.
  static std::atomic<std::uint64_t> counter{0};
  static const std::uint64_t boot = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  auto n = counter.fetch_add(1, std::memory_order_relaxed);
  char buf[48];
  std::snprintf(buf, sizeof(buf), "colony-%08llx-%llu",
                static_cast<unsigned long long>(boot & 0xffffffffULL),
                static_cast<unsigned long long>(n));
  return buf;
}

using auth_timeout_atom = caf::atom_constant<caf::atom("authtmo")>;

struct connection_state {
  static inline const char* name = "connection";
  connection_args args;
  std::optional<codec::connect> pending; ///< CONNECT waiting for the authenticator
  bool assigned = false;                 ///< the client id was assigned by the broker
  /// Enhanced authentication in progress (MQTT 5 §4.12); `pending` holds its CONNECT.
  std::unique_ptr<auth_exchange> exchange;
};

using connection_actor_t = caf::stateful_actor<connection_state>;

void hand_over(connection_actor_t* self, codec::connect& c, bool assigned);
void on_auth_result(connection_actor_t* self, auth_outcome outcome);

/// A verified TLS client certificate names the user (`--tls-use-identity-as-username`): no
/// credentials to check.
bool identity_is_username(const connection_args& args) {
  return args.identity_as_username && !args.link->peer_identity().empty();
}

/// Answers a CONNECT with a refusing CONNACK and closes the link.
void refuse_link(const connection_args& args, const codec::connect& c, reason_code rc) {
  auto& link = *args.link;
  metrics::stats().auth_failures.add(rc == reason_code::bad_user_name_or_password
                                         || rc == reason_code::not_authorized
                                       ? 1
                                       : 0);
  metrics::events().connects_refused.add(codec::to_string(rc));
  log::info("connection", "connection refused",
            {{"client_id", c.client_id}, {"address", link.remote_address()},
             {"reason", codec::to_string(rc)}, {"reason_code", static_cast<unsigned>(rc)}});
  std::vector<std::uint8_t> out;
  codec::encode(codec::connack{false, rc, {}}, c.version, out);
  link.write(std::move(out));
  link.close();
}

/// Gives an accepted CONNECT to the session registry.
void hand_over_link(const connection_args& args, codec::connect& c, bool assigned) {
  if (log::enabled(log::level::debug)) {
    log::debug("connection", "client connected",
               {{"client_id", c.client_id}, {"address", args.link->remote_address()},
                {"protocol", static_cast<int>(c.version)}, {"clean_start", c.clean_start},
                {"keepalive", c.keep_alive}});
  }
  connect_request req;
  req.link = args.link;
  req.bridge = args.bridge;
  req.username = c.username.value_or("");
  req.packet = std::make_shared<codec::connect>(std::move(c));
  if (args.directory && connect_new_client(*args.directory, req, assigned))
    return; // a new client id: its session starts on this thread
  caf::anon_send(args.registry, connect_atom::value, std::move(req), assigned);
}

/// The trace view of CONNECT: never the password, only whether one was sent.
void trace_connect(const connection_args& args, const codec::connect& c) {
  if (!log::enabled(log::level::trace))
    return;
  log::trace("packet", "packet in",
             {{"type", "CONNECT"}, {"client_id", c.client_id},
              {"protocol", static_cast<int>(c.version)}, {"clean_start", c.clean_start},
              {"keepalive", c.keep_alive}, {"has_username", c.username.has_value()},
              {"has_password", c.password.has_value()}, {"has_will", c.will_message.has_value()},
              {"address", args.link->remote_address()}});
}

/// --max-connect-rate-per-ip: false if this CONNECT is one too many from its address.
bool within_connect_rate(const connection_args& args) {
  if (!args.connect_rate)
    return true;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
               .count();
  return args.connect_rate->admit(args.link->remote_ip(), now);
}

// -- on the I/O thread: CONNECTs without credentials to check -----------------------------

/// The CONNECT of one link while it is being decided. Shared by the authenticator's callback,
/// which may answer from another thread (HTTP hook).
struct pending_connect {
  std::shared_ptr<connection_args> args;
  codec::connect packet;
  bool assigned = false; ///< the client id was assigned by the broker
};

void on_auth_outcome(const connection_args& args, codec::connect& c, bool assigned,
                     auth_outcome outcome) {
  switch (outcome) {
    case auth_outcome::allowed:
      hand_over_link(args, c, assigned);
      return;
    case auth_outcome::bad_credentials:
      refuse_link(args, c, reason_code::bad_user_name_or_password);
      return;
    case auth_outcome::not_authorized:
      refuse_link(args, c, reason_code::not_authorized);
      return;
  }
}

/// Authentication, then refusal or hand-over. The authenticator may answer at once or later
/// from its own thread; either way exactly one of refuse/hand_over runs.
void authenticate_inline(std::shared_ptr<pending_connect> p) {
  auto& args = *p->args;
  if (identity_is_username(args)) {
    p->packet.username = args.link->peer_identity();
    hand_over_link(args, p->packet, p->assigned);
    return;
  }
  if (args.auth) {
    const auto& packet = p->packet;
    args.auth->authenticate(packet, *args.link,
                            [p](auth_outcome outcome) {
                              on_auth_outcome(*p->args, p->packet, p->assigned, outcome);
                            });
    return;
  }
  if (!args.allow_anonymous && !p->packet.username) {
    refuse_link(args, p->packet, reason_code::not_authorized);
    return;
  }
  hand_over_link(args, p->packet, p->assigned);
}

void connect_inline(std::shared_ptr<connection_args> args, codec::connect& c) {
  trace_connect(*args, c);
  if (!within_connect_rate(*args)) {
    // MQTT 5: 0x9F Connection rate exceeded; 3.1.1: 0x03 Server unavailable.
    refuse_link(*args, c, reason_code::connection_rate_exceeded);
    return;
  }
  bool assigned = false;
  auto rc = validate_connect(c, *args->limits, assigned);
  if (rc != reason_code::success) {
    refuse_link(*args, c, rc);
    return;
  }
  if (args->auth && !identity_is_username(*args)) {
    // Most CONNECTs (no credentials) are decided right here, without parking the packet.
    if (auto outcome = args->auth->decide_at_once(c)) {
      on_auth_outcome(*args, c, assigned, *outcome);
      return;
    }
  }
  authenticate_inline(std::make_shared<pending_connect>(pending_connect{args, std::move(c), assigned}));
}

// -- the connection actor: credentials to verify, or an AUTH exchange ----------------------

void refuse(connection_actor_t* self, const codec::connect& c, reason_code rc) {
  refuse_link(self->state.args, c, rc);
  self->quit();
}

/// Ends an enhanced authentication that broke the protocol: CONNACK 0x82 (MQTT 5 §4.13.1 allows
/// it before CONNACK), then close.
void exchange_protocol_error(connection_actor_t* self, const char* why) {
  auto& st = self->state;
  auto c = std::move(*st.pending);
  st.pending.reset();
  st.exchange.reset();
  log::info("connection", "enhanced authentication aborted",
            {{"client_id", c.client_id}, {"address", st.args.link->remote_address()},
             {"error", why}});
  refuse(self, c, reason_code::protocol_error);
}

/// Acts on one step of the exchange: AUTH 0x18 and wait, hand over, or refuse.
void on_exchange_step(connection_actor_t* self, auth_step step) {
  auto& st = self->state;
  auto& link = *st.args.link;
  const std::string method = *st.pending->props.authentication_method;
  switch (step.what) {
    case auth_step::outcome::proceed: {
      // MQTT-4.12.0-2, MQTT-4.12.0-5: AUTH 0x18 with the CONNECT's method.
      codec::auth a{reason_code::continue_authentication, {}};
      a.props.authentication_method = method;
      a.props.authentication_data = std::move(step.data);
      std::vector<std::uint8_t> out;
      codec::encode(a, codec::protocol_version::v5, out);
      link.write(std::move(out));
      link.resume_one(); // the client's answer, and nothing after it
      return;
    }
    case auth_step::outcome::success: {
      auto c = std::move(*st.pending);
      st.pending.reset();
      st.exchange.reset();
      c.username = std::move(step.user); // the identity for ACLs (%u), as a password login
      c.password.reset();
      c.props.authentication_data = std::move(step.data); // server-final, for CONNACK
      hand_over(self, c, st.assigned);
      return;
    }
    case auth_step::outcome::failure: {
      auto c = std::move(*st.pending);
      st.pending.reset();
      st.exchange.reset();
      log::info("connection", "enhanced authentication failed",
                {{"client_id", c.client_id}, {"method", method},
                 {"address", link.remote_address()}, {"error", step.error}});
      refuse(self, c, reason_code::not_authorized); // MQTT-4.12.0-4
      return;
    }
  }
}

/// CONNECT with an Authentication Method (MQTT 5 §4.12).
void start_exchange(connection_actor_t* self, codec::connect& c) {
  auto& st = self->state;
  const auto& methods = st.args.limits->enhanced_auth;
  auto ex = methods ? methods->create(*c.props.authentication_method) : nullptr;
  if (!ex) {
    refuse(self, c, reason_code::bad_authentication_method); // MQTT-4.12.0-1
    return;
  }
  auto data = c.props.authentication_data.value_or(std::string{});
  st.exchange = std::move(ex);
  st.pending = std::move(c);
  // The transport's CONNECT timer stopped at CONNECT; this one bounds the whole exchange.
  self->delayed_send(self, st.args.auth_timeout, auth_timeout_atom::value);
  on_exchange_step(self, st.exchange->start(data));
}

/// A packet from the client while an exchange runs (one at a time, see link::resume_one).
void on_exchange_packet(connection_actor_t* self, codec::packet& pkt) {
  auto& st = self->state;
  if (auto* a = std::get_if<codec::auth>(&pkt)) {
    if (a->props.authentication_method != st.pending->props.authentication_method) {
      exchange_protocol_error(self, "AUTH with another authentication method"); // MQTT-4.12.0-5
      return;
    }
    if (a->code != reason_code::continue_authentication) {
      exchange_protocol_error(self, "AUTH reason code is not 0x18"); // MQTT-4.12.0-3
      return;
    }
    on_exchange_step(self, st.exchange->next(a->props.authentication_data.value_or("")));
    return;
  }
  if (std::holds_alternative<codec::disconnect>(pkt)) {
    log::debug("connection", "client left during enhanced authentication",
               {{"address", st.args.link->remote_address()}});
    st.args.link->close();
    self->quit();
    return;
  }
  // MQTT-3.1.2-30: only AUTH or DISCONNECT until CONNACK.
  exchange_protocol_error(self, "packet other than AUTH before CONNACK");
}

void on_connect(connection_actor_t* self, codec::connect& c) {
  auto& args = self->state.args;
  trace_connect(args, c);
  if (!within_connect_rate(args)) {
    // MQTT 5: 0x9F Connection rate exceeded; 3.1.1: 0x03 Server unavailable.
    refuse(self, c, reason_code::connection_rate_exceeded);
    return;
  }
  bool& assigned = self->state.assigned;
  auto rc = validate_connect(c, *args.limits, assigned);
  if (rc != reason_code::success) {
    refuse(self, c, rc);
    return;
  }
  if (c.props.authentication_method) {
    start_exchange(self, c);
    return;
  }
  if (identity_is_username(args)) {
    c.username = args.link->peer_identity();
    hand_over(self, c, assigned);
    return;
  }
  if (args.auth) {
    // Park the CONNECT until the authenticator answers (possibly from an HTTP thread).
    // A password file answers at once (handled inline below); an HTTP hook answers later
    // from its own thread, as a message to this actor.
    struct answer_slot {
      std::mutex mtx;
      bool caller_returned = false;
      std::optional<auth_outcome> inline_outcome;
    };
    auto slot = std::make_shared<answer_slot>();
    self->state.pending = std::move(c);
    auto me = caf::actor_cast<caf::actor>(self);
    args.auth->authenticate(*self->state.pending, *args.link, [me, slot](auth_outcome outcome) {
      {
        std::lock_guard<std::mutex> guard{slot->mtx};
        if (!slot->caller_returned) {
          slot->inline_outcome = outcome;
          return;
        }
      }
      caf::anon_send(me, auth_atom::value, static_cast<std::uint8_t>(outcome));
    });
    std::optional<auth_outcome> now;
    {
      std::lock_guard<std::mutex> guard{slot->mtx};
      slot->caller_returned = true;
      now = slot->inline_outcome;
    }
    if (now)
      on_auth_result(self, *now);
    return;
  }
  if (!args.allow_anonymous && !c.username) {
    refuse(self, c, reason_code::not_authorized);
    return;
  }
  hand_over(self, c, assigned);
}

void on_auth_result(connection_actor_t* self, auth_outcome outcome) {
  auto& st = self->state;
  if (!st.pending)
    return;
  auto c = std::move(*st.pending);
  st.pending.reset();
  switch (outcome) {
    case auth_outcome::allowed:
      hand_over(self, c, st.assigned);
      return;
    case auth_outcome::bad_credentials:
      refuse(self, c, reason_code::bad_user_name_or_password);
      return;
    case auth_outcome::not_authorized:
      refuse(self, c, reason_code::not_authorized);
      return;
  }
}

void hand_over(connection_actor_t* self, codec::connect& c, bool assigned) {
  hand_over_link(self->state.args, c, assigned);
  self->quit();
}

caf::behavior connection_behavior(connection_actor_t* self, connection_args args) {
  self->state.args = std::move(args);
  return {
    [=](packets_atom, std::uint64_t, transport::packet_batch& batch) {
      std::uint32_t first = 0; // a connection handles one CONNECT: sample it
      sample_mailbox(self, first, metrics::actor_kind::connection, 1);
      // The transport stops decoding after CONNECT, so the batch is exactly that CONNECT;
      // during an enhanced authentication, exactly the client's next packet.
      auto link = self->state.args.link;
      if (!batch.empty()) {
        if (self->state.exchange)
          on_exchange_packet(self, batch.front());
        else if (auto* c = std::get_if<codec::connect>(&batch.front()))
          on_connect(self, *c);
      }
      link->batch_done();
    },
    [=](auth_timeout_atom) {
      auto& st = self->state;
      if (!st.exchange)
        return;
      // No CONNACK within the CONNECT timeout: close without one, as for a missing CONNECT.
      metrics::events().connects_refused.add("authentication timeout");
      log::info("connection", "enhanced authentication timed out",
                {{"client_id", st.pending->client_id},
                 {"address", st.args.link->remote_address()}});
      st.exchange.reset();
      st.pending.reset();
      st.args.link->close();
      self->quit();
    },
    [=](auth_atom, std::uint8_t outcome) {
      on_auth_result(self, static_cast<auth_outcome>(outcome));
    },
    [=](closed_atom, std::uint64_t, const transport::close_info& info) {
      handle_closed_before_connect(self->state.args, info);
      self->quit();
    },
  };
}

} // namespace

reason_code validate_connect(codec::connect& c, const session_limits& limits, bool& assigned) {
  assigned = false;
  // MQTT 5 §3.1.2.11.10: Authentication Data without an Authentication Method is a Protocol
  // Error.
  if (c.props.authentication_data && !c.props.authentication_method)
    return reason_code::protocol_error;
  if (c.client_id.empty()) {
    if (c.version == codec::protocol_version::v5
        || (c.version == codec::protocol_version::v3_1_1 && c.clean_start)) {
      // MQTT-3.1.3-6 / MQTT 5 §3.1.3.1: the server assigns a unique id.
      c.client_id = make_client_id();
      assigned = true;
    } else {
      return reason_code::client_identifier_not_valid; // MQTT-3.1.3-8 (0x02)
    }
  }
  if (c.will_message) {
    const auto& w = *c.will_message;
    if (!codec::is_valid_topic_name(w.topic) || w.topic.size() > limits.max_topic_length)
      return reason_code::topic_name_invalid;
    if (w.qos > limits.max_qos)
      return reason_code::qos_not_supported; // MQTT-3.2.2-12
    if (w.retain && !limits.retain_available)
      return reason_code::retain_not_supported; // MQTT-3.2.2-13
  }
  return reason_code::success;
}

void handle_connect(std::shared_ptr<connection_args> args, transport::packet_batch& batch) {
  // The transport stops decoding after CONNECT, so the batch is exactly that CONNECT.
  auto link = args->link;
  auto* c = batch.empty() ? nullptr : std::get_if<codec::connect>(&batch.front());
  if (c != nullptr) {
    bool verifies_credentials = c->username.has_value() && args->auth
                                && !identity_is_username(*args);
    if ((c->props.authentication_method || verifies_credentials) && args->system) {
      // Password hashing, an HTTP hook or an AUTH exchange: a connection actor decides this
      // CONNECT (and ends then), so the read that brought it returns first, and an answer
      // that comes later from another thread arrives as a message. (With scheduler "io" the
      // actor runs on an I/O thread too: a PBKDF2 check, ~0.1 ms at Mosquitto's 101
      // iterations, delays that thread's other links by as much.)
      auto actor = args->system->spawn(connection_behavior, *args);
      args->bridge->set_target(actor); // AUTH packets of an exchange go to it too
      caf::anon_send(actor, packets_atom::value, link->id(), std::move(batch));
      return; // the actor hands back the read credit
    }
    connect_inline(std::move(args), *c);
  }
  link->batch_done();
}

void handle_closed_before_connect(const connection_args& args, const transport::close_info& info) {
  // Closed before a CONNECT was answered: no CONNECT in time, not a CONNECT first, an
  // unsupported protocol level (the transport answered 0x01), or a peer that just left.
  using transport::close_reason;
  auto reason = info.reason == close_reason::protocol_error ? codec::to_string(info.code)
                                                             : transport::to_string(info.reason);
  auto lvl = info.reason == close_reason::peer_closed || info.reason == close_reason::shutdown
               ? log::level::debug
               : log::level::info;
  if (lvl == log::level::info)
    metrics::events().connects_refused.add(reason);
  if (log::enabled(lvl))
    log::write(lvl, "connection", "connection closed before CONNECT",
               {{"address", args.link->remote_address()}, {"reason", reason}});
}

} // namespace colony::actors
