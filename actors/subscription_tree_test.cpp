// Unit tests of the subscription index of one topic shard (actors/subscription_tree.hpp).
#include "actors/subscription_tree.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace colony::actors {
namespace {

sub_entry entry(std::uint64_t subscriber, std::uint8_t qos = 0, std::uint32_t sub_id = 0,
                bool no_local = false, bool retain_as_published = false) {
  sub_entry e;
  e.subscriber = subscriber;
  e.options.max_qos = qos;
  e.options.no_local = no_local;
  e.options.retain_as_published = retain_as_published;
  e.subscription_id = sub_id;
  return e;
}

std::vector<sub_match> match(subscription_tree& t, std::string_view topic,
                             std::uint64_t origin = 0, std::uint64_t exclude = 0) {
  std::vector<sub_match> out;
  t.match(topic, origin, out, exclude);
  return out;
}

/// The subscribers a match found, sorted.
std::vector<std::uint64_t> subscribers(const std::vector<sub_match>& ms) {
  std::vector<std::uint64_t> ids;
  for (const auto& m : ms)
    ids.push_back(m.subscriber);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::uint64_t> subscribers_of(subscription_tree& t, std::string_view topic) {
  return subscribers(match(t, topic));
}

using ids = std::vector<std::uint64_t>;

// -- normal subscriptions --------------------------------------------------------------

TEST(SubscriptionTree, EmptyTreeMatchesNothing) {
  subscription_tree t;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(match(t, "a/b").empty());
}

TEST(SubscriptionTree, ExactFilterMatchesOnlyThatTopic) {
  subscription_tree t;
  EXPECT_FALSE(t.subscribe("a/b/c", "", entry(1, 1)));
  EXPECT_EQ(t.size(), 1u);
  auto ms = match(t, "a/b/c");
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].subscriber, 1u);
  EXPECT_EQ(ms[0].max_qos, 1);
  EXPECT_TRUE(ms[0].shared_key.empty());
  EXPECT_TRUE(match(t, "a/b").empty());
  EXPECT_TRUE(match(t, "a/b/c/d").empty());
  EXPECT_TRUE(match(t, "a/b/x").empty());
  EXPECT_TRUE(match(t, "A/b/c").empty()); // case-sensitive (MQTT 5 §4.7.3)
}

TEST(SubscriptionTree, PlusMatchesExactlyOneLevel) {
  subscription_tree t;
  t.subscribe("a/+/c", "", entry(1));
  EXPECT_EQ(subscribers_of(t, "a/b/c"), ids{1});
  EXPECT_EQ(subscribers_of(t, "a/x/c"), ids{1});
  EXPECT_EQ(subscribers_of(t, "a//c"), ids{1}); // an empty level is a level (MQTT 5 §4.7.1.3)
  EXPECT_TRUE(match(t, "a/c").empty());
  EXPECT_TRUE(match(t, "a/b/b/c").empty());
  EXPECT_TRUE(match(t, "a/b/c/d").empty());
}

TEST(SubscriptionTree, TrailingPlusDoesNotMatchParent) {
  subscription_tree t;
  t.subscribe("a/+", "", entry(1));
  EXPECT_EQ(subscribers_of(t, "a/b"), ids{1});
  EXPECT_EQ(subscribers_of(t, "a/"), ids{1});
  EXPECT_TRUE(match(t, "a").empty());
  EXPECT_TRUE(match(t, "a/b/c").empty());
}

TEST(SubscriptionTree, HashMatchesEverythingBelowAndTheParent) {
  subscription_tree t;
  t.subscribe("a/#", "", entry(1));
  EXPECT_EQ(subscribers_of(t, "a/b"), ids{1});
  EXPECT_EQ(subscribers_of(t, "a/b/c/d"), ids{1});
  // MQTT 5 §4.7.1.2: "sport/tennis/player1/#" also matches "sport/tennis/player1".
  EXPECT_EQ(subscribers_of(t, "a"), ids{1});
  EXPECT_TRUE(match(t, "b").empty());
  EXPECT_TRUE(match(t, "ab").empty());
  EXPECT_TRUE(match(t, "b/a").empty());
}

