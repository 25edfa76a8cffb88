// Topic names, topic filters, matching and shared subscriptions (MQTT 5 §4.7, §4.8.2).
#include "codec/topic.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace colony::codec;

namespace {

TEST(topic_name, has_wildcard) {
  EXPECT_FALSE(has_wildcard(""));
  EXPECT_FALSE(has_wildcard("a/b/$c"));
  EXPECT_TRUE(has_wildcard("a/+"));
  EXPECT_TRUE(has_wildcard("#"));
  EXPECT_TRUE(has_wildcard("a+b"));
  static_assert(has_wildcard("x#"));
}

TEST(topic_name, valid_names) {
  EXPECT_TRUE(is_valid_topic_name("a"));
  EXPECT_TRUE(is_valid_topic_name("sport/tennis/player1"));
  EXPECT_TRUE(is_valid_topic_name("/"));        // two empty levels
  EXPECT_TRUE(is_valid_topic_name("/finance")); // leading '/' makes a distinct topic (§4.7.3)
  EXPECT_TRUE(is_valid_topic_name("$SYS/broker/uptime"));
  EXPECT_TRUE(is_valid_topic_name("a b/c")); // spaces are allowed
}

TEST(topic_name, invalid_names) {
  EXPECT_FALSE(is_valid_topic_name(""));    // MQTT-4.7.3-1
  EXPECT_FALSE(is_valid_topic_name("a/+")); // MQTT-3.3.2-2
  EXPECT_FALSE(is_valid_topic_name("a/#")); // MQTT-3.3.2-2
  EXPECT_FALSE(is_valid_topic_name("a+b")); // any '+' at all
  EXPECT_FALSE(is_valid_topic_name("#"));
  EXPECT_FALSE(is_valid_topic_name(std::string(65536, 'a'))); // MQTT-4.7.3-3
  EXPECT_TRUE(is_valid_topic_name(std::string(65535, 'a')));
}

TEST(topic_filter, valid_filters) {
  for (const char* f : {"a", "#", "+", "+/+", "a/#", "a/+/c", "+/b/#", "/", "/#", "a//b", "$SYS/#",
                        "sport/tennis/+", "+/tennis/#"}) {
    EXPECT_TRUE(is_valid_topic_filter(f)) << f;
  }
}

TEST(topic_filter, invalid_filters) {
  // MQTT-4.7.3-1: empty. MQTT-4.7.1-2: '#' is a whole level and last. MQTT-4.7.1-3: '+' is a
  // whole level.
  for (const char* f :
       {"", "a#", "#/a", "a/#/b", "a/b#", "a+", "+a", "a/b+/c", "++", "##", "a/#/"}) {
    EXPECT_FALSE(is_valid_topic_filter(f)) << f;
  }
  EXPECT_FALSE(is_valid_topic_filter(std::string(65536, 'a')));
}

struct match_case {
  const char* filter;
  const char* topic;
  bool matches;
};

TEST(topic_matches, table) {
  const match_case cases[] = {
      // exact
      {"a", "a", true},
      {"a/b", "a/b", true},
      {"a/b", "a/c", false},
      {"a", "a/b", false},
      {"a/b", "a", false},
      {"a/", "a", false},
      {"a", "a/", false},
      {"/", "/", true},
      {"a", "A", false}, // case-sensitive (§4.7.3)
      // '#': multi-level, includes the parent (§4.7.1.2)
      {"sport/tennis/player1/#", "sport/tennis/player1", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/#", "sport", true},
      {"sport/#", "sports", false},
      {"sport/#", "sport/", true},
      {"#", "a", true},
      {"#", "a/b/c", true},
      {"#", "/", true},
      {"/#", "/a", true},
      {"/#", "a", false},
      // '+': exactly one level, possibly empty (§4.7.1.3)
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},
      {"+", "a", true},
      {"+", "a/b", false},
      {"+", "/", false},
      {"+/+", "/", true},
      {"/+", "/finance", true},
      {"+", "/finance", false},
      {"+/+", "/finance", true},
      {"+/b/+", "a/b/c", true},
      {"+/b/+", "a/x/c", false},
      {"a/+/#", "a/b", true},
      {"a/+/#", "a", false},
      {"+/#", "a", true},
      // '$' topics (MQTT-4.7.2-1)
      {"#", "$SYS/broker/uptime", false},
      {"+/broker/uptime", "$SYS/broker/uptime", false},
      {"+", "$SYS", false},
      {"$SYS/#", "$SYS/broker/uptime", true},
      {"$SYS/+/uptime", "$SYS/broker/uptime", true},
      {"$SYS", "$SYS", true},
      {"a/#", "a/$SYS", true}, // the rule only concerns the first character of the topic
      {"+/$x", "a/$x", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(topic_matches(c.filter, c.topic), c.matches)
        << "filter '" << c.filter << "' topic '" << c.topic << "'";
  }
}

TEST(topic_matches, agrees_with_validity_on_wildcard_free_filters) {
  // A filter without wildcards matches exactly itself.
  for (const char* t : {"a", "a/b", "/", "//", "a//b", "$SYS/x"}) {
    EXPECT_TRUE(topic_matches(t, t)) << t;
  }
}

TEST(parse_shared, share_syntax) {
  const auto p = parse_shared("$share/group1/sport/tennis/+");
  EXPECT_TRUE(p.is_shared);
  EXPECT_TRUE(p.valid);
  EXPECT_EQ(p.value.group, "group1");
  EXPECT_EQ(p.value.filter, "sport/tennis/+");

  const auto hash = parse_shared("$share/g/#");
  EXPECT_TRUE(hash.valid);
  EXPECT_EQ(hash.value.filter, "#");
}

TEST(parse_shared, queue_syntax) {
  const auto p = parse_shared("$queue/a/b");
  EXPECT_TRUE(p.is_shared);
  EXPECT_TRUE(p.valid);
  EXPECT_EQ(p.value.group, "$queue");
  EXPECT_EQ(p.value.filter, "a/b");
  EXPECT_FALSE(parse_shared("$queue/").valid);
  EXPECT_FALSE(parse_shared("$queue/a#").valid);
}

TEST(parse_shared, malformed_share_mqtt_4_8_2_1_and_2) {
  for (const char* f : {"$share/g", "$share//f", "$share/", "$share/g+/f", "$share/g#/f",
                        "$share/+/f", "$share/g/", "$share/g/a#"}) {
    const auto p = parse_shared(f);
    EXPECT_TRUE(p.is_shared) << f;
    EXPECT_FALSE(p.valid) << f;
  }
}

TEST(parse_shared, ordinary_filters_are_not_shared) {
  for (const char* f : {"a/b", "#", "$SYS/#", "$share", "$sharex/g/f", "share/g/f", "$queue"}) {
    const auto p = parse_shared(f);
    EXPECT_FALSE(p.is_shared) << f;
    EXPECT_TRUE(p.valid) << f;
  }
}

TEST(level_count, counts_levels) {
  EXPECT_EQ(level_count(""), 1u);
  EXPECT_EQ(level_count("a"), 1u);
  EXPECT_EQ(level_count("/"), 2u);
  EXPECT_EQ(level_count("a/b/c"), 3u);
  EXPECT_EQ(level_count("a//"), 3u);
}

} // namespace
