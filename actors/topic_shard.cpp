#include "actors/topic_shard.hpp"

#include "actors/persist.hpp"
#include "actors/mailbox_sampler.hpp"
#include "actors/retained_store.hpp"
#include "actors/subscription_tree.hpp"
#include "metrics/stats.hpp"

#include <chrono>
#include <functional>
#include <unordered_map>

namespace colony::actors {

std::size_t shard_of(std::string_view topic, std::size_t shard_count) noexcept {
  auto first = topic.substr(0, topic.find('/'));
  return std::hash<std::string_view>{}(first) % shard_count;
}

bool is_wildcard_first(std::string_view filter) noexcept {
  auto first = filter.substr(0, filter.find('/'));
  return first == "+" || first == "#";
}

std::vector<subscribe_request> split_by_shard(const subscribe_request& who,
                                              const std::vector<subscription>& subs,
                                              std::size_t shard_count) {
  std::vector<subscribe_request> per_shard(shard_count);
  for (const auto& s : subs)
    for_each_shard_of(s.topic_filter, shard_count,
                      [&](std::size_t i) { per_shard[i].subs.push_back(s); });
  for (auto& req : per_shard) {
    if (req.subs.empty())
      continue;
    req.session_id = who.session_id;
    req.session = who.session;
    req.client_id = who.client_id;
    req.incarnation = who.incarnation;
    req.persistent = who.persistent;
  }
  return per_shard;
}

std::int64_t now_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

struct shard_state {
  static inline const char* name = "topic_shard";