TEST(SubscriptionTree, ParentMatchOfHashIsNotDuplicated) {
  subscription_tree t;
  t.subscribe("a/#", "", entry(1, 1));
  auto ms = match(t, "a");
  ASSERT_EQ(ms.size(), 1u);
  ms = match(t, "a/b");
  ASSERT_EQ(ms.size(), 1u);
}

TEST(SubscriptionTree, LoneHashMatchesEveryNonDollarTopic) {
  subscription_tree t;
  t.subscribe("#", "", entry(1));
  EXPECT_EQ(subscribers_of(t, "a"), ids{1});
  EXPECT_EQ(subscribers_of(t, "a/b/c"), ids{1});
  EXPECT_EQ(subscribers_of(t, "/"), ids{1});
}

TEST(SubscriptionTree, PlusThenHash) {
  subscription_tree t;
  t.subscribe("+/#", "", entry(1));
  EXPECT_EQ(subscribers_of(t, "a"), ids{1});
  EXPECT_EQ(subscribers_of(t, "a/b/c"), ids{1});
}

TEST(SubscriptionTree, LeadingSlashIsAnEmptyFirstLevel) {
  subscription_tree t;
  t.subscribe("/a", "", entry(1));
  t.subscribe("+/a", "", entry(2));
  t.subscribe("a", "", entry(3));
  EXPECT_EQ(subscribers_of(t, "/a"), (ids{1, 2}));
  EXPECT_EQ(subscribers_of(t, "a"), ids{3});
}

// MQTT-4.7.2-1: a filter starting with a wildcard does not match a topic starting with '$'.
TEST(SubscriptionTree, LeadingWildcardsDoNotMatchDollarTopics_MQTT_4_7_2_1) {
  subscription_tree t;
  t.subscribe("#", "", entry(1));
  t.subscribe("+/monitor/Clients", "", entry(2));
  t.subscribe("+", "", entry(3));
  t.subscribe("$SYS/#", "", entry(4));
  t.subscribe("$SYS/monitor/+", "", entry(5));
  t.subscribe("$SYS", "", entry(6));
  EXPECT_EQ(subscribers_of(t, "$SYS/monitor/Clients"), (ids{4, 5}));
  EXPECT_EQ(subscribers_of(t, "$SYS"), (ids{4, 6}));
  EXPECT_EQ(subscribers_of(t, "$other"), ids{});
  // Non-$ topics are matched by the same wildcards.
  EXPECT_EQ(subscribers_of(t, "x/monitor/Clients"), (ids{1, 2}));
  EXPECT_EQ(subscribers_of(t, "x"), (ids{1, 3}));
}

TEST(SubscriptionTree, DollarAfterFirstLevelIsOrdinary) {
  subscription_tree t;
  t.subscribe("a/+", "", entry(1));
  t.subscribe("#", "", entry(2));
  EXPECT_EQ(subscribers_of(t, "a/$x"), (ids{1, 2}));
}

TEST(SubscriptionTree, ManySubscribersOneEntryEach) {
  subscription_tree t;
  for (std::uint64_t s = 1; s <= 5; ++s)
    t.subscribe("t", "", entry(s));
  EXPECT_EQ(t.size(), 5u);
  EXPECT_EQ(subscribers_of(t, "t"), (ids{1, 2, 3, 4, 5}));
}

// MQTT-3.3.5-1: overlapping subscriptions of one client -> one message with the highest QoS,
// and (MQTT 5 §3.3.4) all their Subscription Identifiers.
TEST(SubscriptionTree, OverlappingSubscriptionsMergeMaxQosAndIds_MQTT_3_3_5_1) {
  subscription_tree t;
  t.subscribe("a/b", "", entry(7, 0, 11));
  t.subscribe("a/+", "", entry(7, 2, 12));
  t.subscribe("#", "", entry(7, 1, 13));
  t.subscribe("a/#", "", entry(7, 1, 0)); // no id
  t.subscribe("a/b", "", entry(8, 1, 21));
  auto ms = match(t, "a/b");
  ASSERT_EQ(ms.size(), 2u);
  std::map<std::uint64_t, sub_match> by;
  for (auto& m : ms)
    by[m.subscriber] = m;
  ASSERT_EQ(by.count(7), 1u);
  EXPECT_EQ(by[7].max_qos, 2);
  auto sids = by[7].subscription_ids;
  std::sort(sids.begin(), sids.end());
  EXPECT_EQ(sids, (std::vector<std::uint32_t>{11, 12, 13}));
  EXPECT_EQ(by[8].max_qos, 1);
  EXPECT_EQ(by[8].subscription_ids, (std::vector<std::uint32_t>{21}));
}

