#include "actors/registry.hpp"

#include "actors/mailbox_sampler.hpp"
#include "actors/session_actor.hpp"
#include "actors/topic_shard.hpp"
#include "metrics/log.hpp"

#include <unordered_map>

namespace colony::actors {

namespace {

struct registry_state {
  static inline const char* name = "session_registry";
  struct entry {
    caf::actor session;
    std::uint64_t session_id = 0;
    std::uint64_t attach_count = 0;
  };
  registry_args args;
  std::shared_ptr<const session_limits> shared_limits; ///< given to every session
  std::unordered_map<std::string, entry> sessions;
  std::unordered_map<caf::actor_addr, std::string> by_addr;
  std::uint64_t next_session_id = 1;
  bool shutting_down = false;
  std::uint32_t mailbox_tick = 0;
};

using registry_actor = caf::stateful_actor<registry_state>;

/// Deletes everything the store holds for a client id (its session ended). Late writes of
/// shards for the ended session carry its incarnation and are dropped at the next start.
void forget_stored(registry_actor* self, const std::string& client_id) {
  auto& store = self->state.args.limits.store;
  if (!store)
    return;
  persistence::batch b;
  b.erase(persistence::session_key(client_id));
  auto [qb, qe] = persistence::entry_range(client_id);
  b.erase_range(std::move(qb), std::move(qe));
  auto [ib, ie] = persistence::inbound_range(client_id);
  b.erase_range(std::move(ib), std::move(ie));
  store->submit(std::move(b));
}

/// Spawns the session of `client_id` into its (new or reused) entry.
void start_session(registry_actor* self, const std::string& client_id, registry_state::entry& e,
                   std::shared_ptr<restored_session> restored = nullptr) {
  auto& st = self->state;
  session_spawn_args a;
  a.client_id = client_id;
  a.session_id = st.next_session_id++;
  if (!st.shared_limits)
    st.shared_limits = std::make_shared<const session_limits>(st.args.limits);
  a.limits = st.shared_limits;
  a.shards = st.args.shards;
  a.registry = caf::actor_cast<caf::actor>(self);
  if (a.limits->store)
    a.incarnation = a.limits->store->next_seq();
  a.restored = std::move(restored);
  auto session = spawn_session(self->system(), std::move(a));
  self->monitor(session);
  st.by_addr[session.address()] = client_id;
  e = registry_state::entry{session, st.next_session_id - 1, 0};
}

registry_state::entry& create_session(registry_actor* self, const std::string& client_id,
                                      std::shared_ptr<restored_session> restored) {
  auto& e = self->state.sessions[client_id];
  start_session(self, client_id, e, std::move(restored));
  return e;
}

void on_connect(registry_actor* self, connect_request& req, bool assigned_id) {
  auto& st = self->state;
  if (st.shutting_down) {
    req.link->close();
    return;
  }
  const auto& client_id = req.packet->client_id;
  bool present = false;
  caf::actor replaced;
  auto [it, fresh] = st.sessions.try_emplace(client_id); // one lookup for a new client id
  auto* e = &it->second;
  if (!fresh && req.packet->clean_start) {
    // Clean Start: the old session ends (its connection is taken over first); its entry
    // gets the new session.
    replaced = e->session;
    st.by_addr.erase(e->session.address());
    forget_stored(self, client_id);
    fresh = true;
  }
  if (fresh)
    start_session(self, client_id, *e);
  else
    present = true; // MQTT-3.2.2-2
  attach_request a;
  a.attach_count = ++e->attach_count;
  a.session_present = present;
  a.assigned_client_id = assigned_id;
  a.req = std::move(req);
  if (!replaced) {
    self->send(e->session, attach_atom::value, std::move(a));
    return;
  }
  // The new session attaches once the old one has ended, so that its "online" $SYS notice
  // follows the old one's "offline" (an error, e.g. the old one already died, also goes on).
  auto pending = std::make_shared<attach_request>(std::move(a));
  auto successor = e->session;
  auto attach = [self, successor, pending] {
    self->send(successor, attach_atom::value, std::move(*pending));
  };
  self->request(replaced, caf::infinite, terminate_atom::value)
    .then([attach] { attach(); }, [attach](caf::error&) { attach(); });
}

void on_expired(registry_actor* self, const std::string& client_id, std::uint64_t session_id,
                std::uint64_t attach_count) {
  auto& st = self->state;
  auto it = st.sessions.find(client_id);
  if (it == st.sessions.end() || it->second.session_id != session_id)
    return;
  if (it->second.attach_count != attach_count)
    return; // a new connection was attached meanwhile: the session lives on
  self->send(it->second.session, terminate_atom::value);
  st.by_addr.erase(it->second.session.address());
  st.sessions.erase(it);
  forget_stored(self, client_id);
}

/// Registers a restored session's subscriptions with the shards, from the registry, so that
/// all of them are in place before any restored session publishes.
void register_subscriptions(registry_actor* self, const registry_state::entry& e,
                            const std::string& client_id, std::uint64_t incarnation,
                            bool persistent,
                            const std::vector<persistence::stored_subscription>& subs) {
  const auto& shards = *self->state.args.shards;
  std::vector<subscription> list;
  list.reserve(subs.size());
  for (const auto& s : subs)
    list.push_back(subscription{s.topic_filter, s.share_group, s.options, s.subscription_id,
                                false});
  subscribe_request who;
  who.session_id = e.session_id;
  who.session = e.session;
  who.client_id = client_id;
  who.incarnation = incarnation;
  who.persistent = persistent;
  auto per_shard = split_by_shard(who, list, shards.size());
  for (std::size_t i = 0; i < shards.size(); ++i)
    if (!per_shard[i].subs.empty())
      self->send(shards[i], subscribe_atom::value, std::move(per_shard[i]));
}

/// Brings back the sessions the store kept (before any client connects).
void restore_sessions(registry_actor* self) {
  auto loaded = std::move(self->state.args.loaded);
  if (!loaded)
    return;
  const auto now = now_ms();
  // A session online when the broker stopped lost its connection at the last heartbeat.
  const auto down_since = loaded->last_alive_ms > 0 ? loaded->last_alive_ms : now;
  std::size_t restored_count = 0, entries = 0, orphans = 0;
  persistence::batch cleanup;
  std::vector<caf::actor> restored;
  for (auto& rec : loaded->sessions) {
    auto r = std::make_shared<restored_session>();
    auto since = rec.disconnected_at_ms != 0 ? rec.disconnected_at_ms : down_since;
    r->offline_ms = std::max<std::int64_t>(now - since, 0);
    if (auto it = loaded->entries.find(rec.client_id); it != loaded->entries.end()) {
      for (auto& e : it->second) {
        if (e.incarnation == rec.incarnation) {
          r->entries.push_back(std::move(e));
        } else {
          ++orphans;
          cleanup.erase(persistence::entry_key(rec.client_id, e.seq));
        }
      }
      loaded->entries.erase(it);
    }
    if (auto it = loaded->spilled.find(rec.client_id); it != loaded->spilled.end()) {
      r->spilled = std::move(it->second);
      loaded->spilled.erase(it);
    }
    if (auto it = loaded->inbound.find(rec.client_id); it != loaded->inbound.end()) {
      r->inbound_qos2 = std::move(it->second);
      loaded->inbound.erase(it);
    }
    entries += r->entries.size();
    auto client_id = rec.client_id;
    auto incarnation = rec.incarnation;
    bool persistent = rec.session_expiry != 0;
    auto subs = rec.subscriptions;
    r->record = std::move(rec);
    auto& e = create_session(self, client_id, std::move(r));
    register_subscriptions(self, e, client_id, incarnation, persistent, subs);
    restored.push_back(e.session);
    ++restored_count;
  }
  // Every restored subscription is now in the shards' mailboxes, ahead of anything a restored
  // session publishes (a will that fell due while the broker was down).
  for (auto& s : restored)
    self->send(s, restored_atom::value);
  // Entries of sessions that no longer exist, or of replaced ones: delete them.
  auto& store = self->state.args.limits.store;
  for (auto& [client_id, list] : loaded->entries) {
    orphans += list.size();
    auto [qb, qe] = persistence::entry_range(client_id);
    cleanup.erase_range(std::move(qb), std::move(qe));
  }
  for (auto& [client_id, ids] : loaded->inbound) {
    auto [ib, ie] = persistence::inbound_range(client_id);
    cleanup.erase_range(std::move(ib), std::move(ie));
  }
  if (store && !cleanup.empty())
    store->submit(std::move(cleanup));
  log::info("registry", "sessions restored",
            {{"sessions", restored_count}, {"messages", entries}, {"orphans_dropped", orphans}});
}

caf::behavior registry_behavior(registry_actor* self, registry_args args) {
  self->state.args = std::move(args);
  restore_sessions(self);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    auto it = st.by_addr.find(dm.source);
    if (it == st.by_addr.end())
      return;
    auto s = st.sessions.find(it->second);
    if (s != st.sessions.end() && s->second.session.address() == dm.source) {
      if (dm.reason && dm.reason != caf::exit_reason::user_shutdown)
        log::error("registry", "session died", {{"client_id", it->second},
                                                 {"reason", caf::to_string(dm.reason)}});
      st.sessions.erase(s);
    }
    st.by_addr.erase(it);
  });
  return {
    [=](connect_atom, connect_request& req, bool assigned_id) {
      sample_mailbox(self, self->state.mailbox_tick, metrics::actor_kind::registry, 8);
      on_connect(self, req, assigned_id);
    },
    [=](expired_atom, const std::string& client_id, std::uint64_t session_id,
        std::uint64_t attach_count) { on_expired(self, client_id, session_id, attach_count); },
    [=](shutdown_atom) {
      // Disconnect every client (0x8B for MQTT 5); sessions stay until the process ends.
      auto& st = self->state;
      st.shutting_down = true;
      for (auto& [id, e] : st.sessions)
        self->send(e.session, shutdown_atom::value);
    },
    [=](kick_atom, const std::string& client_id) {
      auto& st = self->state;
      auto it = st.sessions.find(client_id);
      if (it == st.sessions.end())
        return false;
      self->send(it->second.session, kick_atom::value);
      return true;
    },
    [=](count_atom) { return static_cast<std::uint64_t>(self->state.sessions.size()); },
    [=](list_atom) {
      std::vector<caf::actor> all;
      for (auto& [id, e] : self->state.sessions)
        all.push_back(e.session);
      return all;
    },
    [=](terminate_atom) {
      for (auto& [id, e] : self->state.sessions)
        self->send_exit(e.session, caf::exit_reason::user_shutdown);
      self->state.sessions.clear();
      self->quit();
    },
  };
}

} // namespace

caf::actor spawn_registry(caf::actor_system& sys, registry_args args) {
  return sys.spawn(registry_behavior, std::move(args));
}

} // namespace colony::actors
