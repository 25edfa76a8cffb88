#include "actors/session_actor.hpp"

#include "actors/admin_query.hpp"
#include "actors/link_bridge.hpp"
#include "actors/mailbox_sampler.hpp"
#include "actors/topic_shard.hpp"
#include "metrics/log.hpp"
#include "metrics/stats.hpp"

#include <algorithm>
#include <memory>

namespace colony::actors {

namespace {

struct session_state;
using session_actor_t = caf::stateful_actor<session_state>;

/// The session_env the logic talks to, backed by the actor.
class actor_env final : public session_env {
public:
  actor_env(session_actor_t* self, shard_list shards, caf::actor registry)
    : self_(self), shards_(std::move(shards)), registry_(std::move(registry)) {}

  void write(std::vector<std::uint8_t> bytes) override {
    if (!link_)
      return;
    if (holds_ > 0) {
      // persistence = sync: acknowledgements wait until what they promise is on disk.
      held_.insert(held_.end(), bytes.begin(), bytes.end());
      return;
    }
    link_->write(std::move(bytes));
  }
  std::size_t queued_bytes() const override {
    return link_ ? link_->queued_bytes() + held_.size() : 0;
  }
  void notify_when_drained() override {
    if (link_)
      link_->notify_when_drained();
  }
  void set_keepalive(std::uint16_t seconds) override {
    if (link_)
      link_->set_keepalive(seconds);
  }
  void close_link() override {
    if (link_ && !held_.empty() && holds_ > 0) {
      // The close waits for the held bytes (a final PUBACK, a DISCONNECT).
      closing_link_ = std::move(link_);
    } else if (link_) {
      link_->close();
    }
    link_ = nullptr;
    link_id_ = 0;
  }
  void route(message_ptr msg) override {
    if (routes_.empty())
      routes_.resize(shards_->size()); // on first use: most idle clients never publish
    if (since_ack_.empty())
      since_ack_.resize(shards_->size());
    // A retained QoS 1/2 message is acknowledged once its shard has stored it: a subscriber
    // that comes after the PUBACK gets the new retained state (MQTT-3.3.1-5/-10/-11).
    if (msg->qos > 0 && (store_sync_ || msg->retain)) {
      // The PUBACK / PUBREC of this turn waits until the shards have stored the messages.
      hold_turn_output();
    }
    auto i = shard_of(msg->topic, shards_->size());
    routes_[i].msgs.push_back(std::move(msg));
    has_routes_ = true;
  }
  void subscribe(std::vector<subscription> subs) override;
  void unsubscribe(std::vector<std::pair<std::string, std::string>> filters) override;
  void set_online(bool online) override;
  void redistribute(std::vector<delivery> items) override;
  void start_timer(timer_kind kind, std::chrono::milliseconds after) override;
  void cancel_timer(timer_kind kind) override { ++timer_gen_[static_cast<int>(kind)]; }
  void end_session() override;
  std::int64_t now_ms() const override { return actors::now_ms(); }
  void persist(persistence::batch writes, bool hold_output) override;
  void request_refill() override;

  /// One hold is over (writes durable, or the shards acknowledged a turn's publishes).
  void release_hold() {
    if (holds_ == 0 || --holds_ > 0)
      return;
    auto bytes = std::move(held_);
    held_ = {};
    if (closing_link_) {
      if (!bytes.empty())
        closing_link_->write(std::move(bytes));
      closing_link_->close();
      closing_link_ = nullptr;
    } else if (link_ && !bytes.empty()) {
      link_->write(std::move(bytes));
    }
  }

  /// A new link: bytes held for the old one are not for it.
  void reset_held() {
    held_.clear();
    if (closing_link_) {
      closing_link_->close();
      closing_link_ = nullptr;
    }
  }

  std::function<void(bool)> acl_reply(std::uint64_t token) override;

  /// Sends the publishes collected this turn, one batch per shard. Every route_ack_window-th
  /// batch to a shard (and every batch whose acknowledgements wait for the store) is a
  /// request: until the shard has answered it, and with it everything sent to it before, the
  /// link's read credit is held back (see release_read_credit). So a fast publisher has at
  /// most that many batches in a shard's mailbox, and a shard answers one batch in eight.
  void flush_routes();
  /// Sends `batch` to shard `i` asking for an acknowledgement (on_route_ack).
  void request_route(std::size_t i, publish_batch batch);
  void order_barrier() override {
    bool unacked = has_routes_;
    for (auto n : since_ack_)
      unacked = unacked || n > 0;
    if (!unacked)
      return; // nothing routed since the last acknowledgement
    barrier_ = true;
    hold_turn_output();
  }
  /// This turn's output waits until every route request of the turn is acknowledged (see
  /// flush_routes and on_route_ack).
  void hold_turn_output() {
    if (!route_hold_) {
      route_hold_ = true;
      ++holds_;
    }
  }
  static constexpr std::uint8_t route_ack_window = 8;

