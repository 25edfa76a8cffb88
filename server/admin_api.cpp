#include "server/admin_api.hpp"

#include "actors/admin_query.hpp"
#include "actors/messages.hpp"
#include "actors/session_actor.hpp"
#include "metrics/http_api.hpp"
#include "metrics/http_server.hpp"
#include "metrics/log.hpp"
#include "metrics/prometheus_metrics.hpp"
#include "metrics/readiness.hpp"
#include "metrics/stats.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <mutex>
#include <optional>

namespace colony::server {

namespace http = metrics::http;
namespace prom = metrics::prom;

namespace {

using steady = std::chrono::steady_clock;

/// Session scans (queued / in-flight totals) for /metrics are reused for this long.
constexpr auto sample_max_age = std::chrono::seconds{2};

/// A sampled count (negative = unknown) as a JSON integer or null.
nlohmann::json count_or_null(double v) {
  return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(static_cast<std::uint64_t>(v));
}

http::client_view to_view(const actors::session_info& i) {
  http::client_view c;
  c.client_id = i.client_id;
  c.username = i.username;
  c.address = i.remote_address;
  c.listener = i.listener;
  c.protocol_version = i.protocol_version;
  c.keepalive = i.keep_alive;
  c.connected = i.connected;
  c.subscriptions = i.subscriptions;
  c.inflight = i.inflight;
  c.queued = i.queued;
  c.connected_at_ms = i.connected_at_ms;
  return c;
}

/// The router's data source: asks the registry and the sessions from the HTTP thread.
class caf_backend final : public http::backend {
public:
  caf_backend(caf::actor_system& sys, const admin_options& o) : sys_(sys), opts_(o) {}

  void set_exposition(prom::exposition* e) { exposition_ = e; }

  http::outcome clients(std::vector<http::client_view>& out) override {
    std::vector<actors::session_info> infos;
    if (!scan(infos))
      return http::outcome::unavailable;
    for (auto& i : infos)
      out.push_back(to_view(i));
    return http::outcome::ok;
  }

  http::outcome client(const std::string& id, http::client_view& out) override {
    std::vector<actors::session_info> infos;
    if (!scan(infos))
      return http::outcome::unavailable;
    for (auto& i : infos) {
      if (i.client_id == id) {
        out = to_view(i);
        return http::outcome::ok;
      }
    }
    return http::outcome::not_found;
  }

  http::outcome kick(const std::string& id) override {
    caf::scoped_actor self{sys_};
    std::optional<bool> found;
    self->request(opts_.registry, opts_.timeout, actors::kick_atom::value, id)
      .receive([&](bool b) { found = b; }, [&](caf::error&) {});
    if (!found)
      return http::outcome::unavailable;
    if (!*found)
      return http::outcome::not_found;
    return http::outcome::ok;
  }

  http::outcome subscriptions(std::vector<http::subscription_view>& out) override {
    if (subs_unsupported_.load(std::memory_order_relaxed))
      return http::outcome::unsupported;
    caf::scoped_actor self{sys_};
    std::vector<caf::actor> sessions;
    if (!list_sessions(self, sessions))
      return http::outcome::unavailable;
    if (!sessions.empty()) {
      // Sessions built without the (list, subs) query answer "unexpected message" (and CAF
      // prints a warning): ask one first, and never again if it does not know the query.
      std::vector<actors::session_subscriptions> first;
      std::vector<caf::actor> one{sessions.front()};
      if (ask_all(self, one, first, actors::list_atom::value, actors::subs_atom::value) > 0) {
        subs_unsupported_ = true;
        log::warn("http", "sessions do not answer subscription queries in this build");
        return http::outcome::unsupported;
      }
      std::vector<actors::session_subscriptions> rest;
      sessions.erase(sessions.begin());
      ask_all(self, sessions, rest, actors::list_atom::value, actors::subs_atom::value);
      rest.insert(rest.end(), std::make_move_iterator(first.begin()),
                  std::make_move_iterator(first.end()));
      for (auto& s : rest) {
        for (auto& i : s.items) {
          http::subscription_view v;
          v.client_id = s.client_id;
          v.topic_filter = std::move(i.topic_filter);
          v.share_group = std::move(i.share_group);
          v.qos = i.qos;
          v.no_local = i.no_local;
          v.retain_as_published = i.retain_as_published;
          v.retain_handling = i.retain_handling;
          v.subscription_id = i.subscription_id;
          out.push_back(std::move(v));
        }
      }
    }
    return http::outcome::ok;
  }

