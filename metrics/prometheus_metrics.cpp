#include "metrics/prometheus_metrics.hpp"

#include "metrics/stats.hpp"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <limits>
#include <sstream>

namespace colony::metrics::prom {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr const char* packet_names[16] = {
  "reserved", "connect",     "connack",  "publish",  "puback",   "pubrec",
  "pubrel",   "pubcomp",     "subscribe", "suback",  "unsubscribe", "unsuback",
  "pingreq",  "pingresp",    "disconnect", "auth"};

/// Packet types a client may send / the broker sends (always listed, even at 0).
constexpr bool client_sends[16] = {false, true, false, true, true, true, true, true,
                                   true,  false, true, false, true, false, true, true};
constexpr bool broker_sends[16] = {false, false, true, true, true, true, true, true,
                                   false, true, false, true, false, true, true, true};

MetricFamily family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

ClientMetric sample(double v, MetricType type,
                    std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter)
    m.counter.value = v;
  else
    m.gauge.value = v;
  return m;
}

void add(MetricFamily& f, double v, std::vector<ClientMetric::Label> labels = {}) {
  f.metric.push_back(sample(v, f.type, std::move(labels)));
}

/// A gauge kept in an unsigned counter: never show a wrapped-around value.
double gauge_value(std::uint64_t v) {
  auto s = static_cast<std::int64_t>(v);
  return s < 0 ? 0.0 : static_cast<double>(s);
}

void labeled(std::vector<MetricFamily>& out, const char* name, const char* help, MetricType type,
             const char* label, const labeled_counters& c) {
  auto f = family(name, help, type);
  for (const auto& [k, v] : c.snapshot())
    add(f, v < 0 ? 0.0 : static_cast<double>(v), {{label, k}});
  out.push_back(std::move(f));
}

void by_packet_type(std::vector<MetricFamily>& out, const char* name, const char* help,
                    const hot::totals& t, std::size_t base, const bool (&listed)[16]) {
  auto f = family(name, help, MetricType::Counter);
  for (unsigned i = 1; i < 16; ++i) {
    auto v = t[base + i];
    if (listed[i] || v != 0)
      add(f, static_cast<double>(v), {{"type", packet_names[i]}});
  }
  out.push_back(std::move(f));
}

void by_qos(std::vector<MetricFamily>& out, const char* name, const char* help,
            const hot::totals& t, std::size_t base) {
  auto f = family(name, help, MetricType::Counter);
  for (unsigned q = 0; q < 3; ++q)
    add(f, static_cast<double>(t[base + q]), {{"qos", std::to_string(q)}});
  out.push_back(std::move(f));
}

} // namespace

const char* packet_type_label(unsigned type) noexcept {
  return packet_names[type & 15];
}

