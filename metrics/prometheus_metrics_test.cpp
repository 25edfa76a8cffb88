#include "metrics/prometheus_metrics.hpp"

#include "metrics/stats.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

using namespace colony::metrics;

namespace {

/// The sample lines of `text` (no comments), as "name{labels}" -> value text.
std::map<std::string, std::string> samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#')
      continue;
    auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

double value(const std::map<std::string, std::string>& s, const std::string& key) {
  auto it = s.find(key);
  if (it == s.end())
    return -1;
  return std::stod(it->second);
}

} // namespace

TEST(prometheus, exposition_has_the_metric_set) {
  events().connections_by_listener.add("mqtt", 2);
  events().disconnects.add("keepalive timeout");
  stats().connects_total.add(3);
  count_packet_in(3, 50);
  count_published(2);
  prom::exposition e{[] {
                       prom::broker_sample b;
                       b.actors_by_kind = {{"session", 4}, {"topic_shard", 2}};
                       b.queued = 7;
                       b.inflight = 1;
                       return b;
                     },
                     "9.9.9"};
  e.count_request(200);
  auto text = e.text();
  auto s = samples(text);
  EXPECT_EQ(value(s, "colony_connections{listener=\"mqtt\"}"), 2);
  EXPECT_GE(value(s, "colony_connects_total"), 3);
  EXPECT_EQ(value(s, "colony_disconnects_total{reason=\"keepalive_timeout\"}"), 1);
  EXPECT_GE(value(s, "colony_packets_received_total{type=\"publish\"}"), 1);
  EXPECT_GE(value(s, "colony_bytes_received_total{type=\"publish\"}"), 50);
  EXPECT_GE(value(s, "colony_messages_published_total{qos=\"2\"}"), 1);
  EXPECT_EQ(value(s, "colony_messages_delivered_total{qos=\"0\"}") >= 0, true);
  EXPECT_EQ(value(s, "colony_messages_dropped_total{reason=\"queue_full\"}") >= 0, true);
  EXPECT_EQ(value(s, "colony_actors{kind=\"session\"}"), 4);
  EXPECT_EQ(value(s, "colony_messages_queued"), 7);
  EXPECT_EQ(value(s, "colony_messages_inflight"), 1);
  EXPECT_EQ(value(s, "colony_build_info{version=\"9.9.9\"}"), 1);
  EXPECT_EQ(value(s, "colony_http_requests_total{code=\"200\"}"), 1);
  EXPECT_GE(value(s, "colony_delivery_latency_seconds_bucket{le=\"+Inf\"}"), 0);
  EXPECT_GE(value(s, "colony_delivery_latency_seconds_count"), 0);
  EXPECT_GT(value(s, "process_resident_memory_bytes"), 0);
  EXPECT_GT(value(s, "process_open_fds"), 0);
  EXPECT_GT(value(s, "process_start_time_seconds"), 1e9);
  EXPECT_GE(value(s, "process_cpu_seconds_total"), 0);
  EXPECT_NE(text.find("# TYPE colony_connects_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE colony_delivery_latency_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("# HELP colony_sessions "), std::string::npos);
  events().connections_by_listener.sub("mqtt", 2);
}

TEST(prometheus, names_follow_conventions) {
  prom::exposition e{{}, "1"};
  std::istringstream in{e.text()};
  std::regex type_line{"^# TYPE ([a-z_:][a-z0-9_:]*) (counter|gauge|histogram)$"};
  std::set<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE", 0) != 0)
      continue;
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, type_line)) << line;
    auto name = m[1].str();
    EXPECT_TRUE(names.insert(name).second) << "duplicate family " << name;
    EXPECT_TRUE(name.rfind("colony_", 0) == 0 || name.rfind("process_", 0) == 0) << name;
    if (m[2] == "counter") {
      EXPECT_TRUE(name.size() > 6 && name.substr(name.size() - 6) == "_total") << name;
    }
  }
  EXPECT_GT(names.size(), 20u);
}

TEST(prometheus, process_sample_reads_proc) {
  auto p = prom::read_process();
  ASSERT_TRUE(p.ok);
  EXPECT_GT(p.resident_bytes, 0);
  EXPECT_GT(p.virtual_bytes, p.resident_bytes);
  EXPECT_GE(p.threads, 1);
  EXPECT_GT(p.max_fds, 0);
}

TEST(prometheus, mailbox_depth_is_the_max_since_the_previous_scrape) {
  prom::exposition e{{}, "1"};
  (void)e.text(); // start from an empty window
  mailbox_depth().sample(actor_kind::session, 3);
  mailbox_depth().sample(actor_kind::session, 12);
  mailbox_depth().sample(actor_kind::session, 5);
  mailbox_depth().sample(actor_kind::topic_shard, 40);
  auto s = samples(e.text());
  EXPECT_EQ(value(s, "colony_actor_mailbox_depth{kind=\"session\"}"), 12);
  EXPECT_EQ(value(s, "colony_actor_mailbox_depth{kind=\"topic_shard\"}"), 40);
  // Every kind is listed, unsampled ones at 0.
  for (auto* kind : actor_kind_names)
    EXPECT_GE(value(s, std::string{"colony_actor_mailbox_depth{kind=\""} + kind + "\"}"), 0)
      << kind;
  EXPECT_EQ(value(s, "colony_actor_mailbox_depth{kind=\"registry\"}"), 0);
  // The next scrape starts a new window.
  mailbox_depth().sample(actor_kind::session, 2);
  s = samples(e.text());
  EXPECT_EQ(value(s, "colony_actor_mailbox_depth{kind=\"session\"}"), 2);
  EXPECT_EQ(value(s, "colony_actor_mailbox_depth{kind=\"topic_shard\"}"), 0);
}
