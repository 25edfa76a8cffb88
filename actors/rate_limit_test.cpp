#include "actors/rate_limit.hpp"

#include <gtest/gtest.h>

#include <string>

using colony::actors::per_ip_rate_limiter;
using colony::actors::token_bucket;

TEST(TokenBucket, ZeroIsUnlimited) {
  token_bucket b{0};
  EXPECT_TRUE(b.unlimited());
  for (int i = 0; i < 10'000; ++i)
    ASSERT_TRUE(b.take(0, 1'000'000));
}

TEST(TokenBucket, BurstIsOneSecondsWorth) {
  token_bucket b{5};
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(b.take(1000)) << i;
  EXPECT_FALSE(b.take(1000));
  EXPECT_FALSE(b.take(1100)); // 0.5 tokens
  EXPECT_TRUE(b.take(1200));  // 1 token after 200 ms at 5/s
  EXPECT_FALSE(b.take(1200));
}

TEST(TokenBucket, RefillStopsAtTheBurst) {
  token_bucket b{3};
  EXPECT_TRUE(b.take(0, 3));
  EXPECT_DOUBLE_EQ(b.available(60'000), 3.0);
  EXPECT_TRUE(b.take(60'000, 3));
  EXPECT_FALSE(b.take(60'000));
}

TEST(TokenBucket, AFailedTakeTakesNothing) {
  token_bucket b{10};
  EXPECT_TRUE(b.take(0, 6));
  EXPECT_FALSE(b.take(0, 5));
  EXPECT_TRUE(b.take(0, 4));
}

TEST(TokenBucket, CostAboveTheBurstPassesOnlyFromAFullBucket) {
  token_bucket b{100};
  EXPECT_TRUE(b.take(0, 250)); // full: passes, leaves a debt of 150
  EXPECT_FALSE(b.take(0, 1));
  EXPECT_FALSE(b.take(1000, 1));  // -150 + 100 = -50
  EXPECT_TRUE(b.take(2500, 1));   // capped at 100 again
  EXPECT_FALSE(b.take(2500, 250)); // not full any more
}

TEST(TokenBucket, ClockGoingBackDoesNotRefill) {
  token_bucket b{2};
  EXPECT_TRUE(b.take(5000, 2));
  EXPECT_FALSE(b.take(1000));
  EXPECT_TRUE(b.take(1500)); // refills from where the clock went back to
  EXPECT_FALSE(b.take(1500));
}

TEST(PerIpRateLimiter, LimitsEachAddressSeparately) {
  per_ip_rate_limiter l{2};
  EXPECT_TRUE(l.admit("10.0.0.1", 0));
  EXPECT_TRUE(l.admit("10.0.0.1", 0));
  EXPECT_FALSE(l.admit("10.0.0.1", 0));
  EXPECT_TRUE(l.admit("10.0.0.2", 0)); // another address is unaffected
  EXPECT_TRUE(l.admit("10.0.0.1", 500)); // one refilled after 500 ms at 2/s
  EXPECT_FALSE(l.admit("10.0.0.1", 500));
}

TEST(PerIpRateLimiter, ZeroAdmitsEverything) {
  per_ip_rate_limiter l{0};
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(l.admit("10.0.0.1", 0));
  EXPECT_EQ(l.size(), 0u);
}

TEST(PerIpRateLimiter, TableStaysBounded) {
  per_ip_rate_limiter l{1, 64};
  for (int i = 0; i < 10'000; ++i)
    l.admit("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256), i);
  EXPECT_LE(l.size(), 64u);
}

TEST(PerIpRateLimiter, PruningKeepsAddressesStillLimited) {
  per_ip_rate_limiter l{1, 16}; // one entry per stripe
  EXPECT_TRUE(l.admit("192.0.2.1", 0));
  // Idle addresses are forgotten; the busy one must stay limited within the same second
  // unless the whole stripe overflowed with busy addresses.
  EXPECT_FALSE(l.admit("192.0.2.1", 10));
  EXPECT_TRUE(l.admit("192.0.2.1", 1000));
}
