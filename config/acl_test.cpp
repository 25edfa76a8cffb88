// Unit tests of config/acl.hpp: every rule form (allow/deny x clientid/username/ip x value/*
// x 1/2/3), %c/%u substitution, wildcard semantics for publish and subscribe, first match
// wins, default deny, comments and blank lines, and parse errors with line numbers.
#include "config/acl.hpp"
#include "config/text.hpp"

#include "config/test_util.hpp"

#include <gtest/gtest.h>

namespace colony::config {
namespace {

using access = acl::access;
using testing::contains;
using testing::temp_dir;

acl parse_ok(const std::string& text) {
  auto r = acl::parse(text, "test.acl");
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().to_string());
  return r ? std::move(r).value() : acl{};
}

load_error parse_error(const std::string& text) {
  auto r = acl::parse(text, "test.acl");
  EXPECT_FALSE(r.has_value()) << text;
  return r ? load_error{} : r.error();
}

// Shorthands: client "c1", user "u1", address 10.0.0.1 unless given.
bool pub(const acl& a, std::string_view topic, std::string_view cid = "c1",
         std::string_view user = "u1", std::string_view ip = "10.0.0.1") {
  return a.allowed(access::publish, cid, user, ip, topic);
}
bool sub(const acl& a, std::string_view filter, std::string_view cid = "c1",
         std::string_view user = "u1", std::string_view ip = "10.0.0.1") {
  return a.allowed(access::subscribe, cid, user, ip, filter);
}

// -- access numbers ---------------------------------------------------------------------------

TEST(Acl, AllowSubscribeOnly) {
  auto a = parse_ok("allow clientid * 1 t/#\n");
  EXPECT_TRUE(sub(a, "t/x"));
  EXPECT_FALSE(pub(a, "t/x")); // no rule for publishing: default deny
}

TEST(Acl, AllowPublishOnly) {
  auto a = parse_ok("allow clientid * 2 t/#\n");
  EXPECT_TRUE(pub(a, "t/x"));
  EXPECT_FALSE(sub(a, "t/x"));
}

TEST(Acl, AllowBoth) {
  auto a = parse_ok("allow clientid * 3 t/#\n");
  EXPECT_TRUE(pub(a, "t/x"));
  EXPECT_TRUE(sub(a, "t/x"));
  EXPECT_FALSE(pub(a, "other"));
  EXPECT_FALSE(sub(a, "other"));
}

TEST(Acl, DenyForOneActionDoesNotAllowTheOther) {
  // hmq answered "allowed" to a publish when a subscribe-deny rule matched; here the rule is
  // simply not about publishing and the next rules decide.
  auto a = parse_ok("deny clientid * 1 t/#\n");
  EXPECT_FALSE(sub(a, "t/x"));
  EXPECT_FALSE(pub(a, "t/x")); // default deny, not "allowed by a deny rule"
  a = parse_ok("deny clientid * 2 t/#\nallow clientid * 3 #\n");
  EXPECT_FALSE(pub(a, "t/x"));
  EXPECT_TRUE(sub(a, "t/x"));
  a = parse_ok("deny clientid * 3 t/#\nallow clientid * 3 #\n");
  EXPECT_FALSE(pub(a, "t/x"));
  EXPECT_FALSE(sub(a, "t/x"));
  EXPECT_TRUE(pub(a, "u/x"));
}

// -- subjects ---------------------------------------------------------------------------------

TEST(Acl, ClientIdValue) {
  auto a = parse_ok("allow clientid dev1 3 d/#\n");
  EXPECT_TRUE(pub(a, "d/x", "dev1"));
  EXPECT_FALSE(pub(a, "d/x", "dev2"));
  EXPECT_FALSE(pub(a, "d/x", "Dev1")); // values are case-sensitive
}

TEST(Acl, UsernameValue) {
  auto a = parse_ok("allow username joy 3 /test,hello/world\n");
  EXPECT_TRUE(pub(a, "/test", "c", "joy"));
  EXPECT_TRUE(pub(a, "hello/world", "c", "joy"));
  EXPECT_FALSE(pub(a, "hello/there", "c", "joy"));
  EXPECT_FALSE(pub(a, "/test", "c", "bob"));
  EXPECT_FALSE(pub(a, "/test", "c", "")); // anonymous is not joy
}

TEST(Acl, IpValue) {
  auto a = parse_ok("allow ip 127.0.0.1 2 $SYS/#\nallow ip 10.1.2.3 3 #\n");
  EXPECT_TRUE(pub(a, "$SYS/x", "c", "u", "127.0.0.1"));
  EXPECT_FALSE(pub(a, "$SYS/x", "c", "u", "127.0.0.2"));
  EXPECT_TRUE(pub(a, "a/b", "c", "u", "10.1.2.3"));
  // IPv4-mapped IPv6 addresses match their IPv4 form.
  EXPECT_TRUE(pub(a, "a/b", "c", "u", "::ffff:10.1.2.3"));
  EXPECT_TRUE(pub(a, "a/b", "c", "u", "::FFFF:10.1.2.3"));
  EXPECT_FALSE(pub(a, "a/b", "c", "u", "::ffff:10.1.2.4"));
}

TEST(Acl, IpV6Value) {
  auto a = parse_ok("allow ip ::1 3 #\n");
  EXPECT_TRUE(pub(a, "x", "c", "u", "::1"));
  EXPECT_TRUE(pub(a, "x", "c", "u", "[::1]"));
  EXPECT_FALSE(pub(a, "x", "c", "u", "127.0.0.1"));
}

TEST(Acl, StarMatchesEveryone) {
  for (auto who : {"clientid", "username", "ip"}) {
    auto a = parse_ok(std::string{"allow "} + who + " * 3 open/#\n");
    EXPECT_TRUE(pub(a, "open/1", "any", "body", "1.2.3.4")) << who;
    EXPECT_TRUE(pub(a, "open/1", "any", "", "1.2.3.4")) << who;
    EXPECT_FALSE(pub(a, "closed", "any", "body", "1.2.3.4")) << who;
  }
}

TEST(Acl, DenyForms) {
  for (auto who : {"clientid", "username", "ip"}) {
    std::string value = std::string{who} == "ip" ? "10.0.0.1" : std::string{who} == "username"
                                                                    ? "u1"
                                                                    : "c1";
    auto a = parse_ok(std::string{"deny "} + who + " " + value + " 3 #\nallow clientid * 3 #\n");
    EXPECT_FALSE(pub(a, "x")) << who;
    EXPECT_FALSE(sub(a, "x")) << who;
    EXPECT_TRUE(pub(a, "x", "c2", "u2", "10.0.0.2")) << who;
    EXPECT_TRUE(sub(a, "x", "c2", "u2", "10.0.0.2")) << who;
  }
}

// -- substitutions ----------------------------------------------------------------------------

TEST(Acl, ClientIdSubstitution) {
  auto a = parse_ok("allow clientid * 1 toCloud/%c\nallow clientid * 2 toDevice/%c\n");
  EXPECT_TRUE(sub(a, "toCloud/dev7", "dev7"));
  EXPECT_FALSE(sub(a, "toCloud/dev8", "dev7"));
  EXPECT_FALSE(sub(a, "toCloud/+", "dev7"));
  EXPECT_TRUE(pub(a, "toDevice/dev7", "dev7"));
  EXPECT_FALSE(pub(a, "toDevice/dev8", "dev7"));
  EXPECT_FALSE(pub(a, "toCloud/dev7", "dev7")); // the 1-rule is subscribe only
}

TEST(Acl, UsernameSubstitution) {
  auto a = parse_ok("allow username * 3 users/%u/#\n");
  EXPECT_TRUE(pub(a, "users/joy/a", "c", "joy"));
  EXPECT_TRUE(sub(a, "users/joy/#", "c", "joy"));
  EXPECT_FALSE(pub(a, "users/bob/a", "c", "joy"));
  EXPECT_FALSE(sub(a, "users/#", "c", "joy"));
}

TEST(Acl, BothSubstitutionsInOneFilter) {
  auto a = parse_ok("allow ip * 3 %u/%c/data\n");
  EXPECT_TRUE(pub(a, "joy/d1/data", "d1", "joy"));
  EXPECT_FALSE(pub(a, "joy/d2/data", "d1", "joy"));
}

TEST(Acl, SubstitutionNeedsASafeValue) {
  auto a = parse_ok("allow username * 3 users/%u/#\nallow clientid * 3 dev/%c\n");
  // Anonymous clients have no %u: the filter is skipped, not turned into "users//#".
  EXPECT_FALSE(pub(a, "users//x", "c", ""));
  // Values with wildcards or '/' would widen the filter: skipped.
  EXPECT_FALSE(pub(a, "users/a/b", "c", "+"));
  EXPECT_FALSE(pub(a, "users/x/y", "c", "#"));
  EXPECT_FALSE(pub(a, "users/bob/x", "c", "alice/../bob"));
  EXPECT_FALSE(pub(a, "dev/a/b", "a/b"));
  EXPECT_FALSE(sub(a, "dev/+", "+"));
  EXPECT_TRUE(pub(a, "dev/ok", "ok"));
}

// -- wildcards --------------------------------------------------------------------------------

TEST(Acl, PublishUsesWildcardMatching) {
  auto a = parse_ok("allow clientid * 2 sensors/#,room/+/temp\n");
  EXPECT_TRUE(pub(a, "sensors/a/b"));
  EXPECT_TRUE(pub(a, "sensors/a"));
  EXPECT_TRUE(pub(a, "sensors")); // "sensors/#" also matches the parent
  EXPECT_FALSE(pub(a, "sensorsX/a")); // hmq's prefix matching allowed this kind of thing
  EXPECT_TRUE(pub(a, "room/1/temp"));
  EXPECT_FALSE(pub(a, "room/1/2/temp"));
  EXPECT_FALSE(pub(a, "room/temp"));
  EXPECT_FALSE(pub(a, "room/1/temp/x"));
}

TEST(Acl, PublishPrefixIsNotEnough) {
  // hmq's pubTopicMatch accepted a longer topic for a rule without '#'.
  auto a = parse_ok("allow clientid * 2 a/b\n");
  EXPECT_TRUE(pub(a, "a/b"));
  EXPECT_FALSE(pub(a, "a/b/c"));
  EXPECT_FALSE(pub(a, "a"));
}

TEST(Acl, SubscribeFilterMustBeCoveredByAllowRule) {
  auto a = parse_ok("allow clientid * 1 sensors/+\n");
  EXPECT_TRUE(sub(a, "sensors/x"));
  EXPECT_TRUE(sub(a, "sensors/+"));
  EXPECT_FALSE(sub(a, "sensors/#"));
  EXPECT_FALSE(sub(a, "sensors/x/y"));
  EXPECT_FALSE(sub(a, "sensors"));
  EXPECT_FALSE(sub(a, "+/x"));
  EXPECT_FALSE(sub(a, "#"));

  a = parse_ok("allow clientid * 1 sensors/#\n");
  EXPECT_TRUE(sub(a, "sensors/#"));
  EXPECT_TRUE(sub(a, "sensors/+/x"));
  EXPECT_TRUE(sub(a, "sensors"));
  EXPECT_FALSE(sub(a, "#"));
  EXPECT_FALSE(sub(a, "+/#"));
}

TEST(Acl, SubscribeDenyAppliesToOverlappingFilters) {
  auto a = parse_ok("deny username bob 1 secret/#\nallow clientid * 1 #\n");
  EXPECT_FALSE(sub(a, "secret/x", "c", "bob"));
  EXPECT_FALSE(sub(a, "#", "c", "bob"));          // would deliver secret/... too
  EXPECT_FALSE(sub(a, "+/x", "c", "bob"));        // so would this
  EXPECT_TRUE(sub(a, "public/#", "c", "bob"));
  EXPECT_TRUE(sub(a, "#", "c", "alice"));
}

TEST(Acl, SysTopicsNeedAnExplicitRule) {
  auto a = parse_ok("allow clientid * 3 #\n");
  EXPECT_TRUE(sub(a, "anything/at/all"));
  EXPECT_FALSE(sub(a, "$SYS/#"));
  EXPECT_FALSE(sub(a, "$SYS/broker/uptime"));
  EXPECT_FALSE(pub(a, "$SYS/x"));
  a = parse_ok("allow clientid * 3 +/#\n");
  EXPECT_FALSE(sub(a, "$SYS/broker/uptime"));
  a = parse_ok("allow username admin 1 $SYS/#\nallow clientid * 3 #\n");
  EXPECT_TRUE(sub(a, "$SYS/#", "c", "admin"));
  EXPECT_TRUE(sub(a, "$SYS/broker/+", "c", "admin"));
  EXPECT_FALSE(sub(a, "$SYS/#", "c", "joe"));
  EXPECT_FALSE(pub(a, "$SYS/x", "c", "admin")); // subscribe-only rule
}

TEST(Acl, SharedSubscriptionsAreCheckedByTheirFilter) {
  auto a = parse_ok("allow clientid * 1 jobs/+\n");
  EXPECT_TRUE(sub(a, "$share/workers/jobs/x"));
  EXPECT_TRUE(sub(a, "$queue/jobs/x"));
  EXPECT_FALSE(sub(a, "$share/workers/jobs/#"));
  EXPECT_FALSE(sub(a, "$share/workers/other"));
  EXPECT_FALSE(sub(a, "$share//jobs/x")); // malformed
}

// -- order and defaults -----------------------------------------------------------------------

TEST(Acl, FirstMatchingRuleWins) {
  auto a = parse_ok("allow clientid 0001 3 #\n"
                    "deny username admin 3 #\n"
                    "allow username * 3 #\n");
  EXPECT_TRUE(pub(a, "x", "0001", "admin")); // the first rule matches first
  EXPECT_FALSE(pub(a, "x", "0002", "admin"));
  EXPECT_TRUE(pub(a, "x", "0002", "joe"));
}

TEST(Acl, DefaultDenyWhenNoRuleMatches) {
  auto a = parse_ok("allow clientid c1 3 a\n");
  EXPECT_FALSE(pub(a, "b"));
  EXPECT_FALSE(pub(a, "a", "c2"));
}

TEST(Acl, NoRulesAllowsEverything) {
  auto a = parse_ok("# nothing here\n\n");
  EXPECT_TRUE(a.empty());
  EXPECT_TRUE(pub(a, "x"));
  EXPECT_TRUE(sub(a, "#"));
  acl none;
  EXPECT_TRUE(pub(none, "x"));
}

TEST(Acl, HmqSampleFile) {
  // hmq's plugins/auth/authfile/acl.conf, with its comment header.
  auto a = parse_ok("## sub 1 ,  pub 2,  pubsub 3\n"
                    "## %c is clientid , %s is username\n"
                    "##auth     type        value       pub/sub      topic\n"
                    "allow      ip          127.0.0.1      2         $SYS/#       \n"
                    "allow      clientid    0001           3         #            \n"
                    "deny       username    admin          3         #      \n"
                    "allow      username    joy            3         /test,hello/world       \n"
                    "allow      clientid    *              1         toCloud/%c   \n"
                    "allow      username    *              1         toCloud/%u   \n"
                    "allow      clientid    *              2         toDevice/%c  \n"
                    "allow      username    *              2         toDevice/%u  \n"
                    "deny       clientid    *              3         #     \n");
  EXPECT_EQ(a.rule_count(), 9u);
  EXPECT_TRUE(pub(a, "$SYS/x", "c", "u", "127.0.0.1"));
  EXPECT_TRUE(sub(a, "any/thing", "0001", "u"));
  EXPECT_FALSE(sub(a, "any/thing", "0002", "admin"));
  EXPECT_TRUE(pub(a, "hello/world", "c", "joy"));
  EXPECT_TRUE(sub(a, "toCloud/c9", "c9", "u"));
  EXPECT_TRUE(sub(a, "toCloud/u9", "c9", "u9"));
  EXPECT_TRUE(pub(a, "toDevice/c9", "c9", "u"));
  EXPECT_FALSE(pub(a, "toCloud/c9", "c9", "u"));
  EXPECT_FALSE(pub(a, "random", "c9", "u"));
}

// -- syntax -----------------------------------------------------------------------------------

TEST(Acl, CommentsAndBlankLinesAnywhere) {
  auto a = parse_ok("\n\n# first\n; semicolon comment\n// slash comment\n\n"
                    "allow clientid a 3 x\n\n\n"
                    "   # indented comment\n"
                    "allow clientid b 3 y\r\n"
                    "\t\n"
                    "allow clientid c 3 z"); // no final newline
  EXPECT_EQ(a.rule_count(), 3u);
  EXPECT_TRUE(pub(a, "y", "b")); // after blank lines: hmq stopped reading at the first one
  EXPECT_TRUE(pub(a, "z", "c"));
}

TEST(Acl, KeywordsAreCaseInsensitiveAndTabsSeparate) {
  auto a = parse_ok("ALLOW\tClientId\tc1\t3\ta/b\n");
  EXPECT_TRUE(pub(a, "a/b"));
}

TEST(Acl, TopicListWithSpacesAfterCommas) {
  auto a = parse_ok("allow clientid * 3 a, b,c\n");
  EXPECT_TRUE(pub(a, "a"));
  EXPECT_TRUE(pub(a, "b"));
  EXPECT_TRUE(pub(a, "c"));
}

TEST(Acl, ParseErrorsNameTheLine) {
  struct bad_case {
    const char* text;
    std::size_t line;
    const char* says;
  };
  const bad_case cases[] = {
    {"# c\nallow clientid * 3\n", 2, "field"},
    {"alow clientid * 3 a\n", 1, "'alow'"},
    {"\n\nallow user * 3 a\n", 3, "'user'"},
    {"allow clientid * 4 a\n", 1, "'4'"},
    {"allow clientid * sub a\n", 1, "'sub'"},
    {"allow clientid * 3 a,,b\n", 1, "empty topic"},
    {"allow clientid * 3 a,\n", 1, "empty topic"},
    {"allow clientid * 3 a/#/b\n", 1, "a/#/b"},
    {"allow clientid * 3 a+\n", 1, "a+"},
    {"allow clientid a 3 x\nallow clientid b 3 y\ndeny\n", 3, "field"},
  };
  for (auto& c : cases) {
    auto e = parse_error(c.text);
    EXPECT_EQ(e.line, c.line) << c.text;
    EXPECT_EQ(e.file, "test.acl");
    EXPECT_TRUE(contains(e.message, c.says)) << c.text << " -> " << e.message;
    EXPECT_TRUE(contains(e.to_string(), "test.acl:" + std::to_string(c.line) + ":"))
      << e.to_string();
  }
}

TEST(Acl, LoadFromFile) {
  temp_dir dir;
  auto path = dir.write("acl.conf", "allow clientid * 3 a\n");
  auto r = acl::load(path);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->allowed(access::publish, "c", "", "", "a"));
  auto missing = acl::load(dir.file("nope.conf"));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().line, 0u);
  EXPECT_TRUE(contains(missing.error().to_string(), "nope.conf"));
}

