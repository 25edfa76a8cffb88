#include "server/broker.hpp"

#include "server/access.hpp"

#include "actors/connection_actor.hpp"
#include "actors/io_scheduler.hpp"
#include "actors/link_bridge.hpp"
#include "actors/persist.hpp"
#include "actors/registry.hpp"
#include "actors/sys_publisher.hpp"
#include "actors/topic_shard.hpp"
#include "config/cpus.hpp"
#include "metrics/log.hpp"
#include "metrics/readiness.hpp"
#include "metrics/stats.hpp"
#include "persistence/store.hpp"
#include "server/admin_api.hpp"
#include "transport/io_pool.hpp"
#include "transport/server.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#ifndef COLONY_VERSION
#  define COLONY_VERSION "0.0.0"
#endif

namespace colony::server {

namespace {

struct thread_plan {
  bool actors_on_io = true; ///< scheduler "io": no worker threads of their own
  std::size_t io;
  std::size_t workers; ///< threads that run actors (the I/O threads with scheduler "io")
  std::size_t shards;
};

thread_plan plan_threads(const config::settings& s) {
  std::size_t cores = config::usable_cores(); // a container's CPU limit, not the host's cores
  thread_plan p;
  p.actors_on_io = s.scheduler != "pool";
  if (p.actors_on_io) {
    p.io = s.io_threads ? s.io_threads : cores;
    p.workers = p.io;
  } else {
    p.io = s.io_threads ? s.io_threads : std::max<std::size_t>(1, cores / 4);
    p.workers = s.worker_threads ? s.worker_threads
                                 : std::max<std::size_t>(1, cores > p.io ? cores - p.io : 1);
  }
  p.shards = s.shards ? s.shards : std::max<std::size_t>(4, p.workers * 2);
  return p;
}

actors::session_limits limits_from(const config::settings& s) {
  actors::session_limits l;
  l.max_inflight = s.max_inflight;
  l.max_queued_messages = s.max_queued_messages;
  l.max_queued_in_memory = std::max<std::size_t>(1, s.max_queued_in_memory);
  l.max_write_buffer = s.max_write_buffer;
  l.receive_maximum = static_cast<std::uint16_t>(s.receive_maximum);
  l.topic_alias_maximum = static_cast<std::uint16_t>(s.topic_alias_maximum);
  l.max_keepalive = static_cast<std::uint16_t>(s.max_keepalive);
  l.max_packet_size = static_cast<std::uint32_t>(s.max_packet_size);
  l.max_topic_length = s.max_topic_length;
  l.max_topic_levels = s.max_topic_levels;
  l.sys_notices = s.sys_notices;
  l.sys_watchers = std::make_shared<std::atomic<std::int64_t>>(0);
  l.max_publish_rate = s.max_publish_rate;
  l.max_publish_bytes_rate = s.max_publish_bytes_rate;
  return l;
}

} // namespace

struct broker::impl {
  explicit impl(config::settings s) : settings(std::move(s)), plan(plan_threads(settings)) {
    cfg.set("scheduler.max-threads", plan.workers);
    if (plan.actors_on_io) {
      io = std::make_shared<transport::io_pool>(plan.io);
      actors::use_io_scheduler(cfg, io);
      // An actor hands its thread back to the I/O after this many messages.
      cfg.set("scheduler.max-throughput", std::size_t{256});
    }
    // An idle CAF worker first polls its queue 500 times with 50 µs sleeps (~25 ms; each sleep
    // is a context switch, and a job that arrives meanwhile waits out the sleep, ~100 µs with
    // timer slack) before it waits on a condition variable that enqueueing signals. Skip
    // that middle phase: wake-on-enqueue after the short busy poll.
    cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
    system = std::make_unique<caf::actor_system>(cfg);
  }

