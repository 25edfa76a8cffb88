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
  using entry = session_directory::entry;
  registry_args args;
  /// The table of sessions, shared with the I/O threads; changed only under its lock.
  std::shared_ptr<session_directory> dir;
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

/// Spawns the session of `client_id` into its (new or reused) entry. The caller holds the
/// entry's stripe lock.
void start_session(session_directory& dir, const std::string& client_id,
                   session_directory::entry& e,
                   std::shared_ptr<restored_session> restored = nullptr) {
  session_spawn_args a;
  a.client_id = client_id;
  a.session_id = dir.next_session_id.fetch_add(1, std::memory_order_relaxed);
  a.limits = dir.limits;
  a.shards = dir.shards;
  a.registry = dir.registry;
  if (a.limits->store)
    a.incarnation = a.limits->store->next_seq();
  a.restored = std::move(restored);
  const auto session_id = a.session_id;
  auto session = spawn_session(*dir.system, std::move(a));
  // Instead of a monitor: the session tells the registry when it ends, with the client id (no
  // table from actor addresses to client ids).
  caf::actor_cast<caf::abstract_actor*>(session)->attach_functor(
    [registry = dir.registry, client_id, session_id](const caf::error& reason) {
      caf::anon_send(registry, ended_atom::value, client_id, session_id, reason);
    });
  e = session_directory::entry{std::move(session), session_id, 0};
}

/// The attach request for `req`, the next connection of entry `e`. The caller holds its lock.
attach_request next_attach(session_directory::entry& e, connect_request& req, bool assigned_id,
                           bool session_present) {
  attach_request a;
  a.attach_count = ++e.attach_count;
  a.session_present = session_present;
  a.assigned_client_id = assigned_id;
  a.req = std::move(req);
  return a;
}

registry_state::entry& create_session(registry_actor* self, const std::string& client_id,
                                      std::shared_ptr<restored_session> restored) {
  auto& dir = *self->state.dir;
  auto& stripe = dir.stripe_of(client_id);
  std::lock_guard<std::mutex> guard{stripe.mtx};
  auto& e = stripe.map[client_id];
  start_session(dir, client_id, e, std::move(restored));
  return e;
}

} // namespace

bool connect_new_client(session_directory& dir, connect_request& req, bool assigned_id) {
  if (!dir.open.load(std::memory_order_acquire))
    return false;
  auto& stripe = dir.stripe_of(req.packet->client_id);
  std::lock_guard<std::mutex> guard{stripe.mtx};
  // (The registry sets it, then visits every stripe: a session started here before its visit
  // gets the shutdown, one after sees the flag.)
  if (dir.shutting_down.load(std::memory_order_relaxed))
    return false;
  auto [it, fresh] = stripe.map.try_emplace(req.packet->client_id);
  if (!fresh)
    return false; // known client id: the registry decides (take-over, resumption, Clean Start)
  auto& e = it->second;
  start_session(dir, it->first, e);
  auto a = next_attach(e, req, assigned_id, false);
  // Sent under the lock: whatever the registry does next with this entry comes after it.
  caf::anon_send(e.session, attach_atom::value, std::move(a));
  return true;
}

