#include "transport/read_buffer.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <thread>
#include <vector>

namespace colony::transport {
namespace {

/// Writes `bytes` into the buffer the way a read would (prepare, copy, commit).
std::size_t fill(read_buffer& b, const std::vector<std::uint8_t>& bytes) {
  auto space = b.prepare();
  auto n = std::min(space.size(), bytes.size());
  std::copy_n(bytes.begin(), n, space.begin());
  b.commit(n);
  return n;
}

std::vector<std::uint8_t> iota_bytes(std::size_t n, std::uint8_t first = 0) {
  std::vector<std::uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST(ReadBuffer, HoldsNoMemoryUntilTheFirstRead) {
  read_buffer b{256, 4096};
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.prepare().size(), 256u);
  EXPECT_EQ(b.capacity(), 256u);
}

TEST(ReadBuffer, ReleasesMemoryWhenDrained) {
  read_buffer b{256, 4096};
  fill(b, iota_bytes(100));
  b.release_if_empty(); // still holds bytes: kept
  EXPECT_EQ(b.capacity(), 256u);
  EXPECT_EQ(b.size(), 100u);
  b.consume(100);
  EXPECT_TRUE(b.empty());
  b.release_if_empty();
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.prepare().size(), 256u); // allocates again on demand
}

TEST(ReadBuffer, KeepsUnreadBytesInOrderAcrossCompaction) {
  read_buffer b{8, 64};
  fill(b, iota_bytes(8));
  b.consume(5); // more than half consumed: the rest moves to the front
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b.data()[0], 5);
  EXPECT_EQ(b.prepare().size(), 5u);
  fill(b, iota_bytes(5, 8));
  ASSERT_EQ(b.size(), 8u);
  for (std::size_t i = 0; i < 8; ++i)
    EXPECT_EQ(b.data()[i], i + 5);
  EXPECT_EQ(b.capacity(), 8u);
}

TEST(ReadBuffer, FullBufferWithDataAtTheFrontDoublesUpToMax) {
  read_buffer b{8, 20};
  fill(b, iota_bytes(8)); // one incomplete packet fills it
  EXPECT_EQ(b.prepare().size(), 8u);
  EXPECT_EQ(b.capacity(), 16u);
  fill(b, iota_bytes(8, 8));
  EXPECT_EQ(b.prepare().size(), 4u); // capped at max
  EXPECT_EQ(b.capacity(), 20u);
  for (std::size_t i = 0; i < 16; ++i)
    EXPECT_EQ(b.data()[i], i);
}

TEST(ReadBuffer, FullBufferWithConsumedFrontCompactsInsteadOfGrowing) {
  read_buffer b{8, 64};
  fill(b, iota_bytes(8));
  b.consume(2); // less than half: stays where it is
  EXPECT_EQ(b.prepare().size(), 2u);
  EXPECT_EQ(b.capacity(), 8u);
  EXPECT_EQ(b.data()[0], 2);
}

TEST(ReadBuffer, ShrinksBackAfterALargePacket) {
  read_buffer b{8, 1024};
  for (int i = 0; i < 4; ++i) {
    auto space = b.prepare();
    b.commit(space.size());
  }
  EXPECT_EQ(b.capacity(), 64u);
  b.consume(b.size() - 3);
  b.shrink();
  EXPECT_EQ(b.capacity(), 8u);
  EXPECT_EQ(b.size(), 3u);
  b.shrink(); // not oversized: unchanged
  EXPECT_EQ(b.capacity(), 8u);
}

TEST(ReadBuffer, DoesNotShrinkWhileHoldingMoreThanInitial) {
  read_buffer b{8, 1024};
  for (int i = 0; i < 4; ++i) {
    auto space = b.prepare();
    b.commit(space.size());
  }
  b.consume(b.size() - 20);
  b.shrink();
  EXPECT_EQ(b.size(), 20u);
  EXPECT_GE(b.capacity(), 20u);
}

TEST(ReadBuffer, CommitNeverPassesTheEnd) {
  read_buffer b{8, 8};
  b.prepare();
  b.commit(100);
  EXPECT_EQ(b.size(), 8u);
}

TEST(ReadBuffer, ReleasedBlockIsReusedByTheNextLinkOnTheThread) {
  // Run on a fresh thread: its stock starts empty.
  std::thread([] {
    const std::uint8_t* first = nullptr;
    {
      read_buffer a{4096, 1 << 20};
      first = a.prepare().data();
      a.release_if_empty();
      EXPECT_EQ(detail::block_stock::held(), 1u);
    }
    read_buffer b{4096, 1 << 20};
    EXPECT_EQ(b.prepare().data(), first); // no allocation: the stocked block
    EXPECT_EQ(detail::block_stock::held(), 0u);
    fill(b, iota_bytes(100));
    EXPECT_EQ(b.data()[99], 99);
  }).join();
}

TEST(ReadBuffer, StockIsBoundedAndKeepsOnlyTheCommonSize) {
  std::thread([] {
    {
      std::vector<std::unique_ptr<read_buffer>> links;
      for (std::size_t i = 0; i < detail::block_stock::capacity + 10; ++i) {
        links.push_back(std::make_unique<read_buffer>(4096, 1 << 20));
        links.back()->prepare();
      }
    } // all destroyed holding a block: only `capacity` are kept
    EXPECT_EQ(detail::block_stock::held(), detail::block_stock::capacity);
    {
      read_buffer grown{4096, 1 << 20};
      for (int i = 0; i < 3; ++i) { // one packet larger than the buffer: it doubles
        auto space = grown.prepare();
        grown.commit(space.size());
      }
      EXPECT_GT(grown.capacity(), 4096u);
    } // a grown buffer is freed, not stocked (the stock took one block for its first read)
    EXPECT_EQ(detail::block_stock::held(), detail::block_stock::capacity);
  }).join();
}

} // namespace
} // namespace colony::transport
