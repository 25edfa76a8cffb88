#include "config/cpus.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace colony::config {
namespace {

TEST(CpuMax, QuotaOverPeriodRoundedUp) {
  EXPECT_EQ(cores_from_cpu_max("200000 100000"), 2u);
  EXPECT_EQ(cores_from_cpu_max("150000 100000\n"), 2u); // 1.5 CPUs: two threads
  EXPECT_EQ(cores_from_cpu_max("50000 100000"), 1u);
}

TEST(CpuMax, NoLimitOrGarbageIsNoAnswer) {
  EXPECT_EQ(cores_from_cpu_max("max 100000"), std::nullopt);
  EXPECT_EQ(cores_from_cpu_max(""), std::nullopt);
  EXPECT_EQ(cores_from_cpu_max("100000"), std::nullopt);
  EXPECT_EQ(cores_from_cpu_max("-5 100000"), std::nullopt);
  EXPECT_EQ(cores_from_cpu_max("100000 0"), std::nullopt);
  EXPECT_EQ(cores_from_cpu_max("0 100000"), std::nullopt);
}

TEST(UsableCores, BetweenOneAndTheMachinesCores) {
  auto n = usable_cores();
  EXPECT_GE(n, 1u);
  EXPECT_LE(n, std::max(1u, std::thread::hardware_concurrency()));
}

} // namespace
} // namespace colony::config
