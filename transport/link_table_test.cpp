#include "transport/link_table.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace colony::transport::detail {
namespace {

struct fake_link {
  int n = 0;
};

/// all() gives exactly `only`.
void expect_all_is(const basic_link_table<fake_link>& t, const std::shared_ptr<fake_link>& only) {
  auto all = t.all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0], only);
}

TEST(LinkTable, CountsAddedLinksUntilRemoved) {
  basic_link_table<fake_link> t;
  auto a = std::make_shared<fake_link>();
  auto b = std::make_shared<fake_link>();
  t.add(1, a);
  t.add(2, b);
  EXPECT_EQ(t.size(), 2u);
  t.remove(1);
  EXPECT_EQ(t.size(), 1u);
  t.remove(1); // twice: no effect
  EXPECT_EQ(t.size(), 1u);
  expect_all_is(t, b);
}

TEST(LinkTable, AllSkipsLinksAlreadyGoneButStillRegistered) {
  basic_link_table<fake_link> t;
  auto kept = std::make_shared<fake_link>();
  t.add(7, kept);
  {
    auto gone = std::make_shared<fake_link>();
    t.add(8, gone);
  }
  EXPECT_EQ(t.size(), 2u); // registered until its on_finish removes it
  expect_all_is(t, kept);
}

TEST(LinkTable, ConcurrentAddsAndRemovesKeepTheCount) {
  basic_link_table<fake_link> t;
  auto link = std::make_shared<fake_link>();
  constexpr std::uint64_t per_thread = 2000;
  auto work = [&](std::uint64_t first) {
    for (std::uint64_t id = first; id < first + per_thread; ++id)
      t.add(id, link);
    for (std::uint64_t id = first; id < first + per_thread; id += 2)
      t.remove(id);
  };
  std::thread a{work, 0}, b{work, per_thread};
  a.join();
  b.join();
  EXPECT_EQ(t.size(), per_thread); // half of each thread's ids are left
  EXPECT_EQ(t.all().size(), per_thread);
}

} // namespace
} // namespace colony::transport::detail
