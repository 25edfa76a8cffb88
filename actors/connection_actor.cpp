#include "actors/connection_actor.hpp"

#include "codec/encoder.hpp"
#include "codec/topic.hpp"
#include "metrics/log.hpp"
#include "metrics/stats.hpp"

#include <atomic>
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

/// The CONNECT of one link while it is being decided. Shared by the authenticator's callback,
/// which may answer from another thread (HTTP hook).
struct pending_connect {
  std::shared_ptr<connection_args> args;
  codec::connect packet;
  bool assigned = false; ///< the client id was assigned by the broker
};

void refuse(const connection_args& args, const codec::connect& c, reason_code rc) {
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

void hand_over(const connection_args& args, codec::connect& c, bool assigned) {
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
  req.packet = std::move(c);
  caf::anon_send(args.registry, connect_atom::value, std::move(req), assigned);
}

void on_auth_result(pending_connect& p, auth_outcome outcome) {
  switch (outcome) {
    case auth_outcome::allowed:
      hand_over(*p.args, p.packet, p.assigned);
      return;
    case auth_outcome::bad_credentials:
      refuse(*p.args, p.packet, reason_code::bad_user_name_or_password);
      return;
    case auth_outcome::not_authorized:
      refuse(*p.args, p.packet, reason_code::not_authorized);
      return;
  }
}

/// Authentication, then refusal or hand-over. The authenticator may answer at once or later
/// from its own thread; either way exactly one of refuse/hand_over runs.
void authenticate(std::shared_ptr<pending_connect> p) {
  auto& args = *p->args;
  if (args.identity_as_username && !args.link->peer_identity().empty()) {
    p->packet.username = args.link->peer_identity();
    hand_over(args, p->packet, p->assigned);
    return;
  }
  if (args.auth) {
    auto& auth = *args.auth;
    auto& link = *args.link;
    const auto& packet = p->packet;
    auth.authenticate(packet, link, [p](auth_outcome outcome) { on_auth_result(*p, outcome); });
    return;
  }
  if (!args.allow_anonymous && !p->packet.username) {
    refuse(args, p->packet, reason_code::not_authorized);
    return;
  }
  hand_over(args, p->packet, p->assigned);
}

void on_connect(std::shared_ptr<connection_args> args, codec::connect& c) {
  if (log::enabled(log::level::trace)) {
    // The trace view of CONNECT: never the password, only whether one was sent.
    log::trace("packet", "packet in",
               {{"type", "CONNECT"}, {"client_id", c.client_id},
                {"protocol", static_cast<int>(c.version)}, {"clean_start", c.clean_start},
                {"keepalive", c.keep_alive}, {"has_username", c.username.has_value()},
                {"has_password", c.password.has_value()}, {"has_will", c.will_message.has_value()},
                {"address", args->link->remote_address()}});
  }
  bool assigned = false;
  auto rc = validate_connect(c, args->limits, assigned);
  if (rc != reason_code::success) {
    refuse(*args, c, rc);
    return;
  }
  if (c.props.authentication_method) {
    // Enhanced authentication methods are not offered: MQTT 5 §4.12, 0x8C.
    refuse(*args, c, reason_code::bad_authentication_method);
    return;
  }
  bool checks_credentials = c.username.has_value() && args->auth && args->system
                            && !(args->identity_as_username
                                 && !args->link->peer_identity().empty());
  auto p = std::make_shared<pending_connect>(pending_connect{args, std::move(c), assigned});
  if (!checks_credentials) {
    // No password to verify: decided here, on the I/O thread, without an actor.
    authenticate(std::move(p));
    return;
  }
  // Password hashing (or an HTTP request) must not stall the I/O thread: a short-lived actor
  // runs it on a CAF worker and ends at once.
  args->system->spawn([p = std::move(p)] { authenticate(p); });
}

} // namespace

reason_code validate_connect(codec::connect& c, const session_limits& limits, bool& assigned) {
  assigned = false;
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
  if (!batch.empty()) {
    if (auto* c = std::get_if<codec::connect>(&batch.front()))
      on_connect(std::move(args), *c);
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