  nlohmann::json stats() override {
    auto& s = metrics::stats();
    const auto t = metrics::hot::snapshot();
    auto sum = [&](std::size_t base, std::size_t n) {
      std::uint64_t v = 0;
      for (std::size_t i = 0; i < n; ++i)
        v += t[base + i];
      return v;
    };
    auto by_qos = [&](std::size_t base) {
      return nlohmann::json{{"0", t[base]}, {"1", t[base + 1]}, {"2", t[base + 2]}};
    };
    auto gauge = [](std::uint64_t v) {
      auto i = static_cast<std::int64_t>(v);
      return i < 0 ? std::int64_t{0} : i;
    };
    auto b = sample(true);
    const auto online = gauge(s.clients_connected.get());
    const auto total = gauge(s.clients_total.get());
    nlohmann::json dropped = nlohmann::json::object();
    for (std::size_t i = 0; i < metrics::hot::drop_reasons; ++i)
      dropped[metrics::hot::drop_reason_names[i]] = t[metrics::hot::slot::dropped + i];
    nlohmann::json actors = nlohmann::json::object();
    for (auto& [kind, n] : b.actors_by_kind)
      actors[kind] = static_cast<std::int64_t>(n);
    nlohmann::json j;
    j["version"] = opts_.version;
    j["uptime_seconds"] =
      std::chrono::duration_cast<std::chrono::seconds>(steady::now() - started_).count();
    j["ready"] = metrics::ready_state().ready();
    j["clients"] = {{"connected", online},
                    {"sessions", total},
                    {"offline", total > online ? total - online : 0},
                    {"connects", s.connects_total.get()},
                    {"disconnects", s.disconnects_total.get()},
                    {"auth_failures", s.auth_failures.get()}};
    j["messages"] = {{"published", by_qos(metrics::hot::slot::published)},
                     {"delivered", by_qos(metrics::hot::slot::delivered)},
                     {"dropped", dropped},
                     {"retained", gauge(s.retained_messages.get())},
                     {"queued", count_or_null(b.queued)},
                     {"inflight", count_or_null(b.inflight)}};
    j["subscriptions"] = gauge(s.subscriptions.get());
    j["packets"] = {{"received", sum(metrics::hot::slot::packets_in, metrics::hot::packet_types)},
                    {"sent", sum(metrics::hot::slot::packets_out, metrics::hot::packet_types)}};
    j["bytes"] = {{"received", sum(metrics::hot::slot::bytes_in, metrics::hot::packet_types)},
                  {"sent", sum(metrics::hot::slot::bytes_out, metrics::hot::packet_types)}};
    j["actors"] = actors;
    return j;
  }

  std::string metrics_text() override { return exposition_ ? exposition_->text() : std::string{}; }

  /// Actor counts (cheap) and queued / in-flight totals (a session scan, reused for a while).
  prom::broker_sample sample(bool fresh_scan = false) {
    prom::broker_sample b;
    const double running = static_cast<double>(sys_.registry().running());
    const double sessions = static_cast<double>(
      std::max<std::int64_t>(static_cast<std::int64_t>(metrics::stats().clients_total.get()), 0));
    const double shards = static_cast<double>(opts_.shard_count);
    const double fixed = 2; // session registry and $SYS publisher
    b.actors_by_kind = {{"session", sessions},
                        {"topic_shard", shards},
                        {"system", fixed},
                        {"other", std::max(0.0, running - sessions - shards - fixed)}};
    std::lock_guard<std::mutex> guard{sample_mtx_};
    if (fresh_scan || !last_scan_ || steady::now() - last_scan_at_ > sample_max_age) {
      std::vector<actors::session_info> infos;
      if (scan(infos)) {
        double queued = 0;
        double inflight = 0;
        for (auto& i : infos) {
          queued += static_cast<double>(i.queued);
          inflight += static_cast<double>(i.inflight);
        }
        last_scan_ = std::make_pair(queued, inflight);
        last_scan_at_ = steady::now();
      }
    }
    if (last_scan_) {
      b.queued = last_scan_->first;
      b.inflight = last_scan_->second;
    }
    return b;
  }

private:
  bool list_sessions(caf::scoped_actor& self, std::vector<caf::actor>& out) {
    bool ok = false;
    self->request(opts_.registry, opts_.timeout, actors::list_atom::value)
      .receive(
        [&](std::vector<caf::actor>& v) {
          out = std::move(v);
          ok = true;
        },
        [&](caf::error&) {});
    return ok;
  }