  /// A packet batch from the link is done: hand back its read credit now, or once the shards
  /// have processed what it published.
  void release_read_credit(const transport::link_ptr& link) {
    if (!link)
      return;
    if (unacked_routes_ == 0) {
      link->batch_done();
      return;
    }
    credit_link_ = link;
    ++deferred_credits_;
  }

  void on_route_ack() {
    if (--unacked_routes_ > 0)
      return;
    for (; route_holds_ > 0; --route_holds_)
      release_hold();
    if (auto link = std::move(credit_link_)) {
      for (; deferred_credits_ > 0; --deferred_credits_)
        link->batch_done();
    }
    deferred_credits_ = 0;
  }

  transport::link_ptr link_;
  std::uint64_t link_id_ = 0;
  std::uint64_t timer_gen_[2] = {0, 0};
  std::uint64_t attach_count_ = 0;

  const shard_list& shards() const { return shards_; }
  const caf::actor& registry() const { return registry_; }

private:
  session_actor_t* self_;
  shard_list shards_;
  caf::actor registry_;
  std::vector<publish_batch> routes_;
  /// Batches sent to each shard since the last one it was asked to acknowledge.
  std::vector<std::uint8_t> since_ack_;
  bool has_routes_ = false;
  std::size_t unacked_routes_ = 0;
  std::size_t deferred_credits_ = 0;
  transport::link_ptr credit_link_;

public:
  // Persistence.
  std::shared_ptr<persistence::store> store_;
  bool store_sync_ = false;
  std::size_t holds_ = 0;
  bool route_hold_ = false;      ///< this turn's publishes hold the output
  bool barrier_ = false;         ///< every shard sent to since its last ack is asked for one
  std::size_t route_holds_ = 0;  ///< holds released when every route request is acknowledged
  std::vector<std::uint8_t> held_;
  transport::link_ptr closing_link_;
};

struct session_state {
  static inline const char* name = "session";
  // In the actor itself (no allocations of their own); set up by session_behavior.
  std::optional<actor_env> env;
  std::optional<session_logic> logic;
  std::int64_t connected_at_ms = 0;
  /// Read credits held back while packets wait for asynchronous ACL answers.
  std::size_t held_credits = 0;
  std::uint32_t mailbox_tick = 0;
  ~session_state();
};

session_state::~session_state() {
  logic.reset(); // the logic refers to env
}

void actor_env::request_refill() {
  if (!store_)
    return;
  // An empty batch: its callback runs after everything submitted before it is applied.
  store_->submit(persistence::batch{}, [me = caf::actor_cast<caf::actor>(self_)] {
    caf::anon_send(me, refill_atom::value);
  });
}

std::function<void(bool)> actor_env::acl_reply(std::uint64_t token) {
  // Called on the hook's thread: the answer comes back as a message.
  return [me = caf::actor_cast<caf::actor>(self_), token](bool allowed) {
    caf::anon_send(me, acl_atom::value, token, allowed);
  };
}

void actor_env::persist(persistence::batch writes, bool hold_output) {
  if (!store_)
    return;
  if (!hold_output) {
    store_->submit(std::move(writes));
    return;
  }
  ++holds_;
  store_->submit(std::move(writes), [self = caf::actor_cast<caf::actor>(self_)] {
    caf::anon_send(self, committed_atom::value);
  });
}

void actor_env::request_route(std::size_t i, publish_batch batch) {
  since_ack_[i] = 0;
  ++unacked_routes_;
  self_->request((*shards_)[i], caf::infinite, route_atom::value, std::move(batch))
    .then([self = self_]() { self->state.env->on_route_ack(); },
          [self = self_](caf::error&) { self->state.env->on_route_ack(); });
}

void actor_env::flush_routes() {
  const bool hold = route_hold_;
  const bool barrier = barrier_;
  barrier_ = false;
  if (route_hold_) {
    // Released by on_route_ack once every route request sent so far is acknowledged (or
    // below, if no request goes out).
    route_hold_ = false;
    ++route_holds_;
  }
  if (!has_routes_ && !barrier)
    return;
  has_routes_ = false;
  if (routes_.size() < shards_->size())
    routes_.resize(shards_->size());
  const auto unacked_before = unacked_routes_;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].msgs.empty()) {
      if (barrier && i < since_ack_.size() && since_ack_[i] > 0) {
        // An empty batch: the shard answers it after everything this session sent it before
        // (one sender's messages to one actor stay in order).
        request_route(i, publish_batch{});
      }
      continue;
    }
    bool broker_only = std::all_of(routes_[i].msgs.begin(), routes_[i].msgs.end(),
                                   [](const message_ptr& m) { return m->origin_session == 0; });
    if (broker_only) {
      // The session's own notices ($SYS online/offline): no client's read credit or
      // acknowledgement waits for them, so no reply is needed (one message less per connect).
      self_->send((*shards_)[i], route_atom::value, std::move(routes_[i]));
      routes_[i] = publish_batch{};
      continue;
    }
    if (!hold && ++since_ack_[i] < route_ack_window) {
      self_->send((*shards_)[i], route_atom::value, std::move(routes_[i]));
      routes_[i] = publish_batch{};
      continue;
    }
    request_route(i, std::move(routes_[i]));
    routes_[i] = publish_batch{};
  }
  // Most sessions route rarely (a $SYS notice at connect): give the per-shard slots back.
  std::vector<publish_batch>().swap(routes_);
  if (hold && unacked_routes_ == unacked_before && unacked_routes_ == 0) {
    // Nothing to wait for after all (only broker notices went out): release at once.
    for (; route_holds_ > 0; --route_holds_)
      release_hold();
  }
}

