#include "actors/lazy_deque.hpp"

#include <gtest/gtest.h>

#include <string>

namespace colony::actors {
namespace {

TEST(LazyDeque, EmptyIteratesNothing) {
  lazy_deque<std::string> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.begin(), q.end());
  const auto& cq = q;
  EXPECT_EQ(cq.begin(), cq.end());
}

TEST(LazyDeque, FifoOrderAndEmptyAgainAfterLastPop) {
  lazy_deque<int> q;
  for (int i = 0; i < 100; ++i)
    q.push_back(i);
  EXPECT_EQ(q.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(q.front(), i);
    q.pop_front();
  }
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.begin(), q.end());
  q.push_back(7); // usable again after the storage was released
  EXPECT_EQ(q.front(), 7);
}

TEST(LazyDeque, EraseWhileIterating) {
  lazy_deque<int> q;
  for (int i = 0; i < 10; ++i)
    q.push_back(i);
  for (auto it = q.begin(); it != q.end();)
    it = (*it % 2 == 0) ? q.erase(it) : std::next(it);
  ASSERT_EQ(q.size(), 5u);
  int expected = 1;
  for (int x : q) {
    EXPECT_EQ(x, expected);
    expected += 2;
  }
  q.clear();
  EXPECT_TRUE(q.empty());
}

} // namespace
} // namespace colony::actors