  std::size_t index = 0;
  subscription_tree tree;
  retained_store retained;
  struct session_ref {
    caf::actor actor;
    std::string client_id;
    std::uint64_t incarnation = 0;
    bool persistent = false;
  };
  std::unordered_map<std::uint64_t, session_ref> sessions;
  // Persistence: writes of this turn, and route requests waiting for them to be durable.
  std::shared_ptr<persistence::store> store;
  persistence::batch writes;
  std::unordered_map<std::uint64_t, caf::response_promise> waiting;
  std::uint64_t next_token = 0;
  std::unordered_map<std::uint64_t, std::size_t> refs; // subscriptions per session
  // Scratch space reused across turns.
  std::vector<sub_match> matches;
  std::unordered_map<std::uint64_t, delivery_batch> out;
  std::uint32_t mailbox_tick = 0;
};

using shard_actor = caf::stateful_actor<shard_state>;

delivery make_delivery(const message_ptr& msg, const sub_match& m) {
  delivery d;
  d.msg = msg;
  d.qos = std::min<std::uint8_t>(msg->qos, m.max_qos);
  // MQTT-3.3.1-9 / MQTT 5 §3.8.3.1 Retain As Published.
  d.retain = m.retain_as_published && msg->retain;
  d.subscription_ids = m.subscription_ids;
  d.shared_key = m.shared_key;
  return d;
}

void flush(shard_actor* self) {
  auto& st = self->state;
  for (auto& [id, batch] : st.out) {
    if (batch.items.empty())
      continue;
    if (auto it = st.sessions.find(id); it != st.sessions.end())
      self->send(it->second.actor, deliver_atom::value, std::move(batch));
  }
  st.out.clear();
}

/// Queues a QoS 1/2 delivery to a persistent session in the store (its entry key is
/// client id + a new seq; the session deletes it once the client has acknowledged it).
void persist_delivery(shard_state& st, std::uint64_t session_id, delivery& d) {
  if (!st.store || d.qos == 0)
    return;
  auto it = st.sessions.find(session_id);
  if (it == st.sessions.end() || !it->second.persistent)
    return;
  d.seq = st.store->next_seq();
  st.writes.insert(persistence::entry_key(it->second.client_id, d.seq),
                persistence::encode(to_entry(d, it->second.incarnation, 0,
                                             persistence::entry_stage::queued)));
}

void persist_retained(shard_state& st, const message_ptr& msg) {
  if (!st.store || msg->topic.compare(0, 5, "$SYS/") == 0)
    return; // the broker's own $SYS messages are made anew at start
  if (msg->payload.empty())
    st.writes.erase(persistence::retained_key(msg->topic));
  else
    st.writes.put(persistence::retained_key(msg->topic), persistence::encode(to_stored(*msg)));
}

/// Submits this turn's writes (there are some). For a request, returns a promise that is
/// kept until they are applied (durable in sync mode); for a plain message, nothing waits.
caf::result<void> commit(shard_actor* self) {
  auto& st = self->state;
  auto* current = self->current_mailbox_element();
  if (current == nullptr || !current->mid.is_request()) {
    st.store->submit(std::move(st.writes));
    st.writes = persistence::batch{};
    return caf::unit;
  }
  auto rp = self->make_response_promise();
  auto token = ++st.next_token;
  st.waiting.emplace(token, rp);
  st.store->submit(std::move(st.writes), [me = caf::actor_cast<caf::actor>(self), token] {
    caf::anon_send(me, committed_atom::value, token);
  });
  st.writes = persistence::batch{};
  return rp;
}

void on_publish(shard_actor* self, const publish_batch& batch) {
  auto& st = self->state;
  auto now = now_ms();
  for (const auto& msg : batch.msgs) {
    if (msg->retain) {
      persist_retained(st, msg);
      int delta = st.retained.put(msg);
      if (delta > 0)
        metrics::stats().retained_messages.add(1);
      else if (delta < 0)
        metrics::stats().retained_messages.sub(1);
    }
    if (msg->expires_at_ms != 0 && msg->expires_at_ms <= now)
      continue;
    st.matches.clear();
    st.tree.match(msg->topic, msg->origin_session, st.matches);
    for (const auto& m : st.matches) {
      auto& items = st.out[m.subscriber].items;
      items.push_back(make_delivery(msg, m));
      persist_delivery(st, m.subscriber, items.back());
    }
  }
}

void on_subscribe(shard_actor* self, subscribe_request& req) {
  auto& st = self->state;
  st.sessions[req.session_id] = shard_state::session_ref{req.session, req.client_id,
                                                         req.incarnation, req.persistent};
  std::vector<message_ptr> found;
  delivery_batch retained;
  auto now = now_ms();
  for (auto& sub : req.subs) {
    sub_entry e{req.session_id, sub.options, sub.subscription_id};
    if (!st.tree.subscribe(sub.topic_filter, sub.share_group, e)) {
      ++st.refs[req.session_id]; // (subscriptions are counted by the sessions, once each)
    }
    if (!sub.send_retained)
      continue;
    found.clear();
    st.retained.match(sub.topic_filter, now, found);
    for (auto& msg : found) {
      delivery d;
      d.msg = msg;
      d.qos = std::min(msg->qos, sub.options.max_qos);
      d.retain = true; // MQTT-3.3.1-6: retained messages sent on subscribe carry RETAIN=1
      if (sub.subscription_id != 0)
        d.subscription_ids.push_back(sub.subscription_id);
      persist_delivery(st, req.session_id, d);
      retained.items.push_back(std::move(d));
    }
  }
  if (!st.writes.empty())
    commit(self); // submitted before the session can see (and acknowledge) the messages
  if (!retained.items.empty())
    self->send(req.session, deliver_atom::value, std::move(retained));
}

void forget_if_unused(shard_actor* self, std::uint64_t session_id) {
  auto& st = self->state;
  auto it = st.refs.find(session_id);
  if (it == st.refs.end() || it->second == 0) {
    st.refs.erase(session_id);
    st.sessions.erase(session_id);
  }
}

void on_unsubscribe(shard_actor* self, const unsubscribe_request& req) {
  auto& st = self->state;
  for (const auto& [group, filter] : req.filters) {
    if (st.tree.unsubscribe(filter, group, req.session_id)) {
      --st.refs[req.session_id];
    }
  }
  forget_if_unused(self, req.session_id);
}

void on_unsubscribe_all(shard_actor* self, std::uint64_t session_id) {
  auto& st = self->state;
  st.tree.remove_subscriber(session_id);
  st.refs.erase(session_id);
  st.sessions.erase(session_id);
}

/// A session left a shared group holding undelivered messages: give them to other members.
void on_redistribute(shard_actor* self, std::uint64_t from, delivery_batch& batch) {
  auto& st = self->state;
  for (auto& d : batch.items) {
    auto sep = d.shared_key.find('\x1f');
    if (sep == std::string::npos)
      continue;
    sub_match m;
    if (!st.tree.pick_shared(std::string_view{d.shared_key}.substr(0, sep),
                             std::string_view{d.shared_key}.substr(sep + 1), from, m))
      continue;
    auto& items = st.out[m.subscriber].items;
    items.push_back(make_delivery(d.msg, m));
    persist_delivery(st, m.subscriber, items.back());
  }
  if (!st.writes.empty())
    commit(self);
  flush(self);
}

caf::behavior shard_behavior(shard_actor* self, shard_args args) {
  auto& st = self->state;
  st.index = args.index;
  st.store = std::move(args.store);
  for (auto& msg : args.retained) {
    if (st.retained.put(msg) > 0)
      metrics::stats().retained_messages.add(1);
  }
  return {
    [=](route_atom, const publish_batch& batch) -> caf::result<void> {
      sample_mailbox(self, self->state.mailbox_tick, metrics::actor_kind::topic_shard, 16);
      on_publish(self, batch);
      if (self->state.writes.empty()) {
        flush(self);
        return caf::unit;
      }
      // The writes go to the store before the sessions see the deliveries: an acknowledgement
      // (a delete) can never overtake the write it deletes.
      auto result = commit(self);
      flush(self);
      return result;
    },
    [=](committed_atom, std::uint64_t token) {
      auto& waiting = self->state.waiting;
      if (auto it = waiting.find(token); it != waiting.end()) {
        it->second.deliver(caf::unit);
        waiting.erase(it);
      }
    },
    [=](subscribe_atom, subscribe_request& req) {
      sample_mailbox(self, self->state.mailbox_tick, metrics::actor_kind::topic_shard, 16);
      on_subscribe(self, req);
    },
    [=](unsub_atom, const unsubscribe_request& req) { on_unsubscribe(self, req); },
    [=](unsub_all_atom, std::uint64_t session_id) { on_unsubscribe_all(self, session_id); },
    [=](online_atom, std::uint64_t session_id, bool online) {
      self->state.tree.set_online(session_id, online);
    },
    [=](route_atom, std::uint64_t from, delivery_batch& batch) {
      on_redistribute(self, from, batch);
    },
  };
}

} // namespace

caf::actor spawn_topic_shard(caf::actor_system& sys, shard_args args) {
  return sys.spawn(shard_behavior, std::move(args));
}

} // namespace colony::actors
