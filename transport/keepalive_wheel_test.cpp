#include "transport/keepalive_wheel.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace colony::transport::detail {
namespace {

using clock = keepalive_wheel::clock;
using std::chrono::milliseconds;

// The tests drive the wheel by hand: their own clock, and tick() instead of the timer (the
// io_context never runs, so the timer never fires).
clock::time_point fake_now;
clock::time_point read_fake_now() {
  return fake_now;
}

constexpr milliseconds tick_len{500};

/// Records the ticks it is checked on; says a deadline `every` after each check, until
/// `checks` checks are done. Answers only for the newest `gen` it was scheduled with.
struct client : keepalive_client {
  client(milliseconds every, int checks) : every(every), checks_left(checks) {}
  std::optional<clock::time_point> on_keepalive_tick(clock::time_point now,
                                                     std::uint32_t g) override {
    if (g != gen)
      return std::nullopt;
    seen.push_back(now);
    if (--checks_left <= 0)
      return std::nullopt;
    return now + every;
  }
  milliseconds every;
  int checks_left;
  std::uint32_t gen = 1;
  std::vector<clock::time_point> seen;
};

struct KeepaliveWheel : ::testing::Test {
  KeepaliveWheel() { fake_now = clock::time_point{} + std::chrono::hours{1}; }
  /// One tick later on the fake clock, and the wheel's tick.
  void advance(keepalive_wheel& w, int ticks = 1) {
    for (int i = 0; i < ticks; ++i) {
      fake_now += tick_len;
      w.tick();
    }
  }
  boost::asio::io_context ctx;
};

TEST_F(KeepaliveWheel, ChecksAClientOnTheFirstTickAtOrAfterItsDeadlineOnly) {
  keepalive_wheel w{ctx, tick_len, 64, &read_fake_now};
  const auto start = fake_now;
  auto c = std::make_shared<client>(milliseconds{10'000}, 1);
  w.schedule(c, c->gen, start + milliseconds{3'200}); // between tick 6 (3.0 s) and 7 (3.5 s)
  advance(w, 6);
  EXPECT_TRUE(c->seen.empty()) << "checked before its deadline";
  advance(w);
  ASSERT_EQ(c->seen.size(), 1u);
  EXPECT_EQ(c->seen[0], start + milliseconds{3'500}); // at most one tick late
  EXPECT_EQ(w.size(), 0u);                             // it asked to leave
}

TEST_F(KeepaliveWheel, AnActiveClientIsCheckedOncePerDeadlineNotOnEveryTick) {
  keepalive_wheel w{ctx, tick_len, 64, &read_fake_now};
  // A client with a 15 s deadline that keeps sending: checked at each deadline, and each time
  // it says the next one. 60 s are 120 ticks; the old flat list checked it on all of them.
  auto c = std::make_shared<client>(milliseconds{15'000}, 1000);
  w.schedule(c, c->gen, fake_now + milliseconds{15'000});
  advance(w, 120);
  EXPECT_EQ(c->seen.size(), 4u);
  EXPECT_EQ(w.size(), 1u);
}

TEST_F(KeepaliveWheel, DeadlinesBeyondTheRingWaitInItsLastSlotAndArePlacedAgain) {
  keepalive_wheel w{ctx, tick_len, 8, &read_fake_now}; // the ring covers 4 s
  const auto start = fake_now;
  // A deadline 10 s ahead: the client is asked when the ring's last slot comes round, answers
  // its (unchanged) deadline, and is placed again.
  struct far_client : keepalive_client {
    clock::time_point due;
    std::vector<clock::time_point> asked;
    std::optional<clock::time_point> on_keepalive_tick(clock::time_point now,
                                                       std::uint32_t) override {
      asked.push_back(now);
      if (now >= due)
        return std::nullopt; // expired: closed
      return due;
    }
  };
  auto f = std::make_shared<far_client>();
  f->due = start + milliseconds{10'000};
  w.schedule(f, 1, f->due);
  advance(w, 19);
  EXPECT_LT(f->asked.size(), 4u) << "a far deadline must not be looked at on every tick";
  for (auto t : f->asked)
    EXPECT_LT(t, f->due);
  advance(w);
  ASSERT_FALSE(f->asked.empty());
  EXPECT_EQ(f->asked.back(), start + milliseconds{10'000}); // tick 20, its deadline
  EXPECT_EQ(w.size(), 0u);
}

TEST_F(KeepaliveWheel, GoneAndStaleEntriesLeaveOnTheirTick) {
  keepalive_wheel w{ctx, tick_len, 64, &read_fake_now};
  auto gone = std::make_shared<client>(milliseconds{1'000}, 100);
  auto moved = std::make_shared<client>(milliseconds{1'000}, 100);
  w.schedule(gone, gone->gen, fake_now + milliseconds{1'000});
  w.schedule(moved, moved->gen, fake_now + milliseconds{5'000});
  // The link shortened its deadline: a second entry; the first is stale now.
  moved->gen = 2;
  w.schedule(moved, moved->gen, fake_now + milliseconds{1'000});
  EXPECT_EQ(w.size(), 3u);
  gone.reset(); // the link was destroyed: only a weak pointer is left
  advance(w, 2);
  EXPECT_EQ(moved->seen.size(), 1u); // checked at its new, earlier deadline
  EXPECT_EQ(w.size(), 2u); // the destroyed one left; `moved` is back, and its stale entry waits
  advance(w, 10);                    // past the stale entry's tick (5 s)
  EXPECT_EQ(w.size(), 1u);           // the stale entry left without a check
  EXPECT_EQ(moved->seen.size(), 6u); // 1 s apart: at 1, 2, 3, 4, 5, 6 s
}

// With the real clock and the timer: a client is called once its deadline has passed; when
// the last entry leaves, no timer stays armed; scheduling again starts the ticks again.
TEST_F(KeepaliveWheel, TheTimerRunsWhileEntriesAreLeftAndStartsAgain) {
  keepalive_wheel w{ctx, milliseconds{1}, 64};
  auto c = std::make_shared<client>(milliseconds{0}, 1); // one check, then it leaves
  const auto due = clock::now() + milliseconds{3};
  w.schedule(c, c->gen, due);
  for (int i = 0; i < 5000 && c->seen.empty(); ++i) // bounded: 5 s at most
    ctx.run_for(milliseconds{1});
  ASSERT_EQ(c->seen.size(), 1u);
  EXPECT_GE(c->seen[0], due); // never before the deadline
  EXPECT_EQ(w.size(), 0u);
  ctx.restart();
  EXPECT_EQ(ctx.poll(), 0u); // the wheel is empty: no timer pending

  auto again = std::make_shared<client>(milliseconds{0}, 1);
  w.schedule(again, again->gen, clock::now());
  ctx.restart();
  for (int i = 0; i < 5000 && again->seen.empty(); ++i)
    ctx.run_for(milliseconds{1});
  EXPECT_EQ(again->seen.size(), 1u);
  EXPECT_EQ(w.size(), 0u);
}

TEST_F(KeepaliveWheel, AnEmptyWheelHoldsNoTimerAndStopCancelsIt) {
  keepalive_wheel w{ctx, std::chrono::hours{1}};
  EXPECT_EQ(ctx.poll(), 0u); // nothing armed
  auto c = std::make_shared<client>(milliseconds{1'000}, 5);
  w.schedule(c, c->gen, clock::now() + std::chrono::hours{2});
  w.stop();
  ctx.run(); // the cancelled wait completes at once
  EXPECT_TRUE(c->seen.empty());
}

TEST(KeepaliveWheelCurrent, IsPerThreadAndUnsetByDefault) {
  EXPECT_EQ(keepalive_wheel::current(), nullptr);
}

} // namespace
} // namespace colony::transport::detail