TEST(SubscriptionTree, MergedRetainAsPublishedIsAnyOf) {
  subscription_tree t;
  t.subscribe("a/b", "", entry(1, 0, 0, false, false));
  t.subscribe("a/+", "", entry(1, 0, 0, false, true));
  auto ms = match(t, "a/b");
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_TRUE(ms[0].retain_as_published);
}

// MQTT-3.8.3-3: No Local — not delivered back to the connection that published it.
TEST(SubscriptionTree, NoLocalSkipsTheOrigin_MQTT_3_8_3_3) {
  subscription_tree t;
  t.subscribe("a", "", entry(1, 1, 0, /*no_local=*/true));
  t.subscribe("a", "", entry(2, 1, 0, /*no_local=*/true));
  EXPECT_EQ(subscribers(match(t, "a", /*origin=*/1)), ids{2});
  EXPECT_EQ(subscribers(match(t, "a", /*origin=*/3)), (ids{1, 2}));
}

TEST(SubscriptionTree, NoLocalOnlyAffectsThatSubscription) {
  subscription_tree t;
  t.subscribe("a/#", "", entry(1, 2, 5, /*no_local=*/true));
  t.subscribe("a/b", "", entry(1, 1, 6, /*no_local=*/false));
  auto ms = match(t, "a/b", /*origin=*/1);
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].max_qos, 1); // the No Local QoS 2 subscription does not count
  EXPECT_EQ(ms[0].subscription_ids, (std::vector<std::uint32_t>{6}));
}

TEST(SubscriptionTree, NoLocalBitDoesNotLeakIntoQos) {
  subscription_tree t;
  t.subscribe("a", "", entry(1, 1, 0, /*no_local=*/true));
  auto ms = match(t, "a", /*origin=*/2);
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].max_qos, 1);
}

// MQTT-3.8.4-3: a SUBSCRIBE with the same filter replaces the existing subscription.
TEST(SubscriptionTree, SubscribeReplacesExisting_MQTT_3_8_4_3) {
  subscription_tree t;
  EXPECT_FALSE(t.subscribe("a/b", "", entry(1, 0, 1)));
  EXPECT_TRUE(t.subscribe("a/b", "", entry(1, 2, 9)));
  EXPECT_EQ(t.size(), 1u);
  auto ms = match(t, "a/b");
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].max_qos, 2);
  EXPECT_EQ(ms[0].subscription_ids, (std::vector<std::uint32_t>{9}));
}

TEST(SubscriptionTree, SameFilterOtherSubscriberIsNotAReplacement) {
  subscription_tree t;
  EXPECT_FALSE(t.subscribe("a", "", entry(1)));
  EXPECT_FALSE(t.subscribe("a", "", entry(2)));
  EXPECT_EQ(t.size(), 2u);
}

TEST(SubscriptionTree, UnsubscribeRemovesOnlyThatSubscription) {
  subscription_tree t;
  t.subscribe("a/b", "", entry(1));
  t.subscribe("a/+", "", entry(1));
  t.subscribe("a/b", "", entry(2));
  EXPECT_TRUE(t.unsubscribe("a/b", "", 1));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(subscribers_of(t, "a/b"), (ids{1, 2})); // still via a/+
  EXPECT_EQ(subscribers_of(t, "a/c"), ids{1});
  EXPECT_FALSE(t.unsubscribe("a/b", "", 1)); // already gone
  EXPECT_FALSE(t.unsubscribe("x/y", "", 1)); // never existed
  EXPECT_FALSE(t.unsubscribe("a/b", "", 3)); // other subscriber
  EXPECT_FALSE(t.unsubscribe("a/b", "g", 2)); // not a shared subscription
  EXPECT_EQ(t.size(), 2u);
}