// -- filter relations -------------------------------------------------------------------------

TEST(Acl, FilterCovers) {
  EXPECT_TRUE(filter_covers("#", "a/b"));
  EXPECT_TRUE(filter_covers("#", "#"));
  EXPECT_TRUE(filter_covers("#", "+/+"));
  EXPECT_FALSE(filter_covers("#", "$SYS/a"));
  EXPECT_TRUE(filter_covers("a/#", "a"));
  EXPECT_TRUE(filter_covers("a/#", "a/#"));
  EXPECT_TRUE(filter_covers("a/#", "a/+/c"));
  EXPECT_FALSE(filter_covers("a/+", "a/#"));
  EXPECT_TRUE(filter_covers("a/+", "a/+"));
  EXPECT_TRUE(filter_covers("a/+/#", "a/+"));
  EXPECT_FALSE(filter_covers("a/+/#", "a/#"));
  EXPECT_FALSE(filter_covers("a/b", "a/+"));
  EXPECT_TRUE(filter_covers("a/b", "a/b"));
  EXPECT_FALSE(filter_covers("a/b", "a/b/c"));
  EXPECT_FALSE(filter_covers("a/b/c", "a/b"));
  EXPECT_FALSE(filter_covers("+", "$SYS"));
  EXPECT_TRUE(filter_covers("$SYS/#", "$SYS/x/y"));
  EXPECT_TRUE(filter_covers("+/+", "a/b"));
  EXPECT_TRUE(filter_covers("", ""));
  EXPECT_TRUE(filter_covers("/+", "/a"));
  EXPECT_FALSE(filter_covers("/+", "a"));
}

