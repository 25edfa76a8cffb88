#include "persistence/store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>

using namespace colony::persistence;
namespace fs = std::filesystem;

namespace {

class StoreTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path()
           / ("colony-store-test-" + std::to_string(::getpid()) + "-"
              + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    for (auto& p : fs::directory_iterator(dir_.parent_path()))
      if (p.path().string().rfind(dir_.string(), 0) == 0)
        fs::remove_all(p.path());
  }
  std::unique_ptr<store> open(durability mode = durability::sync) {
    return store::open(dir_.string(), mode, std::chrono::milliseconds{50});
  }
  stored_entry entry(std::uint64_t seq, std::string payload) {
    stored_entry e;
    e.seq = seq;
    e.incarnation = 3;
    e.msg.topic = "t/1";
    e.msg.payload = std::move(payload);
    e.msg.qos = 1;
    return e;
  }
  fs::path dir_;
};

} // namespace

TEST_F(StoreTest, WritesSurviveReopen) {
  {
    auto s = open();
    auto loaded = s->load();
    EXPECT_TRUE(loaded.sessions.empty());
    stored_session sess;
    sess.version = 5;
    sess.session_expiry = 100;
    sess.incarnation = 3;
    batch b;
    b.put(session_key("c1"), encode(sess));
    b.put(entry_key("c1", 10), encode(entry(10, "ten")));
    b.put(entry_key("c1", 5), encode(entry(5, "five")));
    b.put(entry_key("c1", 7), encode(entry(7, "seven")));
    b.put(inbound_key("c1", 9), {});
    stored_message r;
    r.topic = "r/1";
    r.payload = "kept";
    b.put(retained_key("r/1"), encode(r));
    std::atomic<bool> done{false};
    s->submit(std::move(b), [&] { done = true; });
    batch del;
    del.erase(entry_key("c1", 7));
    s->submit(std::move(del));
    s->close();
    EXPECT_TRUE(done);
  }
  auto s = open();
  auto loaded = s->load();
  ASSERT_EQ(loaded.sessions.size(), 1u);
  EXPECT_EQ(loaded.sessions[0].client_id, "c1");
  EXPECT_EQ(loaded.sessions[0].session_expiry, 100u);
  ASSERT_EQ(loaded.entries["c1"].size(), 2u);
  EXPECT_EQ(loaded.entries["c1"][0].seq, 5u); // in seq order
  EXPECT_EQ(loaded.entries["c1"][1].msg.payload, "ten");
  EXPECT_EQ(loaded.inbound["c1"], std::vector<std::uint16_t>{9});
  ASSERT_EQ(loaded.retained.size(), 1u);
  EXPECT_EQ(loaded.retained[0].payload, "kept");
  EXPECT_GT(loaded.last_alive_ms, 0);
  // New sequence numbers continue after the highest stored one.
  EXPECT_GT(s->next_seq(), 10u);
}

TEST_F(StoreTest, LoadLimitLeavesTheRestAsSeqs) {
  {
    auto s = open();
    (void)s->load();
    batch b;
    for (std::uint64_t i = 1; i <= 30; ++i)
      b.put(entry_key("many", i), encode(entry(i, "m")));
    s->submit(std::move(b));
  }
  auto s = open();
  auto loaded = s->load(10);
  EXPECT_EQ(loaded.entries["many"].size(), 10u);
  ASSERT_EQ(loaded.spilled["many"].size(), 20u);
  EXPECT_EQ(loaded.spilled["many"].front(), 11u);
  EXPECT_EQ(loaded.spilled["many"].back(), 30u);
  EXPECT_GT(s->next_seq(), 30u);
}