TEST(SubscriptionTree, UnsubscribeAllPrunesTheTree) {
  subscription_tree t;
  t.subscribe("a/b/c", "", entry(1));
  t.subscribe("a/+/c/#", "", entry(2));
  t.subscribe("a", "", entry(3));
  t.subscribe("+/x", "g", entry(4));
  EXPECT_TRUE(t.unsubscribe("a/b/c", "", 1));
  EXPECT_TRUE(t.unsubscribe("a/+/c/#", "", 2));
  EXPECT_TRUE(t.unsubscribe("a", "", 3));
  EXPECT_TRUE(t.unsubscribe("+/x", "g", 4));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(match(t, "a/b/c").empty());
  EXPECT_TRUE(match(t, "a/b/c/d").empty());
  EXPECT_TRUE(match(t, "a").empty());
  EXPECT_TRUE(match(t, "q/x").empty());
  // Re-subscribing after pruning works like the first time.
  EXPECT_FALSE(t.subscribe("a/b/c", "", entry(1)));
  EXPECT_EQ(subscribers_of(t, "a/b/c"), ids{1});
}

TEST(SubscriptionTree, PruneKeepsNodesStillInUse) {
  subscription_tree t;
  t.subscribe("a", "", entry(1));
  t.subscribe("a/b/c", "", entry(2));
  EXPECT_TRUE(t.unsubscribe("a/b/c", "", 2));
  EXPECT_EQ(subscribers_of(t, "a"), ids{1});
  t.subscribe("a/b/c", "", entry(2));
  EXPECT_TRUE(t.unsubscribe("a", "", 1));
  EXPECT_EQ(subscribers_of(t, "a/b/c"), ids{2});
  EXPECT_TRUE(match(t, "a").empty());
}

