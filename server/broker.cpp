#include "server/broker.hpp"

#include "actors/connection_actor.hpp"
#include "actors/link_bridge.hpp"
#include "actors/registry.hpp"
#include "actors/sys_publisher.hpp"
#include "actors/topic_shard.hpp"
#include "metrics/log.hpp"
#include "metrics/stats.hpp"
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
  std::size_t io;
  std::size_t workers;
  std::size_t shards;
};

thread_plan plan_threads(const config::settings& s) {
  std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  thread_plan p;
  p.io = s.io_threads ? s.io_threads : std::max<std::size_t>(1, cores / 4);
  p.workers = s.worker_threads ? s.worker_threads
                               : std::max<std::size_t>(1, cores > p.io ? cores - p.io : 1);
  p.shards = s.shards ? s.shards : std::max<std::size_t>(4, p.workers * 2);
  return p;
}

actors::session_limits limits_from(const config::settings& s) {
  actors::session_limits l;
  l.max_inflight = s.max_inflight;
  l.max_queued_messages = s.max_queued_messages;
  l.max_write_buffer = s.max_write_buffer;
  l.receive_maximum = static_cast<std::uint16_t>(s.receive_maximum);
  l.topic_alias_maximum = static_cast<std::uint16_t>(s.topic_alias_maximum);
  l.max_keepalive = static_cast<std::uint16_t>(s.max_keepalive);
  l.max_packet_size = static_cast<std::uint32_t>(s.max_packet_size);
  l.max_topic_length = s.max_topic_length;
  l.max_topic_levels = s.max_topic_levels;
  l.sys_notices = s.sys_notices;
  return l;
}

} // namespace

struct broker::impl {
  explicit impl(config::settings s) : settings(std::move(s)), plan(plan_threads(settings)) {
    cfg.set("scheduler.max-threads", plan.workers);
    system = std::make_unique<caf::actor_system>(cfg);
  }

  config::settings settings;
  thread_plan plan;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> system;
  std::vector<caf::actor> shards;
  caf::actor registry;
  caf::actor sys_publisher;
  std::unique_ptr<transport::server> transport;
  bool allow_anonymous = true;
};

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
             {"worker_threads", d.plan.workers}, {"shards", d.plan.shards}});
  if (!d.allow_anonymous && s.password_file.empty())
    log::warn("broker", "anonymous access is off and no password file is set: every client "
                        "will be refused");

  auto& sys = *d.system;
  for (std::size_t i = 0; i < d.plan.shards; ++i)
    d.shards.push_back(actors::spawn_topic_shard(sys, i));
  auto shards = std::make_shared<const std::vector<caf::actor>>(d.shards);
  auto limits = limits_from(s);
  d.registry = actors::spawn_registry(sys, actors::registry_args{limits, shards});
  d.sys_publisher = actors::spawn_sys_publisher(
    sys, actors::sys_args{shards, std::chrono::seconds{s.sys_interval}, COLONY_VERSION});

  transport::transport_options topts;
  topts.io_threads = d.plan.io;
  topts.max_packet_size = s.max_packet_size;
  topts.connect_timeout = std::chrono::seconds{s.connect_timeout};
  topts.max_write_buffer = s.max_write_buffer;
  d.transport = std::make_unique<transport::server>(topts);

  auto registry = d.registry;
  auto allow_anonymous = d.allow_anonymous;
  auto on_accept = [&sys, registry, limits,
                    allow_anonymous](transport::link_ptr link) -> std::shared_ptr<transport::link_handler> {
    auto bridge = std::make_shared<actors::link_bridge>(link->id());
    actors::connection_args a;
    a.link = link;
    a.bridge = bridge;
    a.registry = registry;
    a.limits = limits;
    a.allow_anonymous = allow_anonymous;
    bridge->set_target(actors::spawn_connection(sys, std::move(a)));
    return bridge;
  };

  if (s.port >= 0) {
    transport::listener_options lo;
    lo.name = "mqtt";
    lo.host = s.host;
    lo.port = s.port;
    lo.max_connections = s.max_connections;
    std::string error;
    int port = d.transport->add_tcp_listener(lo, on_accept, error);
    if (port < 0) {
      log::error("transport", "listener failed", {{"listener", "mqtt"}, {"error", error}});
      return false;
    }
    log::info("transport", "listening",
              {{"listener", "mqtt"}, {"address", s.host}, {"port", port}});
  }
  if (s.ws_port >= 0 || s.wss_port >= 0 || s.tls_port >= 0 || !s.unix_socket.empty())
    log::warn("transport", "TLS, WebSocket and Unix-socket listeners are not available in this "
                           "build yet; only MQTT over TCP is served");
  if (s.http_port >= 0)
    log::warn("http", "the HTTP endpoint is not available in this build yet");
  d.transport->start();
  return true;
}

void broker::reload() {
  log::info("broker", "SIGHUP received: nothing to reload yet");
}

void broker::stop() {
  auto& d = *impl_;
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
  d.system.reset(); // waits for every actor
  // Sessions held links until now; the links' sockets need the I/O contexts alive.
  d.transport.reset();
  log::info("broker", "stopped");
}

} // namespace colony::server