TEST_F(StoreTest, EraseRangeRemovesOneClientOnly) {
  auto s = open();
  (void)s->load();
  batch b;
  for (std::uint64_t i = 1; i <= 20; ++i) {
    b.put(entry_key("a", i), encode(entry(i, "a")));
    b.put(entry_key("ab", i), encode(entry(i, "ab")));
  }
  s->submit(std::move(b));
  batch del;
  auto [begin, end] = entry_range("a");
  del.erase_range(begin, end);
  s->submit(std::move(del));
  s->close();
  auto again = open();
  auto loaded = again->load();
  EXPECT_EQ(loaded.entries.count("a"), 0u);
  EXPECT_EQ(loaded.entries["ab"].size(), 20u);
}

TEST_F(StoreTest, ReadEntriesPagesInOrder) {
  auto s = open(durability::async);
  (void)s->load();
  batch b;
  for (std::uint64_t i = 1; i <= 50; ++i)
    b.put(entry_key("pager", i * 3), encode(entry(i * 3, std::to_string(i))));
  b.put(entry_key("pager2", 1), encode(entry(1, "other")));
  std::atomic<bool> done{false};
  s->submit(std::move(b), [&] { done = true; });
  while (!done)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  auto page = s->read_entries("pager", 31, 10);

  ASSERT_EQ(page.size(), 10u);
  EXPECT_EQ(page.front().seq, 33u);
  EXPECT_EQ(page.back().seq, 60u);
  auto rest = s->read_entries("pager", 148, 10);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].msg.payload, "50");
}

TEST_F(StoreTest, GetEntriesByExactSeq) {
  auto s = open(durability::async);
  (void)s->load();
  batch b;
  for (std::uint64_t i = 1; i <= 5; ++i)
    b.put(entry_key("g", i * 10), encode(entry(i * 10, std::to_string(i))));
  b.put(entry_key("g", 99), "garbage");
  std::atomic<bool> done{false};
  s->submit(std::move(b), [&] { done = true; });
  while (!done)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  auto got = s->get_entries("g", {20, 21, 50, 99});
  ASSERT_EQ(got.size(), 4u);
  ASSERT_TRUE(got[0]);
  EXPECT_EQ(got[0]->seq, 20u);
  EXPECT_EQ(got[0]->msg.payload, "2");
  EXPECT_FALSE(got[1]); // no such entry
  ASSERT_TRUE(got[2]);
  EXPECT_EQ(got[2]->msg.payload, "5");
  EXPECT_FALSE(got[3]); // does not decode
}

TEST_F(StoreTest, InsertErasedInTheSameGroupIsNeverWritten) {
  auto s = open(durability::sync);
  (void)s->load();
  batch b;
  b.insert(entry_key("c", 1), encode(entry(1, "acked in time")));
  b.insert(entry_key("c", 2), encode(entry(2, "stays")));
  b.put(entry_key("c", 2), encode(entry(2, "stays, updated")));
  b.insert(entry_key("c", 3), encode(entry(3, "updated then acked")));
  b.put(entry_key("c", 3), encode(entry(3, "x")));
  b.erase(entry_key("c", 1));
  b.erase(entry_key("c", 3));
  s->submit(std::move(b));
  s->close();
  EXPECT_EQ(s->cancelled(), 2u);
  auto again = open();
  auto loaded = again->load();
  ASSERT_EQ(loaded.entries["c"].size(), 1u);
  EXPECT_EQ(loaded.entries["c"][0].msg.payload, "stays, updated");
}

TEST_F(StoreTest, EraseInALaterGroupStillDeletes) {
  auto s = open(durability::sync);
  (void)s->load();
  batch b;
  b.insert(entry_key("c", 1), encode(entry(1, "x")));
  std::atomic<bool> done{false};
  s->submit(std::move(b), [&] { done = true; });
  while (!done)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  batch e;
  e.erase(entry_key("c", 1));
  s->submit(std::move(e));
  s->close();
  auto again = open();
  EXPECT_EQ(again->load().entries.count("c"), 0u);
}

