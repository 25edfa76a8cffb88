#include "actors/session_logic.hpp"

#include "actors/persist.hpp"
#include "codec/encoder.hpp"
#include "codec/topic.hpp"
#include "codec/utf8.hpp"
#include "metrics/log.hpp"
#include "metrics/stats.hpp"

#include <algorithm>
#include <chrono>

namespace colony::actors {

using codec::protocol_version;
using codec::reason_code;

namespace {

constexpr std::uint32_t never_expires = 0xFFFFFFFF;

std::string sub_key(std::string_view group, std::string_view filter) {
  std::string key;
  key.reserve(group.size() + filter.size() + 1);
  key.append(group).push_back('\x1f');
  key.append(filter);
  return key;
}

std::int64_t steady_now_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

const char* packet_name(codec::packet_type t) {
  static constexpr const char* names[] = {
    "RESERVED", "CONNECT",   "CONNACK", "PUBLISH",     "PUBACK",   "PUBREC",
    "PUBREL",   "PUBCOMP",   "SUBSCRIBE", "SUBACK",    "UNSUBSCRIBE", "UNSUBACK",
    "PINGREQ",  "PINGRESP",  "DISCONNECT", "AUTH"};
  return names[static_cast<int>(t) & 0x0f];
}

/// The trace log's one line per packet.
void trace_packet(const char* direction, const std::string& client_id, const codec::packet& p) {
  if (!log::enabled(log::level::trace))
    return;
  auto type = codec::type_of(p);
  if (auto* pub = std::get_if<codec::publish>(&p)) {
    log::trace("packet", direction,
               {{"type", packet_name(type)}, {"client_id", client_id}, {"topic", pub->topic},
                {"qos", pub->qos}, {"retain", pub->retain}, {"dup", pub->dup},
                {"packet_id", pub->packet_id}, {"payload_size", pub->payload.size()}});
    return;
  }
  log::trace("packet", direction, {{"type", packet_name(type)}, {"client_id", client_id}});
}

} // namespace

session_logic::session_logic(std::string client_id, std::uint64_t session_id,
                             const session_limits& limits, session_env& env)
  : session_logic(std::move(client_id), session_id,
                  std::make_shared<const session_limits>(limits), env) {}

session_logic::session_logic(std::string client_id, std::uint64_t session_id,
                             std::shared_ptr<const session_limits> limits, session_env& env)
  : client_id_(std::move(client_id)), session_id_(session_id),
    limits_holder_(std::move(limits)), limits_(*limits_holder_), env_(env) {}

// -- connection lifecycle -------------------------------------------------------

void session_logic::attach(const codec::connect& c, bool session_present,
                           const connection_facts& facts) {
  if (ended_) {
    // The previous connection ended this session (clean session or expiry) but the registry
    // attached a new connection before tearing it down: start afresh.
    reset_state();
    session_present = false;
  }
  env_.cancel_timer(timer_kind::session_expiry);
  // MQTT 5 §3.1.3.2.2: a reconnect within the Will Delay Interval cancels the pending will.
  env_.cancel_timer(timer_kind::will_delay);
  connected_ = true;
  facts_ = facts;
  version_ = c.version;
  will_ = c.will_message ? std::make_unique<codec::will>(*c.will_message) : nullptr;
  aliases_.reset();
  waiting_for_drain_ = false; // a drain request belonged to the previous link
  keep_alive_ = c.keep_alive;
  const bool v5 = version_ == protocol_version::v5;
  std::optional<std::uint16_t> server_keep_alive;
  if (limits_.max_keepalive > 0 && (keep_alive_ == 0 || keep_alive_ > limits_.max_keepalive)) {
    // MQTT 5 §3.2.2.3.14 Server Keep Alive; 3.1.1 clients are simply held to the maximum.
    keep_alive_ = limits_.max_keepalive;
    server_keep_alive = keep_alive_;
  }
  if (v5) {
    session_expiry_ = std::min(c.props.session_expiry_interval.value_or(0),
                               limits_.max_session_expiry);
    // MQTT-3.14.2-2 refers to the value the client sent, not the one the server granted.
    session_expiry_was_zero_ = c.props.session_expiry_interval.value_or(0) == 0;
    client_receive_maximum_ = c.props.receive_maximum.value_or(65535);
    client_max_packet_size_ = c.props.maximum_packet_size.value_or(0);
    request_problem_information_ = c.props.request_problem_information.value_or(1) == 1;
    client_topic_alias_maximum_ = c.props.topic_alias_maximum.value_or(0);
  } else {
    client_topic_alias_maximum_ = 0;
    // 3.1.1: a clean session ends with the connection; otherwise it never expires.
    session_expiry_ = c.clean_start ? 0 : std::min(never_expires, limits_.max_session_expiry);
    // MQTT-3.14.2-2 refers to the value the client sent, not the one the server granted.
    session_expiry_was_zero_ = c.props.session_expiry_interval.value_or(0) == 0;
    client_receive_maximum_ = 65535;
    client_max_packet_size_ = 0;
  }
  env_.set_keepalive(keep_alive_);
  if (limits_.store) {
    if (persistent() != shards_persistent_ && !subs_.empty()) {
      // The shards write this session's messages to the store only while it is persistent.
      std::vector<subscription> again;
      for (const auto& [key, r] : subs_)
        again.push_back(subscription{r.topic_filter, r.share_group, r.options, r.subscription_id,
                                     false});
      shards_persistent_ = persistent();
      env_.subscribe(std::move(again));
    }
    if (persistent())
      save_session();
    else
      writes_.erase(persistence::session_key(client_id_));
  }
  if (limits_.max_publish_rate > 0 || limits_.max_publish_bytes_rate > 0)
    rate_ = std::make_unique<publish_rate>(publish_rate{token_bucket{limits_.max_publish_rate},
                                                        token_bucket{limits_.max_publish_bytes_rate}});
  else
    rate_.reset();
  forget_held();
  acl_.reset(); // answers asked for by the previous connection (its will) are stale
  if (will_ && hook()
      && !(acl_active() && !limits_.policy->may_publish(identity(), will_->topic))) {
    // Ask about the will's topic now, while the client is connected: the answer is then
    // known when the will has to be published.
    auto& a = acl();
    if (auto v = hook()->cached(identity(), access_kind::publish, will_->topic))
      a.will_allowed = *v;
    else if ((a.will_token = ask_hook(access_kind::publish, will_->topic)) == 0)
      a.will_allowed = false;
  }

  codec::connack ack;
  ack.session_present = session_present;
  ack.code = reason_code::success;
  if (v5) {
    auto& p = ack.props;
    if (facts.assigned_client_id)
      p.assigned_client_identifier = client_id_;
    if (server_keep_alive)
      p.server_keep_alive = *server_keep_alive;
    if (session_expiry_ != c.props.session_expiry_interval.value_or(0))
      p.session_expiry_interval = session_expiry_;
    p.receive_maximum = limits_.receive_maximum;
    if (limits_.max_qos < 2)
      p.maximum_qos = limits_.max_qos;
    if (!limits_.retain_available)
      p.retain_available = 0;
    p.maximum_packet_size = limits_.max_packet_size;
    p.topic_alias_maximum = limits_.topic_alias_maximum;
    if (!limits_.wildcard_available)
      p.wildcard_subscription_available = 0;
    if (!limits_.subscription_ids_available)
      p.subscription_identifier_available = 0;
    if (!limits_.shared_available)
      p.shared_subscription_available = 0;
    if (c.props.request_response_information.value_or(0) == 1)
      p.response_information = "colony/response/" + client_id_;
    // MQTT-4.12.0-5: the CONNECT's method on CONNACK, with the exchange's final server data.
    p.authentication_method = c.props.authentication_method;
    p.authentication_data = c.props.authentication_method ? c.props.authentication_data
                                                          : std::nullopt;
  }
  if (v5 && c.props.authentication_method)
    auth_ = std::make_unique<auth_state>(auth_state{*c.props.authentication_method, nullptr});
  else
    auth_.reset();
  send(ack);
  metrics::stats().clients_connected.add();
  metrics::stats().connects_total.add();
  metrics::events().connections_by_listener.add(facts_.listener);
  if (has_shared_)
    env_.set_online(true);
  sys_notice(true);
  resend_inflight();
  pump();
}

void session_logic::take_over() {
  if (!connected_)
    return;
  log::info("session", "disconnecting client", {{"client_id", client_id_}, {"reason", "session taken over"}});
  if (version_ == protocol_version::v5)
    send_disconnect(reason_code::session_taken_over);
  flush();
  env_.close_link();
  // The old connection did not DISCONNECT: its will applies (MQTT-3.1.2-8), unless the
  // new connection continues the session within the will delay.
  lost_connection(true, "session taken over");
}

void session_logic::on_link_closed(const transport::close_info& info) {
  if (!connected_)
    return;
  if (!held_.empty()) {
    // Packets the client sent before closing still wait for ACL answers (a DISCONNECT among
    // them makes this a normal disconnect): handle them first.
    close_after_held_ = info;
    return;
  }
  log::info("session", "connection lost", {{"client_id", client_id_}, {"reason", transport::to_string(info.reason)}, {"reason_code", static_cast<unsigned>(info.code)}});
  lost_connection(true, transport::to_string(info.reason).data());
}

void session_logic::shut_down() {
  if (!connected_)
    return;
  if (version_ == protocol_version::v5)
    send_disconnect(reason_code::server_shutting_down);
  flush();
  env_.close_link();
  forget_held();
  // A broker shutdown is not the client's fault; mosquitto keeps wills for this case too,
  // but publishing it would reach no one once every session is gone. A persistent session
  // is stored as offline since now, without its will (a restart does not publish it; a
  // crash, which leaves the session stored as online, does).
  connected_ = false;
  disconnected_at_ms_ = env_.now_ms();
  will_.reset();
  will_due_ms_ = 0;
  save_session();
  metrics::stats().clients_connected.sub();
  metrics::events().connections_by_listener.sub(facts_.listener);
  metrics::events().disconnects.add("server shutdown");
}

void session_logic::kick() {
  if (!connected_)
    return;
  log::info("session", "disconnecting client", {{"client_id", client_id_}, {"reason", "administrative action"}});
  if (version_ == protocol_version::v5)
    send_disconnect(reason_code::administrative_action);
  flush();
  env_.close_link();
  lost_connection(true, "kicked by administrator");
}

void session_logic::close_with(reason_code rc, const char* why) {
  if (!connected_)
    return;
  log::info("session", "closing client",
            {{"client_id", client_id_}, {"reason", codec::to_string(rc)},
             {"reason_code", static_cast<unsigned>(rc)}});
  if (version_ == protocol_version::v5)
    send_disconnect(rc);
  flush();
  env_.close_link();
  lost_connection(true, why);
}

void session_logic::lost_connection(bool with_will, const char* reason) {
  if (!connected_)
    return;
  connected_ = false;
  forget_held();
  metrics::stats().clients_connected.sub();
  metrics::stats().disconnects_total.add();
  metrics::events().disconnects.add(reason);
  metrics::events().connections_by_listener.sub(facts_.listener);
  log::debug("session", "client disconnected", {{"client_id", client_id_}, {"reason", reason}});
  sys_notice(false);
  if (has_shared_) {
    env_.set_online(false);
    // Messages received through a shared subscription go to another member of the group
    // rather than wait for this one to come back.
    std::vector<delivery> shared;
    for (auto it = inflight_.begin(); it != inflight_.end();) {
      if (!it->second.d.shared_key.empty()
          && it->second.at != inflight_entry::stage::await_pubcomp) {
        forget(it->second.d);
        shared.push_back(std::move(it->second.d));
        it = inflight_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (!it->shared_key.empty()) {
        forget(*it);
        shared.push_back(std::move(*it));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    if (!shared.empty())
      env_.redistribute(std::move(shared));
  }
  std::uint32_t will_delay = 0;
  if (with_will && will_) {
    will_delay = will_->props.will_delay_interval.value_or(0);
    // MQTT 5 §3.1.3.2.2: published after min(will delay, session expiry).
    if (session_expiry_ != never_expires)
      will_delay = std::min(will_delay, session_expiry_);
    if (will_delay == 0) {
      publish_will();
    } else {
      env_.start_timer(timer_kind::will_delay, std::chrono::seconds{will_delay});
      will_due_ms_ = env_.now_ms() + std::int64_t{will_delay} * 1000;
    }
  } else {
    will_.reset();
    will_due_ms_ = 0;
  }
  disconnected_at_ms_ = env_.now_ms();
  save_session();
  if (session_expiry_ == 0) {
    end_now();
  } else if (session_expiry_ != never_expires) {
    env_.start_timer(timer_kind::session_expiry, std::chrono::seconds{session_expiry_});
  }
}

void session_logic::on_timer(timer_kind kind) {
  if (connected_)
    return;
  switch (kind) {
    case timer_kind::will_delay:
      publish_will();
      break;
    case timer_kind::session_expiry:
      end_now();
      break;
  }
}

void session_logic::end_now() {
  if (ended_)
    return;
  // A will still waiting for its delay is published when the session ends.
  publish_will();
  if (acl_ && acl_->will_waiting) {
    acl_->end_after_will = true; // the ACL hook decides about the will first (on_acl_answer)
    return;
  }
  ended_ = true;
  std::vector<delivery> shared;
  for (auto& [id, e] : inflight_)
    if (!e.d.shared_key.empty())
      shared.push_back(std::move(e.d));
  for (auto& d : pending_)
    if (!d.shared_key.empty())
      shared.push_back(std::move(d));
  if (!shared.empty())
    env_.redistribute(std::move(shared));
  env_.end_session();
}

session_logic::~session_logic() {
  if (sys_subs_ > 0 && limits_.sys_watchers)
    limits_.sys_watchers->fetch_sub(sys_subs_, std::memory_order_acq_rel);
}

void session_logic::count_watcher(const std::string& filter, int delta) {
  ever_subscribed_ = true;
  if (!limits_.sys_watchers || filter.compare(0, 4, "$SYS") != 0
      || (filter.size() > 4 && filter[4] != '/'))
    return;
  sys_subs_ += delta;
  limits_.sys_watchers->fetch_add(delta, std::memory_order_acq_rel);
}

void session_logic::reset_state() {
  if (sys_subs_ > 0 && limits_.sys_watchers)
    limits_.sys_watchers->fetch_sub(sys_subs_, std::memory_order_acq_rel);
  sys_subs_ = 0;
  if (!subs_.empty()) {
    std::vector<std::pair<std::string, std::string>> all;
    for (auto& [key, rec] : subs_)
      all.emplace_back(rec.share_group, rec.topic_filter);
    env_.unsubscribe(std::move(all));
    metrics::stats().subscriptions.sub(subs_.size());
  }
  subs_.clear();
  inflight_.clear();
  pending_.clear();
  spilled_.clear();
  refill_requested_ = false;
  inbound_qos2_.clear();
  has_shared_ = false;
  ended_ = false;
  if (limits_.store) {
    // What the store holds for the ended session goes; a new incarnation keeps late writes
    // of the shards for the old one from being taken for the new one's.
    auto [qb, qe] = persistence::entry_range(client_id_);
    writes_.erase_range(std::move(qb), std::move(qe));
    auto [ib, ie] = persistence::inbound_range(client_id_);
    writes_.erase_range(std::move(ib), std::move(ie));
    incarnation_ = limits_.store->next_seq();
    save_session();
  }
}

void session_logic::publish_will() {
  if (!will_)
    return;
  auto w = std::move(*will_);
  will_.reset();
  will_due_ms_ = 0;
  save_session();
  if (acl_active() && !limits_.policy->may_publish(identity(), w.topic)) {
    log::info("session", "will denied by ACL", {{"client_id", client_id_}, {"topic", w.topic}});
    return;
  }
  std::optional<bool> hook_verdict;
  if (hook()) {
    hook_verdict = acl().will_allowed;
    if (!hook_verdict)
      hook_verdict = hook()->cached(identity(), access_kind::publish, w.topic);
    if (hook_verdict && !*hook_verdict) {
      log::info("session", "will denied by ACL", {{"client_id", client_id_}, {"topic", w.topic}});
      return;
    }
  }
  codec::publish p;
  p.topic = std::move(w.topic);
  p.payload = std::move(w.payload);
  p.qos = w.qos;
  p.retain = w.retain && limits_.retain_available;
  p.props = std::move(w.props);
  p.props.will_delay_interval.reset();
  if (hook() && !hook_verdict) {
    // The hook has not answered yet: publish when it does (see on_acl_answer).
    auto& a = acl();
    if (a.will_token == 0)
      a.will_token = ask_hook(access_kind::publish, p.topic);
    if (a.will_token != 0)
      a.will_waiting = std::make_unique<codec::publish>(std::move(p));
    return;
  }
  env_.route(make_message(p));
}

void session_logic::sys_notice(bool online) {
  if (!limits_.sys_notices)
    return;
  if (limits_.sys_watchers && limits_.sys_watchers->load(std::memory_order_acquire) == 0)
    return; // nobody subscribes under $SYS/: the notice would reach no one
  // The JSON notice hmq users know, without anything secret (no password, ever).
  std::string payload;
  payload.reserve(192);
  payload.append("{\"clientID\":");
  log::append_json_string(payload, client_id_);
  payload.append(",\"username\":");
  log::append_json_string(payload, facts_.username);
  payload.append(",\"ipaddress\":");
  log::append_json_string(payload, facts_.remote_address);
  payload.append(",\"listener\":");
  log::append_json_string(payload, facts_.listener);
  payload.append(",\"protocol\":").append(std::to_string(static_cast<int>(version_)));
  payload.append(",\"keepalive\":").append(std::to_string(keep_alive_));
  payload.append(",\"online\":").append(online ? "true" : "false");
  payload.append(",\"timestamp\":\"").append(log::rfc3339_now()).append("\"}");
  auto msg = std::make_shared<app_message>();
  msg->topic = "$SYS/broker/connection/clients/" + client_id_;
  msg->payload = std::move(payload);
  msg->received_at_ns = steady_now_ns();
  env_.route(std::move(msg));
}

// -- inbound packets ----------------------------------------------------------------

void session_logic::on_packets(transport::packet_batch& batch) {
  if (!held_.empty()) {
    // Earlier packets wait for ACL answers: these wait behind them, in order.
    for (auto& pkt : batch)
      held_.push_back(std::move(pkt));
    return;
  }
  const bool has_hook = hook() != nullptr;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!connected_)
      return; // closed by an earlier packet of this batch
    if (has_hook) {
      if (!acl_ready(batch[i])) {
        for (; i < batch.size(); ++i)
          held_.push_back(std::move(batch[i]));
        return;
      }
      dispatch(batch[i]);
      acl().answers.clear();
    } else {
      dispatch(batch[i]);
    }
  }
}

void session_logic::dispatch(codec::packet& pkt) {
  trace_packet("packet in", client_id_, pkt);
  std::visit(
    [this](auto& p) {
      using T = std::decay_t<decltype(p)>;
      if constexpr (std::is_same_v<T, codec::publish>)
        handle_publish(p);
      else if constexpr (std::is_same_v<T, codec::puback>)
        handle_puback(p);
      else if constexpr (std::is_same_v<T, codec::pubrec>)
        handle_pubrec(p);
      else if constexpr (std::is_same_v<T, codec::pubrel>)
        handle_pubrel(p);
      else if constexpr (std::is_same_v<T, codec::pubcomp>)
        handle_pubcomp(p);
      else if constexpr (std::is_same_v<T, codec::subscribe>)
        handle_subscribe(p);
      else if constexpr (std::is_same_v<T, codec::unsubscribe>)
        handle_unsubscribe(p);
      else if constexpr (std::is_same_v<T, codec::pingreq>) {
        // A client may use PINGREQ as a barrier: its PUBLISHes before it have reached their
        // subscribers when the PINGRESP comes.
        env_.order_barrier();
        send(codec::pingresp{});
      }
      else if constexpr (std::is_same_v<T, codec::disconnect>)
        handle_disconnect(p);
      else if constexpr (std::is_same_v<T, codec::auth>)
        handle_auth(p);
      else
        // A second CONNECT (MQTT-3.1.0-2) or a server-to-client packet.
        close_with(reason_code::protocol_error);
    },
    pkt);
}

// -- asynchronous ACL hook ------------------------------------------------------------

session_logic::alias_state& session_logic::aliases() {
  if (!aliases_)
    aliases_ = std::make_unique<alias_state>();
  return *aliases_;
}

const std::string* session_logic::inbound_alias(std::uint16_t alias) const {
  if (!aliases_)
    return nullptr;
  auto it = aliases_->inbound.find(alias);
  return it == aliases_->inbound.end() ? nullptr : &it->second;
}

session_logic::hook_state& session_logic::acl() {
  if (!acl_)
    acl_ = std::make_unique<hook_state>();
  return *acl_;
}

std::uint64_t session_logic::ask_hook(access_kind kind, const std::string& topic) {
  auto token = ++acl_token_;
  auto reply = env_.acl_reply(token);
  if (!reply)
    return 0; // answers could not come back: the caller denies
  acl().asked.emplace(token, acl_key{kind, topic});
  hook()->ask(identity(), kind, topic, std::move(reply));
  return token;
}

bool session_logic::acl_known(access_kind kind, const std::string& topic) {
  acl_key key{kind, topic};
  auto& a = acl();
  if (a.answers.count(key) > 0)
    return true;
  for (const auto& [token, asked] : a.asked)
    if (asked == key && token != a.will_token)
      return false; // asked already, the answer is on its way
  if (auto v = hook()->cached(identity(), kind, topic)) {
    a.answers.emplace(std::move(key), *v);
    return true;
  }
  if (ask_hook(kind, topic) == 0) {
    a.answers.emplace(std::move(key), false); // fail closed
    return true;
  }
  return false;
}

bool session_logic::acl_ready(const codec::packet& pkt) {
  if (auto* p = std::get_if<codec::publish>(&pkt)) {
    const std::string* topic = &p->topic;
    if (topic->empty() && p->props.topic_alias) {
      topic = inbound_alias(*p->props.topic_alias);
      if (topic == nullptr)
        return true; // handle_publish closes the connection
    }
    if (topic->empty() || (acl_active() && !limits_.policy->may_publish(identity(), *topic)))
      return true; // refused without asking the hook
    return acl_known(access_kind::publish, *topic);
  }
  if (auto* s = std::get_if<codec::subscribe>(&pkt)) {
    bool ready = true;
    for (const auto& ts : s->subscriptions) {
      if (acl_active() && !limits_.policy->may_subscribe(identity(), ts.topic_filter))
        continue;
      // Every filter is asked at once; the SUBSCRIBE waits for all answers.
      ready = acl_known(access_kind::subscribe, ts.topic_filter) && ready;
    }
    return ready;
  }
  return true;
}

bool session_logic::hook_allows(access_kind kind, const std::string& topic) const {
  if (!hook())
    return true;
  if (!acl_)
    return false; // no answer: deny (fail closed)
  auto it = acl_->answers.find(acl_key{kind, topic});
  return it != acl_->answers.end() && it->second;
}

void session_logic::on_acl_answer(std::uint64_t token, bool allowed) {
  if (!acl_)
    return; // asked for a connection that is gone
  auto& a = *acl_;
  auto it = a.asked.find(token);
  if (it == a.asked.end())
    return; // asked for a connection that is gone
  auto key = std::move(it->second);
  a.asked.erase(it);
  if (token == a.will_token) {
    a.will_token = 0;
    a.will_allowed = allowed;
    if (a.will_waiting) {
      auto p = std::move(*a.will_waiting);
      a.will_waiting.reset();
      if (allowed)
        env_.route(make_message(p));
      else
        log::info("session", "will denied by ACL", {{"client_id", client_id_}, {"topic", p.topic}});
    }
    if (a.end_after_will && !connected_) {
      a.end_after_will = false;
      end_now();
    }
    return;
  }
  a.answers[std::move(key)] = allowed;
  drain_held();
}

void session_logic::drain_held() {
  while (connected_ && !held_.empty()) {
    if (!acl_ready(held_.front()))
      return;
    auto pkt = std::move(held_.front());
    held_.pop_front();
    dispatch(pkt);
    if (acl_)
      acl_->answers.clear();
  }
  if (held_.empty() && close_after_held_) {
    auto info = *close_after_held_;
    close_after_held_.reset();
    on_link_closed(info);
  }
}

void session_logic::forget_held() {
  held_.clear();
  close_after_held_.reset();
  if (!acl_)
    return;
  acl_->answers.clear();
  // Answers still to come for this connection's packets are ignored; the will's is kept.
  for (auto it = acl_->asked.begin(); it != acl_->asked.end();) {
    if (it->first == acl_->will_token)
      ++it;
    else
      it = acl_->asked.erase(it);
  }
}

message_ptr session_logic::make_message(codec::publish& p) {
  auto msg = std::make_shared<app_message>();
  msg->topic = std::move(p.topic);
  msg->payload = std::move(p.payload);
  msg->qos = p.qos;
  msg->retain = p.retain;
  msg->origin_session = session_id_;
  msg->received_at_ns = steady_now_ns();
  if (p.props.message_expiry_interval)
    msg->expires_at_ms = env_.now_ms() + std::int64_t{*p.props.message_expiry_interval} * 1000;
  // Keep only what is forwarded to subscribers (MQTT 5 §3.3.2.3).
  auto& out = msg->props;
  out.payload_format_indicator = p.props.payload_format_indicator;
  out.content_type = std::move(p.props.content_type);
  out.response_topic = std::move(p.props.response_topic);
  out.correlation_data = std::move(p.props.correlation_data);
  out.user_properties = std::move(p.props.user_properties);
  return msg;
}

void session_logic::handle_publish(codec::publish& p) {
  auto& stats = metrics::stats();
  stats.messages_received.add();
  if (!admit_publish(p))
    return;
  const bool v5 = version_ == protocol_version::v5;
  if (v5) {
    if (!p.props.subscription_identifiers.empty()) {
      // MQTT-3.3.4-6: a client must not send Subscription Identifiers.
      close_with(reason_code::protocol_error);
      return;
    }
    if (p.props.topic_alias) {
      auto alias = *p.props.topic_alias;
      if (alias == 0 || alias > limits_.topic_alias_maximum) {
        close_with(reason_code::topic_alias_invalid); // MQTT-3.3.2-9, -10
        return;
      }
      if (p.topic.empty()) {
        auto* topic = inbound_alias(alias);
        if (topic == nullptr) {
          close_with(reason_code::protocol_error);
          return;
        }
        p.topic = *topic;
      } else {
        aliases().inbound[alias] = p.topic;
      }
    }
  }
  if (p.topic.empty() || !codec::is_valid_topic_name(p.topic)
      || p.topic.size() > limits_.max_topic_length
      || codec::level_count(p.topic) > limits_.max_topic_levels) {
    close_with(v5 ? reason_code::topic_name_invalid : reason_code::malformed_packet);
    return;
  }
  if (p.qos > limits_.max_qos) {
    close_with(reason_code::qos_not_supported); // MQTT-3.2.2-11
    return;
  }
  if (p.retain && !limits_.retain_available) {
    close_with(reason_code::retain_not_supported); // MQTT-3.2.2-14
    return;
  }
  reason_code ack_code = reason_code::success;
  bool route_it = true;
  if (v5 && p.props.payload_format_indicator.value_or(0) == 1
      && !codec::is_valid_mqtt_utf8(p.payload)) {
    // MQTT 5 §3.3.2.3.2: the receiver may reply 0x99 Payload format invalid.
    ack_code = reason_code::payload_format_invalid;
    route_it = false;
  }
  if (route_it
      && ((acl_active() && !limits_.policy->may_publish(identity(), p.topic))
          || !hook_allows(access_kind::publish, p.topic))) {
    // 3.1.1 has no way to say no: the message is dropped and acknowledged as usual (the spec
    // allows it); MQTT 5 answers 0x87 Not authorized.
    log::debug("session", "publish denied by ACL", {{"client_id", client_id_}, {"topic", p.topic}});
    route_it = false;
    if (v5)
      ack_code = reason_code::not_authorized;
  }
  if (p.topic.front() == '$' && p.topic.compare(0, 5, "$SYS/") == 0) {
    // Clients cannot publish into the broker's own $SYS tree (MQTT 5 §4.7.2); accept and drop
    // as Mosquitto does.
    route_it = false;
  }
  const auto packet_id = p.packet_id;
  const auto qos = p.qos;
  if (qos == 2) {
    if (inbound_qos2_.count(packet_id) > 0) {
      // MQTT-4.3.3-9: a re-sent QoS 2 PUBLISH is not delivered again; just PUBREC.
      send(codec::pubrec{packet_id, reason_code::success, {}});
      return;
    }
    if (v5 && inbound_qos2_.size() >= limits_.receive_maximum) {
      close_with(reason_code::receive_maximum_exceeded); // MQTT-3.3.4-8 / §4.9
      return;
    }
  }
  if (route_it) metrics::count_published(qos);
  if (route_it)
    env_.route(make_message(p));
  if (qos == 1) {
    send(codec::puback{packet_id, ack_code, {}});
  } else if (qos == 2) {
    if (!is_error(ack_code)) {
      inbound_qos2_.insert(packet_id);
      if (persistent()) {
        // MQTT-4.3.3-9 across a restart: the id is kept until PUBREL, and PUBREC waits for it.
        writes_.put(persistence::inbound_key(client_id_, packet_id), {});
        hold_until_durable();
      }
    }
    send(codec::pubrec{packet_id, ack_code, {}});
  }
}

bool session_logic::admit_publish(const codec::publish& p) {
  if (!rate_)
    return true;
  const auto now = env_.now_ms();
  const char* limit = nullptr;
  if (!rate_->messages.take(now))
    limit = "max-publish-rate";
  else if (!rate_->bytes.take(now, p.payload.size()))
    limit = "max-publish-bytes-rate";
  if (limit == nullptr)
    return true;
  // Logged once: the connection ends here.
  log::warn("session", "publish rate limit exceeded",
            {{"client_id", client_id_}, {"limit", limit}});
  close_with(reason_code::message_rate_too_high, "publish rate exceeded"); // MQTT 5: 0x96
  return false;
}

void session_logic::handle_puback(const codec::puback& p) {
  auto it = inflight_.find(p.packet_id);
  if (it == inflight_.end() || it->second.at != inflight_entry::stage::await_puback)
    return; // unknown id: nothing to release (MQTT 5 §4.3.2 allows ignoring it)
  forget(it->second.d);
  inflight_.erase(it);
  pump();
}

void session_logic::handle_pubrec(const codec::pubrec& p) {
  auto it = inflight_.find(p.packet_id);
  if (it == inflight_.end() || it->second.at == inflight_entry::stage::await_puback) {
    send(codec::pubrel{p.packet_id, version_ == protocol_version::v5
                                      ? reason_code::packet_identifier_not_found
                                      : reason_code::success,
                       {}});
    return;
  }
  if (is_error(p.code)) {
    // MQTT 5 §4.3.3: a PUBREC with an error ends the exchange.
    forget(it->second.d);
    inflight_.erase(it);
    pump();
    return;
  }
  it->second.at = inflight_entry::stage::await_pubcomp;
  // After a restart the broker must go on with PUBREL, not send the message again.
  save_stage(it->second.d, p.packet_id, persistence::entry_stage::await_pubcomp);
  send(codec::pubrel{p.packet_id, reason_code::success, {}});
}

void session_logic::handle_pubrel(const codec::pubrel& p) {
  bool known = inbound_qos2_.erase(p.packet_id) > 0;
  if (known && persistent())
    writes_.erase(persistence::inbound_key(client_id_, p.packet_id));
  send(codec::pubcomp{p.packet_id,
                      known || version_ != protocol_version::v5
                        ? reason_code::success
                        : reason_code::packet_identifier_not_found,
                      {}});
}

void session_logic::handle_pubcomp(const codec::pubcomp& p) {
  auto it = inflight_.find(p.packet_id);
  if (it == inflight_.end() || it->second.at != inflight_entry::stage::await_pubcomp)
    return;
  forget(it->second.d);
  inflight_.erase(it);
  pump();
}

void session_logic::handle_subscribe(codec::subscribe& p) {
  const bool v5 = version_ == protocol_version::v5;
  std::uint32_t sub_id = 0;
  if (!p.props.subscription_identifiers.empty()) {
    if (!limits_.subscription_ids_available) {
      close_with(reason_code::subscription_identifiers_not_supported);
      return;
    }
    sub_id = p.props.subscription_identifiers.front();
  }
  codec::suback ack;
  ack.packet_id = p.packet_id;
  std::vector<subscription> accepted;
  auto failure = [&](reason_code v5_code) {
    ack.codes.push_back(v5 ? v5_code : reason_code::unspecified_error);
  };
  for (auto& ts : p.subscriptions) {
    auto shared = codec::parse_shared(ts.topic_filter);
    std::string group;
    std::string filter;
    if (shared.is_shared) {
      if (!shared.valid) {
        failure(reason_code::topic_filter_invalid);
        continue;
      }
      if (!limits_.shared_available) {
        failure(reason_code::shared_subscriptions_not_supported);
        continue;
      }
      if (v5 && ts.options.no_local) {
        close_with(reason_code::protocol_error); // MQTT-3.8.3-4
        return;
      }
      group = std::move(shared.value.group);
      filter = std::move(shared.value.filter);
    } else {
      filter = ts.topic_filter;
    }
    if (!codec::is_valid_topic_filter(filter) || filter.size() > limits_.max_topic_length
        || codec::level_count(filter) > limits_.max_topic_levels) {
      failure(reason_code::topic_filter_invalid);
      continue;
    }
    if (!limits_.wildcard_available && filter.find_first_of("+#") != std::string::npos) {
      failure(reason_code::wildcard_subscriptions_not_supported);
      continue;
    }
    if ((acl_active() && !limits_.policy->may_subscribe(identity(), ts.topic_filter))
        || !hook_allows(access_kind::subscribe, ts.topic_filter)) {
      log::debug("session", "subscribe denied by ACL",
                 {{"client_id", client_id_}, {"filter", ts.topic_filter}});
      failure(reason_code::not_authorized); // 3.1.1: 0x80, MQTT 5: 0x87
      continue;
    }
    auto options = ts.options;
    options.max_qos = std::min(options.max_qos, limits_.max_qos);
    if (!v5)
      options = codec::subscription_options{options.max_qos, false, false, 0};
    auto key = sub_key(group, filter);
    bool existed = subs_.count(key) > 0;
    subs_[key] = sub_record{filter, group, options, sub_id};
    if (!existed) {
      metrics::stats().subscriptions.add();
      count_watcher(filter, +1); // before the SUBACK: a notice after it must reach this one
    }
    save_session();
    if (!group.empty())
      has_shared_ = true;
    subscription s;
    s.topic_filter = std::move(filter);
    s.share_group = std::move(group);
    s.options = options;
    s.subscription_id = sub_id;
    // MQTT 5 §3.3.1.3 Retain Handling; no retained messages for shared subscriptions
    // (MQTT 5 §4.8.2).
    s.send_retained = s.share_group.empty()
                      && (options.retain_handling == 0
                          || (options.retain_handling == 1 && !existed));
    accepted.push_back(std::move(s));
    ack.codes.push_back(static_cast<reason_code>(options.max_qos));
  }
  // SUBACK first: retained messages come back from the shards after it (MQTT-3.8.4-1).
  send(ack);
  if (!accepted.empty())
    env_.subscribe(std::move(accepted));
}

void session_logic::handle_unsubscribe(const codec::unsubscribe& p) {
  codec::unsuback ack;
  ack.packet_id = p.packet_id;
  std::vector<std::pair<std::string, std::string>> removed;
  for (const auto& f : p.topic_filters) {
    auto shared = codec::parse_shared(f);
    std::string group = shared.is_shared ? shared.value.group : std::string{};
    std::string filter = shared.is_shared ? shared.value.filter : f;
    auto it = subs_.find(sub_key(group, filter));
    if (it == subs_.end()) {
      ack.codes.push_back(reason_code::no_subscription_existed);
      continue;
    }
    subs_.erase(it);
    metrics::stats().subscriptions.sub();
    count_watcher(filter, -1);
    save_session();
    removed.emplace_back(std::move(group), std::move(filter));
    ack.codes.push_back(reason_code::success);
  }
  if (!removed.empty())
    env_.unsubscribe(std::move(removed));
  // MQTT-3.10.4-4: UNSUBACK even when nothing matched.
  send(ack);
}

void session_logic::handle_disconnect(const codec::disconnect& p) {
  bool with_will = false;
  if (version_ == protocol_version::v5) {
    if (p.props.session_expiry_interval) {
      if (session_expiry_was_zero_ && *p.props.session_expiry_interval != 0) {
        close_with(reason_code::protocol_error); // MQTT-3.14.2-2
        return;
      }
      session_expiry_ = std::min(*p.props.session_expiry_interval, limits_.max_session_expiry);
    }
    with_will = p.code == reason_code::disconnect_with_will_message;
  }
  flush();
  env_.close_link();
  // MQTT-3.14.4-3: a normal DISCONNECT discards the will.
  lost_connection(with_will, "client disconnect");
}

void session_logic::handle_auth(const codec::auth& p) {
  // MQTT-4.12.0-7: no Authentication Method in CONNECT, no AUTH. MQTT-4.12.1-1: re-auth uses
  // the CONNECT's method.
  if (!auth_ || !limits_.enhanced_auth || p.props.authentication_method != auth_->method) {
    close_with(reason_code::protocol_error);
    return;
  }
  const auto& data = p.props.authentication_data ? *p.props.authentication_data : std::string{};
  auth_step step;
  auto& reauth = auth_->reauth;
  if (p.code == reason_code::re_authenticate && !reauth) {
    reauth = limits_.enhanced_auth->create(auth_->method);
    if (!reauth) {
      close_with(reason_code::bad_authentication_method);
      return;
    }
    step = reauth->start(data);
  } else if (p.code == reason_code::continue_authentication && reauth) {
    step = reauth->next(data);
  } else {
    close_with(reason_code::protocol_error); // 0x19 during an exchange, 0x18 outside one
    return;
  }
  if (step.what == auth_step::outcome::success && step.user != facts_.username)
    step = auth_step{auth_step::outcome::failure, {}, {}, "re-authenticated as another user"};
  switch (step.what) {
    case auth_step::outcome::proceed:
      send_auth(reason_code::continue_authentication, std::move(step.data));
      return;
    case auth_step::outcome::success:
      reauth.reset();
      send_auth(reason_code::success, std::move(step.data));
      return;
    case auth_step::outcome::failure:
      reauth.reset();
      metrics::stats().auth_failures.add();
      log::info("session", "re-authentication failed",
                {{"client_id", client_id_}, {"error", step.error}});
      close_with(reason_code::not_authorized); // MQTT-4.12.1-2
      return;
  }
}

void session_logic::send_auth(reason_code rc, std::string data) {
  codec::auth a{rc, {}};
  if (auth_)
    a.props.authentication_method = auth_->method;
  if (!data.empty())
    a.props.authentication_data = std::move(data);
  send(a);
}

// -- outbound ---------------------------------------------------------------------

void session_logic::send_disconnect(reason_code rc) {
  // A Reason String is allowed on DISCONNECT whatever Request Problem Information says
  // (MQTT-3.1.2-29 exempts PUBLISH, CONNACK and DISCONNECT). It also makes the packet longer
  // than two bytes, which some clients (paho-mqtt 1.6) need before they read the reason code.
  codec::disconnect d{rc, {}};
  d.props.reason_string = std::string{codec::to_string(rc)};
  send(d);
}

void session_logic::send(const codec::packet& p) {
  trace_packet("packet out", client_id_, p);
  codec::encode(p, version_, out_);
}

void session_logic::flush() {
  if (session_dirty_) {
    session_dirty_ = false;
    if (persistent()) {
      persistence::stored_session r;
      r.version = static_cast<std::uint8_t>(version_);
      r.session_expiry = session_expiry_;
      r.incarnation = incarnation_;
      r.disconnected_at_ms = connected_ ? 0 : disconnected_at_ms_;
      r.subscriptions.reserve(subs_.size());
      for (const auto& [key, sub] : subs_)
        r.subscriptions.push_back(persistence::stored_subscription{
          sub.topic_filter, sub.share_group, sub.options, sub.subscription_id});
      if (will_)
        r.will = *will_;
      r.will_due_ms = will_due_ms_;
      writes_.put(persistence::session_key(client_id_), persistence::encode(r));
      // sync: a SUBACK / UNSUBACK / CONNACK promises what the record says.
      hold_until_durable();
    }
  }
  if (!writes_.empty()) {
    env_.persist(std::move(writes_), hold_);
    writes_ = persistence::batch{};
  }
  hold_ = false;
  if (out_.empty())
    return;
  metrics::stats().bytes_sent.add(out_.size());
  env_.write(std::move(out_));
  out_ = {};
}

bool session_logic::window_open() const noexcept {
  auto window = std::min<std::size_t>(limits_.max_inflight, client_receive_maximum_);
  return inflight_.size() < window;
}

bool session_logic::write_buffer_full() const {
  return env_.queued_bytes() + out_.size() > limits_.max_write_buffer;
}

void session_logic::on_deliveries(delivery_batch& batch) {
  for (auto& d : batch.items)
    offer(std::move(d));
}

void session_logic::offer(delivery d) {
  if (d.msg->expires_at_ms != 0 && d.msg->expires_at_ms <= env_.now_ms()) {
    drop(d, "message expired");
    return;
  }
  if (acl_active() && !limits_.policy->may_read(identity(), d.msg->topic)) {
    forget(d);
    return; // the ACL hides this topic from this client (live and retained alike)
  }
  if (!connected_) {
    if (d.qos == 0) {
      return; // QoS 0 is not queued for offline clients (MQTT 5 §3.1.2.4: may be discarded)
    }
    enqueue(std::move(d));
    return;
  }
  if (d.qos == 0) {
    if (write_buffer_full()) {
      drop("slow consumer: write buffer full");
      return;
    }
    send_publish(d, 0, false);
    return;
  }
  if (!pending_.empty() || !window_open() || write_buffer_full()) {
    enqueue(std::move(d));
    pump();
    return;
  }
  auto id = next_packet_id();
  if (send_publish(d, id, false)) {
    auto stage = d.qos == 1 ? inflight_entry::stage::await_puback
                            : inflight_entry::stage::await_pubrec;
    if (d.qos == 2)
      save_stage(d, id, persistence::entry_stage::await_pubrec);
    inflight_.emplace(id, inflight_entry{std::move(d), ++seq_, stage});
  } else {
    forget(d);
  }
}

void session_logic::enqueue(delivery d) {
  if (pending_.size() + spilled_.size() >= limits_.max_queued_messages) {
    drop(d, "session queue full");
    return;
  }
  if (d.seq != 0 && (!spilled_.empty() || pending_.size() >= limits_.max_queued_in_memory)) {
    // The store has it (the shard wrote it): keep only its seq, read it back later. Seqs
    // from different shards may arrive slightly out of order; per topic they are in order.
    auto at = std::upper_bound(spilled_.begin(), spilled_.end(), d.seq);
    spilled_.insert(at, d.seq);
    return;
  }
  pending_.push_back(std::move(d));
}

void session_logic::on_refill() {
  refill_requested_ = false;
  if (spilled_.empty() || !limits_.store)
    return;
  auto want = std::min(spilled_.size(), std::max<std::size_t>(1, limits_.max_queued_in_memory / 2));
  std::vector<std::uint64_t> seqs(spilled_.begin(), spilled_.begin() + static_cast<long>(want));
  auto found = limits_.store->get_entries(client_id_, seqs);
  spilled_.erase(spilled_.begin(), spilled_.begin() + static_cast<long>(want));
  for (auto& e : found) {
    // Written by a shard before this session saw it, and applied before this refill ran:
    // a missing entry was deleted meanwhile (the session ended and started anew).
    if (e && e->incarnation == incarnation_ && e->stage == persistence::entry_stage::queued)
      pending_.push_back(from_entry(std::move(*e)));
  }
  pump();
}

void session_logic::drop(const delivery& d, const char* why) {
  forget(d);
  drop(why);
}

void session_logic::forget(const delivery& d) {
  if (d.seq != 0 && limits_.store)
    writes_.erase(persistence::entry_key(client_id_, d.seq));
}

void session_logic::save_stage(const delivery& d, std::uint16_t packet_id,
                               persistence::entry_stage stage) {
  if (d.seq == 0 || !limits_.store)
    return;
  writes_.put(persistence::entry_key(client_id_, d.seq),
              persistence::encode(to_entry(d, incarnation_, packet_id, stage)));
  // The client may only see this packet id once it survives a crash: otherwise a restart
  // would send the message again under another id (a QoS 2 duplicate).
  hold_until_durable();
}

void session_logic::drop(const char* why) {
  ++dropped_;
  metrics::stats().publish_dropped.add();
  metrics::count_dropped(why);
  if (!drop_logged_) {
    drop_logged_ = true; // once per session, not once per message
    log::warn("session", "dropping messages", {{"client_id", client_id_}, {"reason", why}});
  }
}

void session_logic::pump() {
  if (!spilled_.empty() && !refill_requested_ && connected_
      && pending_.size() < limits_.max_queued_in_memory / 2 + 1) {
    refill_requested_ = true;
    env_.request_refill();
  }
  while (connected_ && !pending_.empty() && window_open()) {
    if (write_buffer_full()) {
      if (!waiting_for_drain_) {
        waiting_for_drain_ = true;
        env_.notify_when_drained();
      }
      return;
    }
    auto d = std::move(pending_.front());
    pending_.pop_front();
    if (d.msg->expires_at_ms != 0 && d.msg->expires_at_ms <= env_.now_ms()) {
      drop(d, "message expired");
      continue;
    }
    auto id = next_packet_id();
    if (send_publish(d, id, false)) {
      auto stage = d.qos == 1 ? inflight_entry::stage::await_puback
                              : inflight_entry::stage::await_pubrec;
      if (d.qos == 2)
        save_stage(d, id, persistence::entry_stage::await_pubrec);
      inflight_.emplace(id, inflight_entry{std::move(d), ++seq_, stage});
    } else {
      forget(d);
    }
  }
}

void session_logic::on_drained() {
  waiting_for_drain_ = false;
  pump();
}

std::uint16_t session_logic::next_packet_id() {
  // Skip ids still in flight (MQTT-2.2.1-3); the window is far below 65535.
  do {
    last_packet_id_ = static_cast<std::uint16_t>(last_packet_id_ == 65535 ? 1 : last_packet_id_ + 1);
  } while (inflight_.count(last_packet_id_) > 0);
  return last_packet_id_;
}

bool session_logic::send_publish(const delivery& d, std::uint16_t packet_id, bool dup) {
  const auto& m = *d.msg;
  const codec::properties* props = nullptr;
  codec::properties v5_props;
  std::string_view topic = m.topic;
  bool new_alias = false;
  if (version_ == protocol_version::v5) {
    bool need = !m.props.empty() || !d.subscription_ids.empty() || m.expires_at_ms != 0;
    if (need) {
      v5_props = m.props;
      v5_props.subscription_identifiers = d.subscription_ids;
      if (m.expires_at_ms != 0) {
        // MQTT-3.3.2-6: forward the remaining lifetime, not the original one.
        auto left_ms = std::max<std::int64_t>(m.expires_at_ms - env_.now_ms(), 0);
        v5_props.message_expiry_interval = static_cast<std::uint32_t>((left_ms + 999) / 1000);
      }
      props = &v5_props;
    }
    if (client_topic_alias_maximum_ > 0) {
      // Server-assigned topic aliases: the first PUBLISH on a topic carries topic and alias,
      // later ones only the alias (MQTT 5 §3.3.2.3.4). Aliases are never re-mapped, so a
      // re-sent PUBLISH stays valid.
      auto& outbound = aliases().outbound;
      if (auto it = outbound.find(m.topic); it != outbound.end()) {
        v5_props.topic_alias = it->second;
        topic = std::string_view{};
        props = &v5_props;
      } else if (outbound.size() < client_topic_alias_maximum_) {
        auto alias = static_cast<std::uint16_t>(outbound.size() + 1);
        outbound.emplace(m.topic, alias);
        v5_props.topic_alias = alias;
        props = &v5_props;
        new_alias = true;
      }
    }
  }
  if (client_max_packet_size_ != 0
      && codec::publish_size(version_, d.qos, topic, props, m.payload)
           > client_max_packet_size_) {
    if (new_alias)
      aliases().outbound.erase(m.topic); // the client never saw it
    drop("larger than the client's maximum packet size"); // MQTT-3.1.2-25
    return false;
  }
  if (log::enabled(log::level::trace)) {
    log::trace("packet", "packet out",
               {{"type", "PUBLISH"}, {"client_id", client_id_}, {"topic", m.topic},
                {"qos", d.qos}, {"retain", d.retain}, {"dup", dup}, {"packet_id", packet_id},
                {"payload_size", m.payload.size()}});
  }
  codec::encode_publish(out_, version_, dup, d.qos, d.retain, topic, packet_id, props,
                        m.payload);
  metrics::stats().messages_sent.add();
  metrics::count_delivered(d.qos, dup || d.retain ? 0 : m.received_at_ns);
  return true;
}

void session_logic::resend_inflight() {
  if (inflight_.empty())
    return;
  std::vector<std::pair<std::uint64_t, std::uint16_t>> order;
  order.reserve(inflight_.size());
  for (auto& [id, e] : inflight_)
    order.emplace_back(e.seq, id);
  std::sort(order.begin(), order.end());
  for (auto [seq, id] : order) {
    auto& e = inflight_.at(id);
    if (e.at == inflight_entry::stage::await_pubcomp) {
      send(codec::pubrel{id, reason_code::success, {}}); // MQTT-4.4.0-1
    } else if (!send_publish(e.d, id, true)) { // DUP=1 on re-delivery (MQTT-3.3.1-1)
      // Too large for the reconnected client: dropped as if delivered (MQTT-3.1.2-25).
      forget(e.d);
      inflight_.erase(id);
    }
  }
}

// -- persistence ------------------------------------------------------------------

void session_logic::restore(restored_session&& r) {
  auto& rec = r.record;
  const auto now = env_.now_ms();
  version_ = static_cast<protocol_version>(rec.version);
  session_expiry_ = rec.session_expiry;
  session_expiry_was_zero_ = false;
  incarnation_ = rec.incarnation;
  connected_ = false;
  for (auto& s : rec.subscriptions) {
    auto key = sub_key(s.share_group, s.topic_filter);
    if (!subs_.emplace(key, sub_record{s.topic_filter, s.share_group, s.options,
                                       s.subscription_id})
           .second)
      continue;
    metrics::stats().subscriptions.add();
    count_watcher(s.topic_filter, +1);
    if (!s.share_group.empty())
      has_shared_ = true;
  }
  // The registry registered the subscriptions with the shards (all restored sessions' before
  // any will is published).
  shards_persistent_ = persistent();
  if (has_shared_)
    env_.set_online(false);
  for (auto& e : r.entries) {
    auto stage = e.stage;
    auto id = e.packet_id;
    auto d = from_entry(std::move(e));
    if (stage == persistence::entry_stage::queued || inflight_.count(id) > 0) {
      pending_.push_back(std::move(d));
      continue;
    }
    auto at = stage == persistence::entry_stage::await_puback ? inflight_entry::stage::await_puback
              : stage == persistence::entry_stage::await_pubrec
                ? inflight_entry::stage::await_pubrec
                : inflight_entry::stage::await_pubcomp;
    inflight_.emplace(id, inflight_entry{std::move(d), ++seq_, at});
    last_packet_id_ = std::max(last_packet_id_, id);
  }
  inbound_qos2_.insert(r.inbound_qos2.begin(), r.inbound_qos2.end());
  spilled_.assign(r.spilled.begin(), r.spilled.end());
  // The client has been away since it disconnected, or since the broker stopped.
  disconnected_at_ms_ = now - r.offline_ms;
  will_ = rec.will ? std::make_unique<codec::will>(std::move(*rec.will)) : nullptr;
  if (will_) {
    auto due = rec.will_due_ms;
    if (rec.disconnected_at_ms == 0) {
      // Online when the broker stopped: the connection ended then (MQTT-3.1.2-8).
      std::uint32_t delay = will_->props.will_delay_interval.value_or(0);
      if (session_expiry_ != never_expires)
        delay = std::min(delay, session_expiry_);
      due = disconnected_at_ms_ + std::int64_t{delay} * 1000;
    }
    if (due <= now) {
      will_due_at_restore_ = true; // published by on_restored()
    } else {
      will_due_ms_ = due;
      env_.start_timer(timer_kind::will_delay, std::chrono::milliseconds{due - now});
    }
  }
  save_session();
  if (session_expiry_ != never_expires) {
    auto left = std::int64_t{session_expiry_} * 1000 - r.offline_ms;
    if (left <= 0)
      expired_at_restore_ = true; // ended by on_restored()
    else
      env_.start_timer(timer_kind::session_expiry, std::chrono::milliseconds{left});
  }
}

void session_logic::on_restored() {
  if (connected_)
    return; // the client came back first: attach() dealt with the will
  if (will_due_at_restore_) {
    will_due_at_restore_ = false;
    publish_will();
  }
  if (expired_at_restore_) {
    expired_at_restore_ = false;
    end_now();
  }
}

} // namespace colony::actors