void actor_env::subscribe(std::vector<subscription> subs) {
  // Publishes collected earlier in this turn must reach the shards before the subscription.
  flush_routes();
  auto& logic = *self_->state.logic;
  subscribe_request who;
  who.session_id = logic.session_id();
  who.session = caf::actor_cast<caf::actor>(self_);
  who.client_id = logic.client_id();
  who.incarnation = logic.incarnation();
  who.persistent = logic.persistent();
  auto per_shard = split_by_shard(who, subs, shards_->size());
  for (std::size_t i = 0; i < per_shard.size(); ++i)
    if (!per_shard[i].subs.empty())
      self_->send((*shards_)[i], subscribe_atom::value, std::move(per_shard[i]));
}

void actor_env::unsubscribe(std::vector<std::pair<std::string, std::string>> filters) {
  flush_routes();
  std::vector<unsubscribe_request> per_shard(shards_->size());
  for (auto& f : filters)
    for_each_shard_of(f.second, shards_->size(),
                      [&](std::size_t i) { per_shard[i].filters.push_back(f); });
  auto id = self_->state.logic->session_id();
  for (std::size_t i = 0; i < per_shard.size(); ++i) {
    if (per_shard[i].filters.empty())
      continue;
    per_shard[i].session_id = id;
    self_->send((*shards_)[i], unsub_atom::value, std::move(per_shard[i]));
  }
}

void actor_env::set_online(bool online) {
  auto id = self_->state.logic->session_id();
  for (const auto& shard : *shards_)
    self_->send(shard, online_atom::value, id, online);
}

void actor_env::redistribute(std::vector<delivery> items) {
  auto id = self_->state.logic->session_id();
  std::vector<delivery_batch> per_shard(shards_->size());
  for (auto& d : items) {
    // The shard that matched it is the one owning the message's topic.
    per_shard[shard_of(d.msg->topic, shards_->size())].items.push_back(std::move(d));
  }
  for (std::size_t i = 0; i < per_shard.size(); ++i)
    if (!per_shard[i].items.empty())
      self_->send((*shards_)[i], route_atom::value, id, std::move(per_shard[i]));
}

void actor_env::start_timer(timer_kind kind, std::chrono::milliseconds after) {
  auto k = static_cast<int>(kind);
  auto gen = ++timer_gen_[k];
  self_->delayed_send(self_, after, timer_atom::value, k, gen);
}

void actor_env::end_session() {
  flush_routes();
  auto& logic = *self_->state.logic;
  self_->send(registry_, expired_atom::value, logic.client_id(), logic.session_id(),
              attach_count_);
}