  /// Sends one request to every actor, then collects the answers (all in flight at once, so
  /// the whole scan takes about one round trip; each request has its own timeout). Returns
  /// how many actors did not understand the request.
  template <class T, class... Ts>
  std::size_t ask_all(caf::scoped_actor& self, const std::vector<caf::actor>& to,
                      std::vector<T>& out, Ts... xs) {
    if (to.empty())
      return 0;
    using handle = decltype(self->request(to.front(), opts_.timeout, xs...));
    std::vector<handle> pending;
    pending.reserve(to.size());
    for (const auto& a : to)
      pending.push_back(self->request(a, opts_.timeout, xs...));
    std::size_t unsupported = 0;
    out.reserve(out.size() + to.size());
    for (auto& h : pending)
      h.receive([&](T& v) { out.push_back(std::move(v)); },
                [&](caf::error& e) {
                  // A session that ended meanwhile is simply left out.
                  if (e == caf::sec::unexpected_message)
                    ++unsupported;
                });
    return unsupported;
  }

  bool scan(std::vector<actors::session_info>& out) {
    caf::scoped_actor self{sys_};
    std::vector<caf::actor> sessions;
    if (!list_sessions(self, sessions))
      return false;
    ask_all(self, sessions, out, actors::list_atom::value);
    return true;
  }

  caf::actor_system& sys_;
  admin_options opts_;
  prom::exposition* exposition_ = nullptr;
  steady::time_point started_ = steady::now();
  std::atomic<bool> subs_unsupported_{false};
  std::mutex sample_mtx_;
  std::optional<std::pair<double, double>> last_scan_;
  steady::time_point last_scan_at_;
};

} // namespace

struct admin_endpoint::impl {
  impl(caf::actor_system& sys, admin_options o)
    : options(std::move(o)),
      backend(sys, options),
      exposition([this] { return backend.sample(); }, options.version),
      router(backend, metrics::ready_state(), options.api_token),
      server([this](const http::request& req) { return handle(req); }) {
    backend.set_exposition(&exposition);
  }

  http::response handle(const http::request& req) {
    auto t0 = steady::now();
    auto res = router.handle(req);
    exposition.count_request(res.status);
    auto path = std::string_view{req.target}.substr(0, req.target.find('?'));
    if (res.status == 401) {
      log::info("http", "request refused: missing or wrong API token",
                         {{"method", req.method}, {"path", path}});
    } else if (log::enabled(log::level::debug)) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0);
      log::debug("http", "request",
                          {{"method", req.method}, {"path", path}, {"status", res.status},
                           {"duration_us", static_cast<std::int64_t>(us.count())}});
    }
    return res;
  }

  admin_options options;
  caf_backend backend;
  prom::exposition exposition;
  http::router router;
  http::server server;
  int port = -1;
};

admin_endpoint::admin_endpoint(caf::actor_system& sys, admin_options options)
  : impl_(std::make_unique<impl>(sys, std::move(options))) {}

admin_endpoint::~admin_endpoint() {
  stop();
}

bool admin_endpoint::start() {
  auto& o = impl_->options;
  std::string error;
  int port = impl_->server.listen(o.host, o.port, error);
  if (port < 0) {
    log::error("http", "listener failed", {{"listener", "http"}, {"error", error}});
    return false;
  }
  impl_->port = port;
  impl_->server.start();
  log::info("http", "listening",
                     {{"listener", "http"},
                      {"address", o.host},
                      {"port", port},
                      {"api_token", !o.api_token.empty()}});
  return true;
}

void admin_endpoint::stop() {
  impl_->server.stop();
}

int admin_endpoint::port() const noexcept {
  return impl_->port;
}

} // namespace colony::server