  config::settings settings;
  thread_plan plan;
  /// The I/O threads, which run the actors too (scheduler "io"); null with scheduler "pool".
  /// Declared before the actor system: its scheduler stops the threads when the system goes.
  std::shared_ptr<transport::io_pool> io;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> system;
  std::vector<caf::actor> shards;
  caf::actor registry;
  caf::actor sys_publisher;
  std::unique_ptr<transport::server> transport;
  std::unique_ptr<admin_endpoint> http;
  bool allow_anonymous = true;
  std::shared_ptr<access_control> access;
  std::shared_ptr<persistence::store> store;
};

/// Opens the store and reads it back; null when persistence is off. Throws on an unusable
/// data directory.
std::shared_ptr<persistence::store> open_store(const config::settings& s,
                                               persistence::loaded_state& loaded) {
  auto mode = persistence::parse_durability(s.persistence).value_or(persistence::durability::off);
  if (mode == persistence::durability::off)
    return nullptr;
  metrics::ready_state().set("store", false);
  auto store = persistence::store::open(s.data_dir, mode,
                                        std::chrono::seconds{s.persistence_interval});
  loaded = store->load(std::max<std::size_t>(1, s.max_queued_in_memory));
  const auto& report = store->report();
  for (const auto& note : report.notes)
    log::warn("store", "damaged store", {{"data_dir", s.data_dir}, {"detail", note}});
  if (!report.moved_aside_to.empty())
    log::error("store", "the store could not be repaired: moved aside, starting empty",
               {{"data_dir", s.data_dir}, {"moved_to", report.moved_aside_to}});
  else if (report.repaired)
    log::warn("store", "the store was repaired", {{"data_dir", s.data_dir}});
  if (loaded.dropped > 0)
    log::warn("store", "dropped records that do not decode", {{"records", loaded.dropped}});
  log::info("store", "store open",
            {{"data_dir", s.data_dir}, {"persistence", s.persistence},
             {"sessions", loaded.sessions.size()}, {"retained", loaded.retained.size()}});
  metrics::ready_state().set("store", true);
  return store;
}

broker::broker(config::settings s) : impl_(std::make_unique<impl>(std::move(s))) {}

broker::~broker() {
  stop();
}

bool broker::start() {
  auto& d = *impl_;
  auto& s = d.settings;
  log::level lvl = log::level::info;
  log::parse_level(s.log_level, lvl);
  log::set_level(lvl);
  log::format fmt = log::format::automatic;
  log::parse_format(s.log_format, fmt);
  log::set_format(fmt);

  const bool loopback_only = config::is_loopback(s.host);
  d.allow_anonymous = s.allow_anonymous.value_or(loopback_only);
  log::info("broker", loopback_only && !s.config_file_given
                        ? "starting colony: no configuration given, listening on loopback only "
                          "and allowing anonymous clients"
                        : "starting colony",
            {{"version", COLONY_VERSION}, {"host", s.host},
             {"allow_anonymous", d.allow_anonymous}, {"io_threads", d.plan.io},
             {"scheduler", d.settings.scheduler}, {"worker_threads", d.plan.workers},
             {"shards", d.plan.shards}});
  std::vector<std::string> auth_errors;
  d.access = std::make_shared<access_control>(s, d.allow_anonymous, auth_errors);
  if (!auth_errors.empty()) {
    for (auto& e : auth_errors)
      log::error("auth", "cannot load authentication files", {{"error", e}});
    return false;
  }
  if (!d.allow_anonymous && !d.access->has_authentication())
    log::warn("broker", "anonymous access is off and no password file or auth hook is set: "
                        "every client will be refused");

  auto loaded = std::make_shared<persistence::loaded_state>();
  try {
    d.store = open_store(s, *loaded);
  } catch (const std::exception& e) {
    log::error("store", "cannot open the store", {{"data_dir", s.data_dir}, {"error", e.what()}});
    return false;
  }
  auto& sys = *d.system;
  std::vector<actors::shard_args> shard_setup(d.plan.shards);
  for (auto& m : loaded->retained) {
    auto i = actors::shard_of(m.topic, d.plan.shards);
    shard_setup[i].retained.push_back(actors::from_stored(std::move(m)));
  }
  loaded->retained.clear();
  for (std::size_t i = 0; i < d.plan.shards; ++i) {
    shard_setup[i].index = i;
    shard_setup[i].store = d.store;
    d.shards.push_back(actors::spawn_topic_shard(sys, std::move(shard_setup[i])));
  }
  auto shards = std::make_shared<const std::vector<caf::actor>>(d.shards);
  auto limits = limits_from(s);
  limits.policy = d.access;
  limits.store = d.store;
  limits.enhanced_auth = make_auth_methods(s, d.access);
  if (!limits.enhanced_auth->empty()) {
    std::string names;
    for (const auto& n : limits.enhanced_auth->names())
      names += (names.empty() ? "" : ",") + n;
    log::info("auth", "enhanced authentication offered", {{"methods", names}});
  }
  auto directory = std::make_shared<actors::session_directory>();
  d.registry = actors::spawn_registry(
    sys, actors::registry_args{limits, shards, d.store ? loaded : nullptr, directory});
  d.sys_publisher = actors::spawn_sys_publisher(
    sys, actors::sys_args{shards, std::chrono::seconds{s.sys_interval}, COLONY_VERSION});

  transport::transport_options topts;
  topts.io_threads = d.plan.io;
  topts.pool = d.io;
  topts.max_packet_size = s.max_packet_size;
  topts.connect_timeout = std::chrono::seconds{s.connect_timeout};
  topts.max_write_buffer = s.max_write_buffer;
  topts.on_event = [](const transport::transport_event& e) {
    log::level l = e.level == transport::event_level::debug  ? log::level::debug
                   : e.level == transport::event_level::info ? log::level::info
                   : e.level == transport::event_level::warn ? log::level::warn
                                                             : log::level::error;
    if (!log::enabled(l))
      return;
    if (e.address.empty())
      log::write(l, "transport", e.msg, {{"listener", e.listener}, {"detail", e.detail}});
    else
      log::write(l, "transport", e.msg,
                 {{"listener", e.listener}, {"address", e.address}, {"detail", e.detail}});
  };
  d.transport = std::make_unique<transport::server>(topts);

  // TLS: on when a certificate is given. The TLS and WSS ports then default to 8883 and 8084
  // unless given; -1 switches a listener off even with a certificate.
  const bool tls_on = !s.tls_cert.empty();
  const int tls_port = s.tls_port.value_or(tls_on ? 8883 : -1);
  const int wss_port = s.wss_port.value_or(tls_on ? 8084 : -1);
  if (!tls_on && (tls_port >= 0 || wss_port >= 0)) {
    log::error("transport", "TLS listeners need a certificate",
               {{"error", "tls-port/wss-port is set but tls-cert is not"}});
    return false;
  }
  if (tls_on) {
    transport::tls_options t;
    t.cert_file = s.tls_cert;
    t.key_file = s.tls_key;
    t.ca_file = s.tls_ca;
    t.verify_peer = s.tls_verify;
    t.ciphers = s.tls_ciphers;
    t.min_version = s.tls_min_version;
    std::string error;
    if (!d.transport->configure_tls(t, error)) {
      log::error("transport", "TLS configuration failed", {{"error", error}});
      return false;
    }
    if (s.tls_use_identity_as_username && s.tls_ca.empty())
      log::warn("transport", "tls-use-identity-as-username has no effect without tls-ca: "
                             "client certificates are not requested");
  }

  auto registry = d.registry;
  auto allow_anonymous = d.allow_anonymous;
  auto access = d.access;
  // One table for every listener: the limit is per source address, whatever the listener.
  std::shared_ptr<actors::per_ip_rate_limiter> connect_rate;
  if (s.max_connect_rate_per_ip > 0)
    connect_rate = std::make_shared<actors::per_ip_rate_limiter>(s.max_connect_rate_per_ip);
  std::chrono::milliseconds connect_timeout = std::chrono::seconds{s.connect_timeout};
  // One copy of the limits for every link (the handshake of each link only reads them).
  auto shared_limits = std::make_shared<const actors::session_limits>(limits);
  auto make_on_accept = [&sys, registry, directory, shared_limits, allow_anonymous, access,
                         connect_rate, connect_timeout](bool identity_as_username) {
    return [&sys, registry, directory, shared_limits, allow_anonymous, access, connect_rate,
            identity_as_username,
            connect_timeout](
             transport::link_ptr link) -> std::shared_ptr<transport::link_handler> {
      auto bridge = std::make_shared<actors::link_bridge>(link->id());
      auto a = std::make_shared<actors::connection_args>();
      a->system = &sys;
      a->link = link;
      a->bridge = bridge; // a cycle until the CONNECT is decided (the bridge drops `a` then)
      a->registry = registry;
      a->directory = directory;
      a->limits = shared_limits;
      a->allow_anonymous = allow_anonymous;
      a->auth = access;
      a->identity_as_username = identity_as_username;
      a->connect_rate = connect_rate;
      a->auth_timeout = connect_timeout;
      bridge->set_handshake(std::move(a));
      return bridge;
    };
  };
  auto on_accept = make_on_accept(false);
  auto on_accept_tls = make_on_accept(s.tls_use_identity_as_username);

  auto add_listener = [&](const char* name, transport::listener_kind kind, int port) {
    transport::listener_options lo;
    lo.name = name;
    lo.kind = kind;
    lo.host = s.host;
    lo.port = port;
    lo.max_connections = s.max_connections;
    lo.ws_path = s.ws_path;
    lo.socket_path = s.unix_socket;
    bool secure = kind == transport::listener_kind::tls || kind == transport::listener_kind::wss;
    std::string error;
    int bound = d.transport->add_listener(lo, secure ? on_accept_tls : on_accept, error);
    if (bound < 0) {
      log::error("transport", "listener failed", {{"listener", name}, {"error", error}});
      return false;
    }
    if (kind == transport::listener_kind::unix_socket)
      log::info("transport", "listening", {{"listener", name}, {"path", s.unix_socket}});
    else if (kind == transport::listener_kind::ws || kind == transport::listener_kind::wss)
      log::info("transport", "listening",
                {{"listener", name}, {"address", s.host}, {"port", bound}, {"path", s.ws_path}});
    else
      log::info("transport", "listening",
                {{"listener", name}, {"address", s.host}, {"port", bound}});
    return true;
  };
  if (s.port >= 0 && !add_listener("mqtt", transport::listener_kind::tcp, s.port))
    return false;
  if (tls_port >= 0 && !add_listener("mqtts", transport::listener_kind::tls, tls_port))
    return false;
  if (s.ws_port >= 0 && !add_listener("ws", transport::listener_kind::ws, s.ws_port))
    return false;
  if (wss_port >= 0 && !add_listener("wss", transport::listener_kind::wss, wss_port))
    return false;
  if (!s.unix_socket.empty()
      && !add_listener("unix", transport::listener_kind::unix_socket, 0))
    return false;
  d.transport->start();
  if (s.http_port >= 0) {
    admin_options ho;
    ho.host = s.http_host;
    ho.port = s.http_port;
    ho.api_token = s.http_api_token;
    ho.version = COLONY_VERSION;
    ho.registry = d.registry;
    ho.shard_count = d.shards.size();
    d.http = std::make_unique<admin_endpoint>(sys, std::move(ho));
    if (!d.http->start())
      return false;
  }
  metrics::ready_state().set("listeners", true);
  return true;
}

void broker::reload() {
  auto& d = *impl_;
  log::info("broker", "SIGHUP received: reloading");
  if (d.access) {
    auto errors = d.access->reload();
    for (auto& e : errors)
      log::error("auth", "reload failed, the previous rules stay in force", {{"error", e}});
    if (errors.empty())
      log::info("auth", "password and ACL files reloaded");
  }
  if (d.transport && !d.settings.tls_cert.empty()) {
    std::string error;
    d.transport->reload_tls(error); // logs the outcome; on failure the old certificate stays
  }
}

void broker::stop() {
  auto& d = *impl_;
  metrics::ready_state().set("listeners", false);
  if (d.http) {
    d.http->stop(); // before the actor system goes: the HTTP thread asks actors
    d.http.reset();
  }
  if (!d.transport)
    return;
  using namespace std::chrono_literals;
  log::info("broker", "shutting down");
  d.transport->stop_accepting();
  caf::anon_send(d.registry, actors::shutdown_atom::value);
  auto wait_for_links = [&](std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (d.transport->connection_count() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
  };
  wait_for_links(3000ms);
  d.transport->close_all();
  wait_for_links(1000ms);
  d.transport->stop();
  caf::anon_send(d.registry, actors::terminate_atom::value);
  for (auto& shard : d.shards)
    caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(d.sys_publisher, caf::exit_reason::user_shutdown);
  d.shards.clear();
  d.registry = nullptr;
  d.sys_publisher = nullptr;
  if (d.store) {
    // What the actors wrote last, then fsync — while the actor system still exists, because
    // the writer's completion callbacks send to actors.
    d.system->await_all_actors_done();
    d.store->close();
  }
  d.system.reset(); // waits for every actor
  // Sessions held links until now; the links' sockets need the I/O contexts alive.
  d.transport.reset();
  d.store.reset();
  log::info("broker", "stopped");
}

} // namespace colony::server