TEST_F(StoreTest, EmptyBatchIsABarrier) {
  auto s = open(durability::sync);
  (void)s->load();
  batch b;
  b.put(entry_key("b", 1), encode(entry(1, "x")));
  s->submit(std::move(b));
  std::atomic<bool> seen{false};
  s->submit(batch{}, [&] { seen = s->get_entries("b", {1})[0].has_value(); });
  s->close();
  EXPECT_TRUE(seen); // the write before the barrier was applied when its callback ran
}

TEST_F(StoreTest, GroupCommitMergesConcurrentSubmissions) {
  auto s = open(durability::sync);
  (void)s->load();
  constexpr int threads = 4, per_thread = 200;
  std::atomic<int> done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        batch b;
        auto seq = static_cast<std::uint64_t>(t * per_thread + i + 1);
        b.put(entry_key("g", seq), encode(entry(seq, "x")));
        s->submit(std::move(b), [&] { ++done; });
      }
    });
  }
  for (auto& t : ts)
    t.join();
  s->close();
  EXPECT_EQ(done.load(), threads * per_thread);
  // Every submission was made durable, but not with one fsync each.
  EXPECT_LT(s->syncs(), static_cast<std::uint64_t>(threads * per_thread));
  auto again = open();
  EXPECT_EQ(again->load().entries["g"].size(), static_cast<std::size_t>(threads * per_thread));
}

TEST_F(StoreTest, UndecodableRecordsAreDroppedAndDeleted) {
  {
    auto s = open();
    (void)s->load();
    batch b;
    b.put(entry_key("c", 1), "garbage");
    b.put(session_key("c"), "\x01\x09");
    b.put("zz-unknown", "1");
    b.put(entry_key("c", 2), encode(entry(2, "good")));
    s->submit(std::move(b));
  }
  {
    auto s = open();
    auto loaded = s->load();
    EXPECT_EQ(loaded.dropped, 3u);
    EXPECT_EQ(loaded.entries["c"].size(), 1u);
  }
  auto s = open();
  EXPECT_EQ(s->load().dropped, 0u); // deleted by the previous load
}

TEST_F(StoreTest, ScribbledFilesNeverStopTheStore) {
  {
    auto s = open();
    (void)s->load();
    for (int round = 0; round < 4; ++round) {
      batch b;
      for (std::uint64_t i = 1; i <= 500; ++i)
        b.put(entry_key("c" + std::to_string(round), i), encode(entry(i, std::string(100, 'p'))));
      s->submit(std::move(b));
    }
  }
  // Overwrite the middle of every file with random bytes.
  std::mt19937 rng{7};
  for (auto& p : fs::directory_iterator(dir_)) {
    if (!p.is_regular_file() || p.file_size() < 64)
      continue;
    std::fstream f{p.path(), std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(static_cast<std::streamoff>(p.file_size() / 2));
    for (int i = 0; i < 64; ++i)
      f.put(static_cast<char>(rng()));
  }
  auto s = open();
  auto loaded = s->load(); // recovered, repaired or started afresh, never thrown
  batch b;
  b.put(entry_key("after", 1), encode(entry(1, "after")));
  s->submit(std::move(b));
  s->close();
  auto again = open();
  EXPECT_EQ(again->load().entries["after"].size(), 1u);
}

TEST_F(StoreTest, TruncatedLogKeepsTheValidPrefix) {
  {
    auto s = open();
    (void)s->load();
    for (std::uint64_t i = 1; i <= 100; ++i) {
      batch b;
      b.put(entry_key("t", i), encode(entry(i, "m")));
      s->submit(std::move(b));
    }
  }
  for (auto& p : fs::directory_iterator(dir_)) {
    if (p.path().extension() == ".log" && p.file_size() > 100)
      fs::resize_file(p.path(), p.file_size() - 37);
  }
  auto s = open();
  auto loaded = s->load();
  EXPECT_LE(loaded.entries["t"].size(), 100u);
  // What survived is a prefix: no holes.
  std::uint64_t expect = 1;
  for (auto& e : loaded.entries["t"])
    EXPECT_EQ(e.seq, expect++);
}