TEST(Acl, FiltersIntersect) {
  EXPECT_TRUE(filters_intersect("#", "a"));
  EXPECT_TRUE(filters_intersect("a/#", "a"));
  EXPECT_TRUE(filters_intersect("a", "a/#"));
  EXPECT_TRUE(filters_intersect("a/+", "+/b"));
  EXPECT_FALSE(filters_intersect("a/+", "b/+"));
  EXPECT_FALSE(filters_intersect("a/+", "a"));
  EXPECT_FALSE(filters_intersect("a/+/c", "a/b"));
  EXPECT_TRUE(filters_intersect("+/#", "#"));
  EXPECT_FALSE(filters_intersect("#", "$SYS/x"));
  EXPECT_FALSE(filters_intersect("+/x", "$SYS/x"));
  EXPECT_TRUE(filters_intersect("$SYS/#", "$SYS/+"));
  EXPECT_TRUE(filters_intersect("a/b", "a/b"));
  EXPECT_FALSE(filters_intersect("a/b", "a/b/c"));
}

} // namespace
} // namespace colony::config

TEST(ConfigText, SplitKeepsEmptyParts) {
  using colony::config::split;
  EXPECT_EQ(split("a/b", '/'), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(split("", '/'), (std::vector<std::string_view>{""}));
  EXPECT_EQ(split("$7$101$", '$'), (std::vector<std::string_view>{"", "7", "101", ""}));
  EXPECT_EQ(split("n=u,r=x", ','), (std::vector<std::string_view>{"n=u", "r=x"}));
}
