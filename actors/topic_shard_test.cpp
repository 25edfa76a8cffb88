#include "actors/topic_shard.hpp"

#include <gtest/gtest.h>

namespace colony::actors {
namespace {

TEST(SplitByShard, WildcardFirstGoesToEveryShardLiteralToItsOwner) {
  subscribe_request who;
  who.session_id = 7;
  who.client_id = "c";
  who.incarnation = 3;
  who.persistent = true;
  std::vector<subscription> subs{{"+/x", "", {}, 0, false}, {"a/b", "", {}, 5, true}};
  const std::size_t n = 4;
  auto per_shard = split_by_shard(who, subs, n);
  ASSERT_EQ(per_shard.size(), n);
  auto owner = shard_of("a/b", n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& req = per_shard[i];
    ASSERT_EQ(req.subs.size(), i == owner ? 2u : 1u) << "shard " << i;
    EXPECT_EQ(req.subs[0].topic_filter, "+/x");
    EXPECT_EQ(req.session_id, 7u);
    EXPECT_EQ(req.client_id, "c");
    EXPECT_EQ(req.incarnation, 3u);
    EXPECT_TRUE(req.persistent);
  }
  EXPECT_EQ(per_shard[owner].subs[1].subscription_id, 5u);
}

TEST(SplitByShard, ShardsWithoutSubscriptionsGetEmptyRequests) {
  subscribe_request who;
  who.session_id = 1;
  auto per_shard = split_by_shard(who, {{"only/here", "", {}, 0, false}}, 8);
  std::size_t with = 0;
  for (const auto& req : per_shard)
    with += req.subs.empty() ? 0 : 1;
  EXPECT_EQ(with, 1u);
  EXPECT_EQ(per_shard[shard_of("only/here", 8)].subs.size(), 1u);
}

} // namespace
} // namespace colony::actors