/// Final teardown: remove every subscription from every shard, then quit.
void terminate_session(session_actor_t* self) {
  auto& st = self->state;
  st.env->flush_routes();
  auto id = st.logic->session_id();
  if (st.logic->ever_subscribed()) // (most sessions of short-lived clients never did)
    for (const auto& shard : *st.env->shards())
      self->send(shard, unsub_all_atom::value, id);
  metrics::stats().subscriptions.sub(st.logic->subscription_count());
  metrics::stats().clients_total.sub();
  self->quit();
}

void on_attach(session_actor_t* self, attach_request& a) {
  auto& st = self->state;
  auto& logic = *st.logic;
  if (a.attach_count < st.env->attach_count_) {
    // A newer connection was attached first (the registry held this one back while the
    // session it replaced ended): this one has been taken over already.
    a.req.link->close();
    return;
  }
  if (logic.connected()) {
    logic.take_over(); // MQTT-3.1.4-2: close the existing connection
    logic.flush();
  }
  st.env->attach_count_ = a.attach_count;
  st.env->reset_held();
  st.held_credits = 0; // they belonged to the previous link
  st.env->link_ = a.req.link;
  st.env->link_id_ = a.req.link->id();
  a.req.bridge->set_target(caf::actor_cast<caf::actor>(self));
  connection_facts facts{a.req.username, a.req.link->remote_address(), a.req.link->remote_ip(),
                         a.req.link->listener(), a.assigned_client_id};
  st.connected_at_ms = now_ms();
  logic.attach(*a.req.packet, a.session_present, facts);
  logic.flush();
  st.env->flush_routes();
  // Packets that followed CONNECT are decoded from now on, and come here.
  a.req.link->resume();
}

template <class F>
void with_link(session_actor_t* self, std::uint64_t link_id, F&& f) {
  auto& st = self->state;
  if (link_id != st.env->link_id_ || link_id == 0)
    return; // from a connection that is no longer attached
  f(*st.logic);
  st.logic->flush();
  st.env->flush_routes();
}

/// What a handler ends with: the bytes the logic wrote go to the link, the messages it routed
/// to the shards.
void settle(session_actor_t* self) {
  self->state.logic->flush();
  self->state.env->flush_routes();
}

void on_packets(session_actor_t* self, std::uint64_t link_id, transport::packet_batch& batch) {
  auto& st = self->state;
  sample_mailbox(self, st.mailbox_tick, metrics::actor_kind::session);
  auto link = st.env->link_;
  with_link(self, link_id, [&](session_logic& l) { l.on_packets(batch); });
  if (link && link->id() == link_id) {
    if (st.logic->holding_packets())
      ++st.held_credits; // no more reads while packets wait for the ACL hook
    else
      st.env->release_read_credit(link);
  }
}

void on_acl_answer(session_actor_t* self, std::uint64_t token, bool allowed) {
  auto& st = self->state;
  st.logic->on_acl_answer(token, allowed);
  settle(self);
  if (!st.logic->holding_packets()) {
    auto link = st.env->link_;
    for (; st.held_credits > 0; --st.held_credits)
      st.env->release_read_credit(link);
  }
}

void on_closed(session_actor_t* self, std::uint64_t link_id, const transport::close_info& info) {
  auto& env = *self->state.env;
  if (link_id != env.link_id_)
    return;
  env.link_ = nullptr;
  env.link_id_ = 0;
  env.reset_held();
  self->state.logic->on_link_closed(info);
  env.flush_routes();
}

session_subscriptions list_subscriptions(session_actor_t* self) {
  session_subscriptions out;
  out.client_id = self->state.logic->client_id();
  self->state.logic->for_each_subscription(
    [&](const std::string& filter, const std::string& group, const codec::subscription_options& o,
        std::uint32_t id) {
      out.items.push_back(subscription_info{filter, group, o.max_qos, o.no_local,
                                            o.retain_as_published, o.retain_handling, id});
    });
  return out;
}

session_info describe(session_actor_t* self) {
  auto& st = self->state;
  auto& l = *st.logic;
  session_info info;
  info.client_id = l.client_id();
  info.username = l.facts().username;
  info.remote_address = l.facts().remote_address;
  info.listener = l.facts().listener;
  info.protocol_version = static_cast<int>(l.version());
  info.keep_alive = l.keep_alive();
  info.connected = l.connected();
  info.subscriptions = l.subscription_count();
  info.inflight = l.inflight_count();
  info.queued = l.queued_count();
  info.connected_at_ms = st.connected_at_ms;
  return info;
}

