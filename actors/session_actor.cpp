#include "actors/session_actor.hpp"

#include "actors/admin_query.hpp"
#include "actors/link_bridge.hpp"
#include "actors/topic_shard.hpp"
#include "metrics/log.hpp"
#include "metrics/stats.hpp"

#include <memory>

namespace colony::actors {

namespace {

class actor_env;

struct session_state {
  static inline const char* name = "session";
  std::unique_ptr<actor_env> env;
  std::unique_ptr<session_logic> logic;
  std::int64_t connected_at_ms = 0;
  ~session_state();
};

using session_actor_t = caf::stateful_actor<session_state>;

/// The session_env the logic talks to, backed by the actor.
class actor_env final : public session_env {
public:
  actor_env(session_actor_t* self, shard_list shards, caf::actor registry)
    : self_(self), shards_(std::move(shards)), registry_(std::move(registry)) {}

  void write(std::vector<std::uint8_t> bytes) override {
    if (link_)
      link_->write(std::move(bytes));
  }
  std::size_t queued_bytes() const override { return link_ ? link_->queued_bytes() : 0; }
  void notify_when_drained() override {
    if (link_)
      link_->notify_when_drained();
  }
  void set_keepalive(std::uint16_t seconds) override {
    if (link_)
      link_->set_keepalive(seconds);
  }
  void close_link() override {
    if (link_)
      link_->close();
    link_ = nullptr;
    link_id_ = 0;
  }
  void route(message_ptr msg) override {
    if (routes_.empty())
      routes_.resize(shards_->size()); // on first use: most idle clients never publish
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

  /// Sends the publishes collected this turn, one batch per shard. Each batch is a request:
  /// until every shard has taken its batch, the link's read credit is held back (see
  /// release_read_credit), so a fast publisher cannot flood a shard's mailbox.
  void flush_routes();

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

  template <class F>
  void for_each_shard_of(const std::string& filter, F&& f) {
    if (is_wildcard_first(filter)) {
      for (std::size_t i = 0; i < shards_->size(); ++i)
        f(i);
    } else {
      f(shard_of(filter, shards_->size()));
    }
  }

  const shard_list& shards() const { return shards_; }
  const caf::actor& registry() const { return registry_; }

private:
  session_actor_t* self_;
  shard_list shards_;
  caf::actor registry_;
  std::vector<publish_batch> routes_;
  bool has_routes_ = false;
  std::size_t unacked_routes_ = 0;
  std::size_t deferred_credits_ = 0;
  transport::link_ptr credit_link_;
};

session_state::~session_state() {
  logic.reset(); // the logic refers to env
}

void actor_env::flush_routes() {
  if (!has_routes_)
    return;
  has_routes_ = false;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].msgs.empty())
      continue;
    ++unacked_routes_;
    self_->request((*shards_)[i], caf::infinite, route_atom::value, std::move(routes_[i]))
      .then([self = self_]() { self->state.env->on_route_ack(); },
            [self = self_](caf::error&) { self->state.env->on_route_ack(); });
    routes_[i] = publish_batch{};
  }
  // Most sessions route rarely (a $SYS notice at connect): give the per-shard slots back.
  std::vector<publish_batch>().swap(routes_);
}

void actor_env::subscribe(std::vector<subscription> subs) {
  // Publishes collected earlier in this turn must reach the shards before the subscription.
  flush_routes();
  std::vector<subscribe_request> per_shard(shards_->size());
  for (auto& s : subs) {
    for_each_shard_of(s.topic_filter, [&](std::size_t i) { per_shard[i].subs.push_back(s); });
  }
  auto id = self_->state.logic->session_id();
  for (std::size_t i = 0; i < per_shard.size(); ++i) {
    if (per_shard[i].subs.empty())
      continue;
    per_shard[i].session_id = id;
    per_shard[i].session = caf::actor_cast<caf::actor>(self_);
    self_->send((*shards_)[i], subscribe_atom::value, std::move(per_shard[i]));
  }
}

