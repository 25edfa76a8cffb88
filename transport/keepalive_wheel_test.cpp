#include "transport/keepalive_wheel.hpp"

#include <gtest/gtest.h>

namespace colony::transport::detail {
namespace {

/// Stays on the wheel for `ticks` checks, then asks to be removed.
struct counting_client : keepalive_client {
  explicit counting_client(int ticks) : left(ticks) {}
  bool on_keepalive_tick(std::chrono::steady_clock::time_point) override {
    ++calls;
    return --left > 0;
  }
  int left;
  int calls = 0;
};

TEST(KeepaliveWheel, ChecksEachClientPerTickAndDropsFinishedOrGoneOnes) {
  boost::asio::io_context ctx;
  keepalive_wheel wheel{ctx, std::chrono::milliseconds{1}};
  auto stays = std::make_shared<counting_client>(3);
  auto leaves = std::make_shared<counting_client>(1);
  auto gone = std::make_shared<counting_client>(100);
  wheel.add(stays);
  wheel.add(leaves);
  wheel.add(gone);
  gone.reset(); // the link was destroyed: only a weak pointer is left
  EXPECT_EQ(wheel.size(), 3u);

  ctx.run_one(); // first tick
  EXPECT_EQ(wheel.size(), 1u);
  EXPECT_EQ(stays->calls, 1);
  EXPECT_EQ(leaves->calls, 1);

  ctx.run_one();
  ctx.run_one(); // third check: `stays` asks to leave
  EXPECT_EQ(stays->calls, 3);
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_EQ(ctx.run_one(), 0u); // nothing left to check: the timer is not re-armed
}

TEST(KeepaliveWheel, StopCancelsTheTick) {
  boost::asio::io_context ctx;
  keepalive_wheel wheel{ctx, std::chrono::hours{1}};
  auto c = std::make_shared<counting_client>(5);
  wheel.add(c);
  wheel.stop();
  ctx.run(); // the cancelled wait completes at once
  EXPECT_EQ(c->calls, 0);
}

TEST(KeepaliveWheel, CurrentIsPerThreadAndUnsetByDefault) {
  EXPECT_EQ(keepalive_wheel::current(), nullptr);
}

} // namespace
} // namespace colony::transport::detail
