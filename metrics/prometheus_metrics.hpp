// The Prometheus side of Colony's metrics. Hot-path counters stay plain atomics (stats.hpp);
// a custom prometheus::Collectable turns them into metric families at scrape time, together
// with what only the broker can sample (actors, queued and in-flight messages) and process
// figures from /proc/self. prometheus-cpp's Registry holds the few metrics that are not hot
// (build info, HTTP requests). `exposition::text()` serializes both with TextSerializer.
//
// Names (prefix colony_, Prometheus conventions: base units, _total for counters):
//   colony_connections{listener}                 gauge   clients connected per listener
//   colony_connects_total                        counter accepted CONNECTs
//   colony_connects_refused_total{reason}        counter refused or failed before CONNACK
//   colony_disconnects_total{reason}             counter
//   colony_sessions{state="online"|"offline"}    gauge
//   colony_packets_received_total{type}          counter
//   colony_packets_sent_total{type}              counter
//   colony_bytes_received_total{type}            counter
//   colony_bytes_sent_total{type}                counter
//   colony_messages_published_total{qos}         counter PUBLISHes accepted from clients
//   colony_messages_delivered_total{qos}         counter PUBLISHes sent to subscribers
//   colony_messages_dropped_total{reason}        counter
//   colony_messages_queued, colony_messages_inflight  gauge (sampled from the sessions)
//   colony_retained_messages, colony_subscriptions    gauge
//   colony_delivery_latency_seconds              histogram (1 in 16 deliveries per thread)
//   colony_auth_failures_total                   counter
//   colony_actors{kind}                          gauge   running actors by kind
//   colony_actor_mailbox_depth{kind}             gauge   largest mailbox depth sampled since
//                                                        the previous scrape (connection,
//                                                        session, topic_shard, registry, sys)
//   colony_build_info{version}, colony_http_requests_total{code}
//   process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
//   process_open_fds, process_max_fds, process_start_time_seconds, process_threads
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace colony::metrics::prom {

/// What the broker samples at scrape time by asking its actors. Negative = unknown (skipped).
struct broker_sample {
  std::vector<std::pair<std::string, double>> actors_by_kind;
  double queued = -1;
  double inflight = -1;
};

/// Figures of this process from /proc/self (Linux).
struct process_sample {
  bool ok = false;
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;
  double start_time_seconds = 0;
  double threads = 0;
};

process_sample read_process();

class collector final : public prometheus::Collectable {
public:
  using sampler = std::function<broker_sample()>;
  explicit collector(sampler s = {});
  std::vector<prometheus::MetricFamily> Collect() const override;

private:
  sampler sample_;
};

/// The /metrics document: a prometheus-cpp Registry plus the collector.
class exposition {
public:
  exposition(collector::sampler s, const std::string& version);
  /// Prometheus text format 0.0.4.
  std::string text() const;
  /// Counts one HTTP response by status code.
  void count_request(int status);

private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* http_requests_;
  collector collector_;
};

/// Name of an MQTT packet type (1..15) as a label value ("connect", "publish", ...).
const char* packet_type_label(unsigned type) noexcept;

} // namespace colony::metrics::prom