void actor_env::unsubscribe(std::vector<std::pair<std::string, std::string>> filters) {
  flush_routes();
  std::vector<unsubscribe_request> per_shard(shards_->size());
  for (auto& f : filters)
    for_each_shard_of(f.second, [&](std::size_t i) { per_shard[i].filters.push_back(f); });
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
  st.env->link_ = a.req.link;
  st.env->link_id_ = a.req.link->id();
  a.req.bridge->set_target(caf::actor_cast<caf::actor>(self));
  connection_facts facts{a.req.username, a.req.link->remote_address(), a.req.link->remote_ip(),
                         a.req.link->listener(), a.assigned_client_id};
  st.connected_at_ms = now_ms();
  logic.attach(a.req.packet, a.session_present, facts);
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

caf::behavior session_behavior(session_actor_t* self, session_spawn_args args) {
  auto& st = self->state;
  st.env = std::make_unique<actor_env>(self, args.shards, args.registry);
  st.logic = std::make_unique<session_logic>(args.client_id, args.session_id, args.limits,
                                             *st.env);
  metrics::stats().clients_total.add();
  return {
    [=](attach_atom, attach_request& a) { on_attach(self, a); },
    [=](packets_atom, std::uint64_t link_id, transport::packet_batch& batch) {
      auto link = self->state.env->link_;
      with_link(self, link_id, [&](session_logic& l) { l.on_packets(batch); });
      if (link && link->id() == link_id)
        self->state.env->release_read_credit(link);
    },
    [=](closed_atom, std::uint64_t link_id, const transport::close_info& info) {
      auto& env = *self->state.env;
      if (link_id != env.link_id_)
        return;
      env.link_ = nullptr;
      env.link_id_ = 0;
      self->state.logic->on_link_closed(info);
      self->state.env->flush_routes();
    },
    [=](drained_atom, std::uint64_t link_id) {
      with_link(self, link_id, [](session_logic& l) { l.on_drained(); });
    },
    [=](deliver_atom, delivery_batch& batch) {
      auto& st = self->state;
      st.logic->on_deliveries(batch);
      st.logic->flush();
    },
    [=](timer_atom, int kind, std::uint64_t gen) {
      auto& st = self->state;
      if (st.env->timer_gen_[kind] != gen)
        return; // cancelled
      st.logic->on_timer(static_cast<timer_kind>(kind));
      st.logic->flush();
      st.env->flush_routes();
    },
    [=](terminate_atom) {
      // The registry ended this session (expired, or replaced by a clean start).
      auto& st = self->state;
      if (st.logic->connected()) {
        st.logic->take_over();
        st.logic->flush();
      }
      terminate_session(self);
    },
    [=](shutdown_atom) {
      auto& st = self->state;
      st.logic->shut_down();
      st.logic->flush();
      st.env->flush_routes();
    },
    [=](kick_atom) {
      auto& st = self->state;
      st.logic->kick();
      st.logic->flush();
      st.env->flush_routes();
    },
    [=](list_atom, subs_atom) {
      session_subscriptions out;
      out.client_id = self->state.logic->client_id();
      self->state.logic->for_each_subscription(
        [&](const std::string& filter, const std::string& group,
            const codec::subscription_options& o, std::uint32_t id) {
          out.items.push_back(subscription_info{filter, group, o.max_qos, o.no_local,
                                                o.retain_as_published, o.retain_handling, id});
        });
      return out;
    },
    [=](list_atom) {
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
    },
  };
}

} // namespace

caf::actor spawn_session(caf::actor_system& sys, session_spawn_args args) {
  // lazy_init: the registry sends the attach request right away, so initialising on that
  // first message saves scheduling the actor once just to run its constructor.
  return sys.spawn<caf::lazy_init>(session_behavior, std::move(args));
}

} // namespace colony::actors