namespace {

void on_connect(registry_actor* self, connect_request& req, bool assigned_id) {
  auto& dir = *self->state.dir;
  if (dir.shutting_down.load()) {
    req.link->close();
    return;
  }
  const auto& client_id = req.packet->client_id;
  auto& stripe = dir.stripe_of(client_id);
  std::unique_lock<std::mutex> guard{stripe.mtx};
  bool present = false;
  caf::actor replaced;
  auto [it, fresh] = stripe.map.try_emplace(client_id); // one lookup for a new client id
  auto* e = &it->second;
  if (!fresh && req.packet->clean_start) {
    // Clean Start: the old session ends (its connection is taken over first); its entry
    // gets the new session.
    replaced = e->session;
    fresh = true;
  }
  if (fresh)
    start_session(dir, client_id, *e);
  else
    present = true; // MQTT-3.2.2-2
  auto a = next_attach(*e, req, assigned_id, present);
  auto successor = e->session;
  if (!replaced) {
    self->send(successor, attach_atom::value, std::move(a));
    return;
  }
  guard.unlock();
  forget_stored(self, client_id);
  // The new session attaches once the old one has ended, so that its "online" $SYS notice
  // follows the old one's "offline" (an error, e.g. the old one already died, also goes on).
  auto pending = std::make_shared<attach_request>(std::move(a));
  auto attach = [self, successor, pending, id = std::string{client_id}] {
    {
      // Another Clean Start may have replaced `successor` meanwhile (it is gone, or going):
      // this connection was taken over before it was attached.
      auto& stripe = self->state.dir->stripe_of(id);
      std::lock_guard<std::mutex> guard{stripe.mtx};
      auto it = stripe.map.find(id);
      if (it == stripe.map.end() || it->second.session != successor) {
        pending->req.link->close();
        return;
      }
    }
    self->send(successor, attach_atom::value, std::move(*pending));
  };
  self->request(replaced, caf::infinite, terminate_atom::value)
    .then([attach] { attach(); }, [attach](caf::error&) { attach(); });
}

void on_expired(registry_actor* self, const std::string& client_id, std::uint64_t session_id,
                std::uint64_t attach_count) {
  auto& stripe = self->state.dir->stripe_of(client_id);
  {
    std::lock_guard<std::mutex> guard{stripe.mtx};
    auto it = stripe.map.find(client_id);
    if (it == stripe.map.end() || it->second.session_id != session_id)
      return;
    if (it->second.attach_count != attach_count)
      return; // a new connection was attached meanwhile: the session lives on
    self->send(it->second.session, terminate_atom::value);
    stripe.map.erase(it);
  }
  forget_stored(self, client_id);
}

/// A session ended (it quit, or died): its entry goes unless a newer session took it.
void on_ended(registry_actor* self, const std::string& client_id, std::uint64_t session_id,
              const caf::error& reason) {
  auto& stripe = self->state.dir->stripe_of(client_id);
  std::lock_guard<std::mutex> guard{stripe.mtx};
  auto it = stripe.map.find(client_id);
  if (it == stripe.map.end() || it->second.session_id != session_id)
    return;
  if (reason && reason != caf::exit_reason::user_shutdown)
    log::error("registry", "session died",
               {{"client_id", client_id}, {"reason", caf::to_string(reason)}});
  stripe.map.erase(it);
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
  auto& st = self->state;
  st.args = std::move(args);
  st.dir = st.args.directory ? st.args.directory : std::make_shared<session_directory>();
  st.dir->system = &self->system();
  st.dir->limits = std::make_shared<const session_limits>(st.args.limits);
  st.dir->shards = st.args.shards;
  st.dir->registry = caf::actor_cast<caf::actor>(self);
  // Restored sessions are in the table before the first CONNECT is decided, here or on an I/O
  // thread.
  restore_sessions(self);
  st.dir->open.store(true, std::memory_order_release);
  return {
    [=](connect_atom, connect_request& req, bool assigned_id) {
      sample_mailbox(self, self->state.mailbox_tick, metrics::actor_kind::registry, 8);
      on_connect(self, req, assigned_id);
    },
    [=](expired_atom, const std::string& client_id, std::uint64_t session_id,
        std::uint64_t attach_count) { on_expired(self, client_id, session_id, attach_count); },
    [=](ended_atom, const std::string& client_id, std::uint64_t session_id,
        const caf::error& reason) { on_ended(self, client_id, session_id, reason); },
    [=](shutdown_atom) {
      // Disconnect every client (0x8B for MQTT 5); sessions stay until the process ends.
      auto& dir = *self->state.dir;
      dir.shutting_down.store(true);
      dir.for_each_stripe([&](session_directory::stripe& s) {
        std::lock_guard<std::mutex> guard{s.mtx};
        for (auto& [id, e] : s.map)
          self->send(e.session, shutdown_atom::value);
      });
    },
    [=](kick_atom, const std::string& client_id) {
      auto& stripe = self->state.dir->stripe_of(client_id);
      std::lock_guard<std::mutex> guard{stripe.mtx};
      auto it = stripe.map.find(client_id);
      if (it == stripe.map.end())
        return false;
      self->send(it->second.session, kick_atom::value);
      return true;
    },
    [=](count_atom) {
      std::uint64_t n = 0;
      self->state.dir->for_each_stripe([&](session_directory::stripe& s) {
        std::lock_guard<std::mutex> guard{s.mtx};
        n += s.map.size();
      });
      return n;
    },
    [=](list_atom) {
      std::vector<caf::actor> all;
      self->state.dir->for_each_stripe([&](session_directory::stripe& s) {
        std::lock_guard<std::mutex> guard{s.mtx};
        for (auto& [id, e] : s.map)
          all.push_back(e.session);
      });
      return all;
    },
    [=](terminate_atom) {
      auto& dir = *self->state.dir;
      dir.shutting_down.store(true); // no more sessions from the I/O threads
      std::vector<caf::actor> all;
      dir.for_each_stripe([&](session_directory::stripe& s) {
        std::lock_guard<std::mutex> guard{s.mtx};
        for (auto& [id, e] : s.map)
          all.push_back(std::move(e.session));
        s.map.clear();
      });
      // Every stripe was visited after shutting_down was set: no I/O thread uses these now.
      dir.open.store(false);
      dir.registry = nullptr;
      for (auto& session : all)
        self->send_exit(session, caf::exit_reason::user_shutdown);
      self->quit();
    },
  };
}

} // namespace

caf::actor spawn_registry(caf::actor_system& sys, registry_args args) {
  return sys.spawn(registry_behavior, std::move(args));
}

} // namespace colony::actors
