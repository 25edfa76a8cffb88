// Unit tests of the retained messages of one topic shard (actors/retained_store.hpp).
#include "actors/retained_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace colony::actors {
namespace {

message_ptr msg(std::string topic, std::string payload, std::int64_t expires_at_ms = 0,
                std::uint8_t qos = 0) {
  auto m = std::make_shared<app_message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = qos;
  m->retain = true;
  m->expires_at_ms = expires_at_ms;
  return m;
}

std::vector<std::string> topics(const retained_store& s, std::string_view filter,
                                std::int64_t now_ms = 1000) {
  std::vector<message_ptr> out;
  s.match(filter, now_ms, out);
  std::vector<std::string> t;
  for (auto& m : out)
    t.push_back(m->topic);
  std::sort(t.begin(), t.end());
  return t;
}

using strings = std::vector<std::string>;

TEST(RetainedStore, EmptyStore) {
  retained_store s;
  EXPECT_EQ(s.size(), 0u);
  EXPECT_TRUE(topics(s, "#").empty());
  EXPECT_TRUE(topics(s, "a").empty());
}

TEST(RetainedStore, PutStoresOnePerTopic) {
  retained_store s;
  EXPECT_EQ(s.put(msg("a/b", "1")), 1);
  EXPECT_EQ(s.put(msg("a/c", "2")), 1);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(topics(s, "a/b"), strings{"a/b"});
}

// MQTT-3.3.1-5: a new retained message replaces the one stored for its topic.
TEST(RetainedStore, PutReplacesExisting_MQTT_3_3_1_5) {
  retained_store s;
  EXPECT_EQ(s.put(msg("a", "old")), 1);
  EXPECT_EQ(s.put(msg("a", "new")), 0);
  EXPECT_EQ(s.size(), 1u);
  std::vector<message_ptr> out;
  s.match("a", 0, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]->payload, "new");
}

// MQTT-3.3.1-10: a retained message with an empty payload removes the stored one, and
// MQTT-3.3.1-11: is not stored itself.
TEST(RetainedStore, EmptyPayloadDeletes_MQTT_3_3_1_10) {
  retained_store s;
  s.put(msg("a", "x"));
  s.put(msg("b", "y"));
  EXPECT_EQ(s.put(msg("a", "")), -1);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(topics(s, "a").empty());
  EXPECT_EQ(topics(s, "#"), strings{"b"});
  EXPECT_EQ(s.put(msg("a", "")), 0); // nothing to delete
  EXPECT_EQ(s.put(msg("zzz", "")), 0);
  EXPECT_EQ(s.size(), 1u);
}

TEST(RetainedStore, CountsFollowPutsAndDeletes) {
  retained_store s;
  int total = 0;
  total += s.put(msg("a", "1"));
  total += s.put(msg("b", "1"));
  total += s.put(msg("a", "2"));
  total += s.put(msg("c", "1"));
  total += s.put(msg("b", ""));
  EXPECT_EQ(total, 2);
  EXPECT_EQ(s.size(), 2u);
}

TEST(RetainedStore, WildcardMatch) {
  retained_store s;
  for (const char* t : {"a", "a/b", "a/b/c", "a/x/c", "b/b", "/a"})
    s.put(msg(t, "p"));
  EXPECT_EQ(topics(s, "#"), (strings{"/a", "a", "a/b", "a/b/c", "a/x/c", "b/b"}));
  EXPECT_EQ(topics(s, "a/#"), (strings{"a", "a/b", "a/b/c", "a/x/c"}));
  EXPECT_EQ(topics(s, "a/+/c"), (strings{"a/b/c", "a/x/c"}));
  EXPECT_EQ(topics(s, "+/b"), (strings{"a/b", "b/b"}));
  EXPECT_EQ(topics(s, "+"), (strings{"a"}));
  EXPECT_EQ(topics(s, "+/+"), (strings{"/a", "a/b", "b/b"}));
  EXPECT_TRUE(topics(s, "c/#").empty());
}

TEST(RetainedStore, LiteralFilterMatchesOnlyThatTopic) {
  retained_store s;
  s.put(msg("a/b", "p"));
  s.put(msg("a/b/c", "p"));
  EXPECT_EQ(topics(s, "a/b"), strings{"a/b"});
  EXPECT_TRUE(topics(s, "a").empty());
}

// MQTT-4.7.2-1: wildcards at the first level do not match '$' topics.
TEST(RetainedStore, DollarTopicsNotMatchedByLeadingWildcards_MQTT_4_7_2_1) {
  retained_store s;
  s.put(msg("$SYS/broker/version", "1"));
  s.put(msg("a", "1"));
  EXPECT_EQ(topics(s, "#"), strings{"a"});
  EXPECT_EQ(topics(s, "+/broker/version"), strings{});
  EXPECT_EQ(topics(s, "$SYS/#"), strings{"$SYS/broker/version"});
  EXPECT_EQ(topics(s, "$SYS/broker/version"), strings{"$SYS/broker/version"});
}

// MQTT 5 §3.3.2.3.3: an expired retained message is no longer sent to new subscribers.
TEST(RetainedStore, ExpiredMessagesAreNotMatched) {
  retained_store s;
  s.put(msg("a/live", "p", 0));        // never expires
  s.put(msg("a/later", "p", 5000));   // expires at 5000
  s.put(msg("a/gone", "p", 1000));    // expires at 1000
  EXPECT_EQ(topics(s, "a/#", 999), (strings{"a/gone", "a/later", "a/live"}));
  EXPECT_EQ(topics(s, "a/#", 1000), (strings{"a/later", "a/live"})); // deadline reached
  EXPECT_EQ(topics(s, "a/#", 6000), (strings{"a/live"}));
  // The literal-filter path applies the same rule.
  EXPECT_EQ(topics(s, "a/gone", 999), strings{"a/gone"});
  EXPECT_TRUE(topics(s, "a/gone", 1000).empty());
  EXPECT_EQ(topics(s, "a/live", 1'000'000'000), strings{"a/live"});
}

TEST(RetainedStore, ReplacingRefreshesExpiry) {
  retained_store s;
  s.put(msg("a", "old", 1000));
  s.put(msg("a", "new", 0));
  std::vector<message_ptr> out;
  s.match("a", 2000, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]->payload, "new");
}

TEST(RetainedStore, MatchAppendsAndSharesTheMessage) {
  retained_store s;
  auto m = msg("a", "p");
  s.put(m);
  std::vector<message_ptr> out{msg("x", "already there")};
  s.match("a", 0, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].get(), m.get()); // no copy per subscriber
}

} // namespace
} // namespace colony::actors