process_sample read_process() {
  process_sample p;
  std::ifstream stat{"/proc/self/stat"};
  std::string line;
  if (!std::getline(stat, line))
    return p;
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return p;
  std::istringstream rest{line.substr(close + 2)};
  std::vector<std::string> f; // f[0] is field 3 (state)
  for (std::string tok; rest >> tok;)
    f.push_back(tok);
  if (f.size() < 22)
    return p;
  auto field = [&](int n) { return std::stod(f[static_cast<std::size_t>(n - 3)]); };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  p.cpu_seconds = (field(14) + field(15)) / ticks;
  p.threads = field(20);
  p.virtual_bytes = field(23);
  p.resident_bytes = field(24) * page;
  std::ifstream sys_stat{"/proc/stat"};
  while (std::getline(sys_stat, line)) {
    if (line.rfind("btime ", 0) == 0) {
      p.start_time_seconds = std::stod(line.substr(6)) + field(22) / ticks;
      break;
    }
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    int n = 0;
    while (auto* e = readdir(d))
      if (e->d_name[0] != '.')
        ++n;
    closedir(d);
    p.open_fds = n - 1; // not the one opendir used
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    p.max_fds = rl.rlim_cur == RLIM_INFINITY ? 0.0 : static_cast<double>(rl.rlim_cur);
  p.ok = true;
  return p;
}

collector::collector(sampler s) : sample_(std::move(s)) {}

std::vector<MetricFamily> collector::Collect() const {
  std::vector<MetricFamily> out;
  auto& s = stats();
  auto& ev = events();
  const auto t = hot::snapshot();

  labeled(out, "colony_connections", "MQTT clients connected, by listener", MetricType::Gauge,
          "listener", ev.connections_by_listener);
  {
    auto f = family("colony_connects_total", "CONNECTs accepted (CONNACK success)",
                    MetricType::Counter);
    add(f, static_cast<double>(s.connects_total.get()));
    out.push_back(std::move(f));
  }
  labeled(out, "colony_connects_refused_total",
          "connections refused or closed before CONNACK success, by reason", MetricType::Counter,
          "reason", ev.connects_refused);
  labeled(out, "colony_disconnects_total", "client connections ended, by reason",
          MetricType::Counter, "reason", ev.disconnects);
  {
    auto f = family("colony_sessions", "sessions by state (offline = persistent, not connected)",
                    MetricType::Gauge);
    auto total = gauge_value(s.clients_total.get());
    auto online = gauge_value(s.clients_connected.get());
    add(f, online, {{"state", "online"}});
    add(f, total > online ? total - online : 0.0, {{"state", "offline"}});
    out.push_back(std::move(f));
  }
  by_packet_type(out, "colony_packets_received_total", "MQTT packets received, by type", t,
                 hot::slot::packets_in, client_sends);
  by_packet_type(out, "colony_packets_sent_total", "MQTT packets sent, by type", t,
                 hot::slot::packets_out, broker_sends);
  by_packet_type(out, "colony_bytes_received_total", "bytes of MQTT packets received, by type",
                 t, hot::slot::bytes_in, client_sends);
  by_packet_type(out, "colony_bytes_sent_total", "bytes of MQTT packets sent, by type", t,
                 hot::slot::bytes_out, broker_sends);
  by_qos(out, "colony_messages_published_total", "PUBLISHes accepted from clients, by QoS", t,
         hot::slot::published);
  by_qos(out, "colony_messages_delivered_total", "PUBLISHes sent to subscribers, by QoS", t,
         hot::slot::delivered);
  {
    auto f = family("colony_messages_dropped_total", "messages dropped, by reason",
                    MetricType::Counter);
    for (std::size_t i = 0; i < hot::drop_reasons; ++i)
      add(f, static_cast<double>(t[hot::slot::dropped + i]),
          {{"reason", hot::drop_reason_names[i]}});
    out.push_back(std::move(f));
  }
  {
    auto f = family("colony_retained_messages", "retained messages stored", MetricType::Gauge);
    add(f, gauge_value(s.retained_messages.get()));
    out.push_back(std::move(f));
  }
  {
    auto f = family("colony_subscriptions", "subscriptions", MetricType::Gauge);
    add(f, gauge_value(s.subscriptions.get()));
    out.push_back(std::move(f));
  }
  {
    auto f = family("colony_auth_failures_total", "CONNECTs refused for bad credentials",
                    MetricType::Counter);
    add(f, static_cast<double>(s.auth_failures.get()));
    out.push_back(std::move(f));
  }
  {
    const struct {
      const char* name;
      const char* help;
      const counter& value;
    } store_counters[] = {
      {"colony_store_commits_total",
       "group commits of the persistent store (one write batch each)", s.store_commits},
      {"colony_store_syncs_total", "fsyncs of the persistent store's log", s.store_syncs},
      {"colony_store_writes_total", "records written or deleted in the persistent store",
       s.store_writes},
      {"colony_store_cancelled_total",
       "queued messages acknowledged before the store wrote them (never written)",
       s.store_cancelled},
    };
    for (const auto& c : store_counters) {
      auto f = family(c.name, c.help, MetricType::Counter);
      add(f, static_cast<double>(c.value.get()));
      out.push_back(std::move(f));
    }
  }
  {
    auto f = family("colony_delivery_latency_seconds",
                    "time from a PUBLISH entering the broker to its encoding for a subscriber "
                    "(one in 16 deliveries per thread is timed)",
                    MetricType::Histogram);
    ClientMetric m;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < hot::latency_buckets; ++i) {
      cumulative += t[hot::slot::latency_bucket + i];
      ClientMetric::Bucket b;
      b.cumulative_count = cumulative;
      b.upper_bound = i < std::size(hot::latency_bounds_ns)
                        ? static_cast<double>(hot::latency_bounds_ns[i]) / 1e9
                        : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back(b);
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = static_cast<double>(t[hot::slot::latency_sum_ns]) / 1e9;
    f.metric.push_back(std::move(m));
    out.push_back(std::move(f));
  }
  {
    // Every kind is listed, 0 when nothing was sampled since the previous scrape.
    auto f = family("colony_actor_mailbox_depth",
                    "largest mailbox depth sampled since the previous scrape, by actor kind "
                    "(each actor samples its own mailbox every Nth message)",
                    MetricType::Gauge);
    const auto depths = mailbox_depth().take();
    for (std::size_t i = 0; i < actor_kinds; ++i)
      add(f, static_cast<double>(depths[i]), {{"kind", actor_kind_names[i]}});
    out.push_back(std::move(f));
  }
  if (sample_) {
    auto b = sample_();
    if (!b.actors_by_kind.empty()) {
      auto f = family("colony_actors", "running actors, by kind", MetricType::Gauge);
      for (auto& [kind, n] : b.actors_by_kind)
        add(f, n, {{"kind", kind}});
      out.push_back(std::move(f));
    }
    if (b.queued >= 0) {
      auto f = family("colony_messages_queued",
                      "QoS 1/2 messages waiting in session queues (sampled)", MetricType::Gauge);
      add(f, b.queued);
      out.push_back(std::move(f));
    }
    if (b.inflight >= 0) {
      auto f = family("colony_messages_inflight",
                      "QoS 1/2 messages sent and not yet acknowledged (sampled)",
                      MetricType::Gauge);
      add(f, b.inflight);
      out.push_back(std::move(f));
    }
  }
  if (auto p = read_process(); p.ok) {
    auto one = [&](const char* name, const char* help, MetricType type, double v) {
      auto f = family(name, help, type);
      add(f, v);
      out.push_back(std::move(f));
    };
    one("process_cpu_seconds_total", "user and system CPU time spent, in seconds",
        MetricType::Counter, p.cpu_seconds);
    one("process_resident_memory_bytes", "resident memory size, in bytes", MetricType::Gauge,
        p.resident_bytes);
    one("process_virtual_memory_bytes", "virtual memory size, in bytes", MetricType::Gauge,
        p.virtual_bytes);
    one("process_open_fds", "open file descriptors", MetricType::Gauge, p.open_fds);
    if (p.max_fds > 0)
      one("process_max_fds", "maximum number of open file descriptors", MetricType::Gauge,
          p.max_fds);
    one("process_start_time_seconds", "start time of the process since the Unix epoch, in "
                                      "seconds",
        MetricType::Gauge, p.start_time_seconds);
    one("process_threads", "OS threads of the process", MetricType::Gauge, p.threads);
  }
  return out;
}

exposition::exposition(collector::sampler s, const std::string& version)
  : registry_(std::make_shared<prometheus::Registry>()),
    http_requests_(&prometheus::BuildCounter()
                      .Name("colony_http_requests_total")
                      .Help("HTTP requests served by the metrics/admin endpoint, by status code")
                      .Register(*registry_)),
    collector_(std::move(s)) {
  prometheus::BuildGauge()
    .Name("colony_build_info")
    .Help("Colony build information (always 1)")
    .Register(*registry_)
    .Add({{"version", version}})
    .Set(1);
}

std::string exposition::text() const {
  auto families = registry_->Collect();
  auto mine = collector_.Collect();
  families.insert(families.end(), std::make_move_iterator(mine.begin()),
                  std::make_move_iterator(mine.end()));
  return prometheus::TextSerializer{}.Serialize(families);
}

void exposition::count_request(int status) {
  http_requests_->Add({{"code", std::to_string(status)}}).Increment();
}

} // namespace colony::metrics::prom