/// A message that is not one of the per-packet ones (a connect, a close, a timer, the ACL hook,
/// persistence, the registry, the admin API). These are dispatched from the actor's default
/// handler rather than being handlers of its behavior: CAF stores every handler of a behavior
/// in each actor (~40 bytes apiece), and most sessions are idle clients that only wait, so
/// thirteen rare handlers would cost ~0.5 KB per connection. The result is the reply (empty
/// for a message that expects none, or a `void` request).
caf::result<caf::message> on_rare_message(caf::scheduled_actor* ptr, caf::message_view& view) {
  auto* self = static_cast<session_actor_t*>(ptr);
  auto& st = self->state;
  auto& xs = view.content();
  auto done = caf::message{};
  if (xs.match_elements<attach_atom, attach_request>()) {
    on_attach(self, xs.get_mutable_as<attach_request>(1));
  } else if (xs.match_elements<closed_atom, std::uint64_t, transport::close_info>()) {
    on_closed(self, xs.get_as<std::uint64_t>(1), xs.get_as<transport::close_info>(2));
  } else if (xs.match_elements<acl_atom, std::uint64_t, bool>()) {
    on_acl_answer(self, xs.get_as<std::uint64_t>(1), xs.get_as<bool>(2));
  } else if (xs.match_elements<timer_atom, int, std::uint64_t>()) {
    auto kind = xs.get_as<int>(1);
    if (st.env->timer_gen_[kind] != xs.get_as<std::uint64_t>(2))
      return done; // cancelled
    st.logic->on_timer(static_cast<timer_kind>(kind));
    settle(self);
  } else if (xs.match_elements<committed_atom>()) {
    st.env->release_hold();
  } else if (xs.match_elements<restored_atom>()) {
    // Every restored session's subscriptions are registered: wills that fell due while the
    // broker was down can be published now, and reach them.
    st.logic->on_restored();
    settle(self);
  } else if (xs.match_elements<refill_atom>()) {
    st.logic->on_refill();
    settle(self);
  } else if (xs.match_elements<terminate_atom>()) {
    // The registry ended this session (expired, or replaced by a clean start).
    if (st.logic->connected()) {
      st.logic->take_over();
      st.logic->flush();
    }
    terminate_session(self);
  } else if (xs.match_elements<shutdown_atom>()) {
    st.logic->shut_down();
    settle(self);
  } else if (xs.match_elements<kick_atom>()) {
    st.logic->kick();
    settle(self);
  } else if (xs.match_elements<list_atom, subs_atom>()) {
    return caf::make_message(list_subscriptions(self));
  } else if (xs.match_elements<list_atom>()) {
    return caf::make_message(describe(self));
  } else {
    return caf::print_and_drop(ptr, view);
  }
  return done;
}

caf::behavior session_behavior(session_actor_t* self, session_spawn_args args) {
  auto& st = self->state;
  st.env.emplace(self, args.shards, args.registry);
  st.logic.emplace(args.client_id, args.session_id, args.limits, *st.env);
  st.env->store_ = args.limits->store;
  st.env->store_sync_ = args.limits->store
                        && args.limits->store->mode() == persistence::durability::sync;
  st.logic->set_incarnation(args.incarnation);
  metrics::stats().clients_total.add();
  if (args.restored) {
    st.logic->restore(std::move(*args.restored));
    settle(self);
  }
  self->set_default_handler(on_rare_message);
  // The per-packet messages only (see on_rare_message).
  return {
    [=](packets_atom, std::uint64_t link_id, transport::packet_batch& batch) {
      on_packets(self, link_id, batch);
    },
    [=](deliver_atom, delivery_batch& batch) {
      auto& st = self->state;
      sample_mailbox(self, st.mailbox_tick, metrics::actor_kind::session);
      st.logic->on_deliveries(batch);
      st.logic->flush();
    },
    [=](drained_atom, std::uint64_t link_id) {
      with_link(self, link_id, [](session_logic& l) { l.on_drained(); });
    },
  };
}

} // namespace

caf::actor spawn_session(caf::actor_system& sys, session_spawn_args args) {
  // A session restored from the store must start now (its timers run while it is offline).
  if (args.restored)
    return sys.spawn(session_behavior, std::move(args));
  // lazy_init: the registry sends the attach request right away, so initialising on that
  // first message costs nothing and avoids a scheduling round.
  return sys.spawn<caf::lazy_init>(session_behavior, std::move(args));
}

} // namespace colony::actors