TEST(SubscriptionTree, RemoveSubscriberDropsAllItsSubscriptions) {
  subscription_tree t;
  t.subscribe("a/b", "", entry(1));
  t.subscribe("a/#", "", entry(1));
  t.subscribe("+/b", "", entry(1));
  t.subscribe("a/b", "g", entry(1));
  t.subscribe("a/b", "", entry(2));
  EXPECT_EQ(t.size(), 5u);
  EXPECT_EQ(t.remove_subscriber(1), 4u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(subscribers_of(t, "a/b"), ids{2});
  EXPECT_EQ(t.remove_subscriber(1), 0u);
  EXPECT_EQ(t.remove_subscriber(99), 0u);
  EXPECT_EQ(t.remove_subscriber(2), 1u);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(match(t, "a/b").empty());
}

TEST(SubscriptionTree, RemoveSubscriberAfterPartialUnsubscribe) {
  subscription_tree t;
  t.subscribe("a", "", entry(1));
  t.subscribe("b", "", entry(1));
  EXPECT_TRUE(t.unsubscribe("a", "", 1));
  EXPECT_EQ(t.remove_subscriber(1), 1u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(SubscriptionTree, ReplacedSubscriptionIsRemovedOnce) {
  subscription_tree t;
  t.subscribe("a", "", entry(1, 0));
  t.subscribe("a", "", entry(1, 1)); // replace: index must not hold it twice
  EXPECT_EQ(t.remove_subscriber(1), 1u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(SubscriptionTree, MoveKeepsContents) {
  subscription_tree t;
  t.subscribe("a/#", "", entry(1));
  subscription_tree u = std::move(t);
  EXPECT_EQ(u.size(), 1u);
  EXPECT_EQ(subscribers_of(u, "a/b"), ids{1});
}

// -- shared subscriptions (MQTT 5 §4.8.2) ---------------------------------------------

TEST(SubscriptionTree, SharedGroupDeliversToOneMemberPerMessage) {
  subscription_tree t;
  t.subscribe("s/+", "g", entry(1, 1, 3));
  t.subscribe("s/+", "g", entry(2, 1, 3));
  t.subscribe("s/+", "g", entry(3, 1, 3));
  EXPECT_EQ(t.size(), 3u);
  auto ms = match(t, "s/x");
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].shared_key, std::string{"g\x1fs/+"});
  EXPECT_EQ(ms[0].max_qos, 1);
  EXPECT_EQ(ms[0].subscription_ids, (std::vector<std::uint32_t>{3}));
}

TEST(SubscriptionTree, SharedGroupRoundRobin) {
  subscription_tree t;
  t.subscribe("s", "g", entry(1));
  t.subscribe("s", "g", entry(2));
  t.subscribe("s", "g", entry(3));
  std::map<std::uint64_t, int> count;
  std::uint64_t prev = 0;
  for (int i = 0; i < 9; ++i) {
    auto ms = match(t, "s");
    ASSERT_EQ(ms.size(), 1u);
    EXPECT_NE(ms[0].subscriber, prev) << "same member twice in a row at message " << i;
    prev = ms[0].subscriber;
    ++count[ms[0].subscriber];
  }
  EXPECT_EQ(count[1], 3);
  EXPECT_EQ(count[2], 3);
  EXPECT_EQ(count[3], 3);
}

TEST(SubscriptionTree, SharedGroupTwoMembersAlternate) {
  subscription_tree t;
  t.subscribe("s", "g", entry(1));
  t.subscribe("s", "g", entry(2));
  auto a = match(t, "s").at(0).subscriber;
  auto b = match(t, "s").at(0).subscriber;
  auto c = match(t, "s").at(0).subscriber;
  EXPECT_NE(a, b);
  EXPECT_EQ(a, c);
}

TEST(SubscriptionTree, TwoGroupsEachGetOneCopy) {
  subscription_tree t;
  t.subscribe("s/#", "g1", entry(1));
  t.subscribe("s/#", "g1", entry(2));
  t.subscribe("s/#", "g2", entry(3));
  t.subscribe("s/#", "g2", entry(4));
  t.subscribe("s/#", "", entry(5)); // plus a normal subscription
  auto ms = match(t, "s/a");
  ASSERT_EQ(ms.size(), 3u);
  int g1 = 0, g2 = 0, normal = 0;
  for (auto& m : ms) {
    if (m.shared_key == std::string{"g1\x1fs/#"}) {
      ++g1;
      EXPECT_TRUE(m.subscriber == 1 || m.subscriber == 2);
    } else if (m.shared_key == std::string{"g2\x1fs/#"}) {
      ++g2;
      EXPECT_TRUE(m.subscriber == 3 || m.subscriber == 4);
    } else {
      ++normal;
      EXPECT_EQ(m.subscriber, 5u);
      EXPECT_TRUE(m.shared_key.empty());
    }
  }
  EXPECT_EQ(g1, 1);
  EXPECT_EQ(g2, 1);
  EXPECT_EQ(normal, 1);
}

TEST(SubscriptionTree, SameGroupNameDifferentFiltersAreDifferentGroups) {
  subscription_tree t;
  t.subscribe("s/a", "g", entry(1));
  t.subscribe("s/+", "g", entry(2));
  auto ms = match(t, "s/a");
  EXPECT_EQ(subscribers(ms), (ids{1, 2}));
}

TEST(SubscriptionTree, SharedMemberAlsoSubscribedNormallyGetsBoth) {
  subscription_tree t;
  t.subscribe("s", "g", entry(1));
  t.subscribe("s", "", entry(1));
  auto ms = match(t, "s");
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].subscriber, 1u);
  EXPECT_EQ(ms[1].subscriber, 1u);
}

TEST(SubscriptionTree, OfflineMembersSkippedWhileOneIsOnline) {
  subscription_tree t;
  t.subscribe("s", "g", entry(1));
  t.subscribe("s", "g", entry(2));
  t.subscribe("s", "g", entry(3));
  t.set_online(1, false);
  t.set_online(3, false);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(match(t, "s").at(0).subscriber, 2u);
  t.set_online(3, true);
  std::map<std::uint64_t, int> count;
  for (int i = 0; i < 4; ++i)
    ++count[match(t, "s").at(0).subscriber];
  EXPECT_EQ(count[1], 0);
  EXPECT_EQ(count[2], 2);
  EXPECT_EQ(count[3], 2);
}

TEST(SubscriptionTree, AllMembersOfflineStillPicksOne) {
  subscription_tree t;
  t.subscribe("s", "g", entry(1));
  t.subscribe("s", "g", entry(2));
  t.set_online(1, false);
  t.set_online(2, false);
  auto ms = match(t, "s");
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_TRUE(ms[0].subscriber == 1 || ms[0].subscriber == 2);
}

TEST(SubscriptionTree, OfflineDoesNotAffectNormalSubscriptions) {
  subscription_tree t;
  t.subscribe("s", "", entry(1, 1));
  t.set_online(1, false);
  EXPECT_EQ(subscribers_of(t, "s"), ids{1});
}

TEST(SubscriptionTree, MatchExcludeSkipsThatMember) {
  subscription_tree t;
  t.subscribe("s", "g", entry(1));
  t.subscribe("s", "g", entry(2));
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(match(t, "s", 0, /*exclude=*/1).at(0).subscriber, 2u);
}

TEST(SubscriptionTree, MatchExcludeOfOnlyMemberStillDelivers) {
  subscription_tree t;
  t.subscribe("s", "g", entry(1));
  auto ms = match(t, "s", 0, /*exclude=*/1);
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].subscriber, 1u);
}

