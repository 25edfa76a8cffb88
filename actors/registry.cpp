#include "actors/registry.hpp"

#include "actors/session_actor.hpp"
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
  std::unordered_map<std::string, entry> sessions;
  std::unordered_map<caf::actor_addr, std::string> by_addr;
  std::uint64_t next_session_id = 1;
  bool shutting_down = false;
};

using registry_actor = caf::stateful_actor<registry_state>;

registry_state::entry& create_session(registry_actor* self, const std::string& client_id) {
  auto& st = self->state;
  session_spawn_args a;
  a.client_id = client_id;
  a.session_id = st.next_session_id++;
  a.limits = st.args.limits;
  a.shards = st.args.shards;
  a.registry = caf::actor_cast<caf::actor>(self);
  auto session = spawn_session(self->system(), std::move(a));
  self->monitor(session);
  st.by_addr[session.address()] = client_id;
  auto& e = st.sessions[client_id];
  e = registry_state::entry{session, st.next_session_id - 1, 0};
  return e;
}

void on_connect(registry_actor* self, connect_request& req, bool assigned_id) {
  auto& st = self->state;
  if (st.shutting_down) {
    req.link->close();
    return;
  }
  const auto client_id = req.packet.client_id;
  bool present = false;
  caf::actor replaced;
  auto it = st.sessions.find(client_id);
  if (it != st.sessions.end() && req.packet.clean_start) {
    // Clean Start: the old session ends (its connection is taken over first).
    replaced = it->second.session;
    st.by_addr.erase(it->second.session.address());
    st.sessions.erase(it);
    it = st.sessions.end();
  }
  registry_state::entry* e;
  if (it == st.sessions.end()) {
    e = &create_session(self, client_id);
  } else {
    e = &it->second;
    present = true; // MQTT-3.2.2-2
  }
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
}

caf::behavior registry_behavior(registry_actor* self, registry_args args) {
  self->state.args = std::move(args);
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