TEST(SubscriptionTree, PickSharedExcludesMember) {
  subscription_tree t;
  t.subscribe("s/+", "g", entry(1, 1, 4));
  t.subscribe("s/+", "g", entry(2, 2, 5));
  for (int i = 0; i < 4; ++i) {
    sub_match m;
    ASSERT_TRUE(t.pick_shared("g", "s/+", /*exclude=*/1, m));
    EXPECT_EQ(m.subscriber, 2u);
    EXPECT_EQ(m.max_qos, 2);
    EXPECT_EQ(m.subscription_ids, (std::vector<std::uint32_t>{5}));
    EXPECT_EQ(m.shared_key, std::string{"g\x1fs/+"});
  }
}

TEST(SubscriptionTree, PickSharedNoOtherMember) {
  subscription_tree t;
  t.subscribe("s", "g", entry(1));
  sub_match m;
  EXPECT_FALSE(t.pick_shared("g", "s", /*exclude=*/1, m));
  EXPECT_TRUE(t.pick_shared("g", "s", /*exclude=*/2, m));
  EXPECT_EQ(m.subscriber, 1u);
  EXPECT_FALSE(t.pick_shared("other", "s", 0, m));
  EXPECT_FALSE(t.pick_shared("g", "nope", 0, m));
  EXPECT_FALSE(t.pick_shared("g", "s/x", 0, m));
}

TEST(SubscriptionTree, PickSharedPrefersOnlineMember) {
  subscription_tree t;
  t.subscribe("s", "g", entry(1));
  t.subscribe("s", "g", entry(2));
  t.subscribe("s", "g", entry(3));
  t.set_online(2, false);
  for (int i = 0; i < 4; ++i) {
    sub_match m;
    ASSERT_TRUE(t.pick_shared("g", "s", /*exclude=*/1, m));
    EXPECT_EQ(m.subscriber, 3u);
  }
}

TEST(SubscriptionTree, SharedUnsubscribeAndReplace) {
  subscription_tree t;
  EXPECT_FALSE(t.subscribe("s", "g", entry(1, 0)));
  EXPECT_TRUE(t.subscribe("s", "g", entry(1, 2))); // replaced within the group
  EXPECT_FALSE(t.subscribe("s", "g", entry(2, 1)));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_FALSE(t.unsubscribe("s", "", 1)); // not a normal subscription
  EXPECT_TRUE(t.unsubscribe("s", "g", 1));
  EXPECT_EQ(t.size(), 1u);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(match(t, "s").at(0).subscriber, 2u);
  EXPECT_TRUE(t.unsubscribe("s", "g", 2));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(match(t, "s").empty());
  sub_match m;
  EXPECT_FALSE(t.pick_shared("g", "s", 0, m));
}

TEST(SubscriptionTree, RoundRobinSurvivesMemberLeaving) {
  subscription_tree t;
  t.subscribe("s", "g", entry(1));
  t.subscribe("s", "g", entry(2));
  t.subscribe("s", "g", entry(3));
  match(t, "s");
  match(t, "s");
  EXPECT_TRUE(t.unsubscribe("s", "g", 3));
  std::map<std::uint64_t, int> count;
  for (int i = 0; i < 4; ++i)
    ++count[match(t, "s").at(0).subscriber];
  EXPECT_EQ(count[1], 2);
  EXPECT_EQ(count[2], 2);
}

TEST(SubscriptionTree, SharedGroupOnDollarFilter) {
  subscription_tree t;
  t.subscribe("$SYS/#", "g", entry(1));
  t.subscribe("#", "g", entry(2));
  auto ms = match(t, "$SYS/x");
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].subscriber, 1u);
}

} // namespace
} // namespace colony::actors
