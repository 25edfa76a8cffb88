#include "metrics/stats.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace colony::metrics;
namespace slot = colony::metrics::hot;

namespace {

std::uint64_t at(std::size_t i) {
  return hot::snapshot()[i];
}

} // namespace

TEST(hot_counters, packets_in_by_type_and_bytes) {
  auto p0 = at(hot::slot::packets_in + 3);
  auto b0 = at(hot::slot::bytes_in + 3);
  count_packet_in(3, 100);
  count_packet_in(3, 20);
  EXPECT_EQ(at(hot::slot::packets_in + 3) - p0, 2u);
  EXPECT_EQ(at(hot::slot::bytes_in + 3) - b0, 120u);
}

TEST(hot_counters, packets_out_are_split_by_header) {
  // CONNACK (4 bytes), PUBLISH with a 2-byte remaining length (200), PINGRESP (2 bytes).
  std::vector<std::uint8_t> out = {0x20, 0x02, 0x00, 0x00};
  out.push_back(0x30);
  out.push_back(0xC8); // 200 = 0x48 | 0x80, 0x01
  out.push_back(0x01);
  out.resize(out.size() + 200, 0x41);
  out.push_back(0xD0);
  out.push_back(0x00);
  auto connack = at(hot::slot::packets_out + 2);
  auto publish = at(hot::slot::packets_out + 3);
  auto publish_bytes = at(hot::slot::bytes_out + 3);
  auto pingresp = at(hot::slot::packets_out + 13);
  count_packets_out(out.data(), out.size());
  EXPECT_EQ(at(hot::slot::packets_out + 2) - connack, 1u);
  EXPECT_EQ(at(hot::slot::packets_out + 3) - publish, 1u);
  EXPECT_EQ(at(hot::slot::bytes_out + 3) - publish_bytes, 203u);
  EXPECT_EQ(at(hot::slot::packets_out + 13) - pingresp, 1u);
}

TEST(hot_counters, truncated_output_does_not_overrun) {
  std::vector<std::uint8_t> out = {0x30, 0xff, 0xff};
  auto b0 = at(hot::slot::bytes_out + 3);
  count_packets_out(out.data(), out.size());
  EXPECT_EQ(at(hot::slot::bytes_out + 3) - b0, 3u);
}

TEST(hot_counters, exited_threads_are_kept) {
  auto before = at(hot::slot::published + 1);
  std::thread t{[] {
    for (int i = 0; i < 1000; ++i)
      count_published(1);
  }};
  t.join();
  EXPECT_EQ(at(hot::slot::published + 1) - before, 1000u);
}

TEST(hot_counters, many_threads_sum) {
  auto before = at(hot::slot::delivered + 0);
  std::vector<std::thread> ts;
  for (int n = 0; n < 4; ++n)
    ts.emplace_back([] {
      for (int i = 0; i < 10000; ++i)
        count_delivered(0, 0);
    });
  for (auto& t : ts)
    t.join();
  EXPECT_EQ(at(hot::slot::delivered + 0) - before, 40000u);
}

TEST(hot_counters, latency_is_sampled) {
  auto c0 = at(hot::slot::latency_count);
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
               .count();
  for (int i = 0; i < 160; ++i)
    count_delivered(1, now);
  auto observed = at(hot::slot::latency_count) - c0;
  EXPECT_EQ(observed, 160u / (hot::latency_sample_mask + 1));
}

TEST(hot_counters, latency_buckets) {
  EXPECT_EQ(hot::latency_bucket_of(0), 0u);
  EXPECT_EQ(hot::latency_bucket_of(25'000), 0u);
  EXPECT_EQ(hot::latency_bucket_of(25'001), 1u);
  EXPECT_EQ(hot::latency_bucket_of(~0ull), hot::latency_buckets - 1);
}

TEST(hot_counters, drop_reasons) {
  EXPECT_EQ(hot::drop_reason_of("message expired"), hot::drop_reason::expired);
  EXPECT_EQ(hot::drop_reason_of("slow consumer: write buffer full"),
            hot::drop_reason::write_buffer_full);
  EXPECT_EQ(hot::drop_reason_of("session queue full"), hot::drop_reason::queue_full);
  EXPECT_EQ(hot::drop_reason_of("larger than the client's maximum packet size"),
            hot::drop_reason::too_large);
  EXPECT_EQ(hot::drop_reason_of("whatever"), hot::drop_reason::other);
  auto d0 = at(hot::slot::dropped + 2);
  count_dropped("session queue full");
  EXPECT_EQ(at(hot::slot::dropped + 2) - d0, 1u);
}

TEST(labeled, normalizes_and_sums) {
  labeled_counters c;
  c.add("Session taken over");
  c.add("session taken over");
  c.add("keepalive_timeout", 3);
  c.sub("mqtt");
  c.add("");
  auto s = c.snapshot();
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].first, "session_taken_over");
  EXPECT_EQ(s[0].second, 2);
  EXPECT_EQ(s[1].second, 3);
  EXPECT_EQ(s[2].first, "mqtt");
  EXPECT_EQ(s[2].second, -1);
  EXPECT_EQ(s[3].first, "unknown");
  EXPECT_EQ(labeled_counters::normalize("Bad User Name or Password!"),
            "bad_user_name_or_password");
}

TEST(labeled, counts_labels_past_capacity_as_other) {
  labeled_counters c;
  for (std::size_t i = 0; i < labeled_counters::capacity + 5; ++i)
    c.add("reason " + std::to_string(i));
  c.add("reason 0"); // a known label is still counted as itself
  auto s = c.snapshot();
  ASSERT_EQ(s.size(), labeled_counters::capacity);
  EXPECT_EQ(s[0].first, "reason_0");
  EXPECT_EQ(s[0].second, 2);
  EXPECT_EQ(s.back().first, "other");
  EXPECT_EQ(s.back().second, 6); // labels capacity-1 .. capacity+4
}

TEST(labeled, overflow_joins_an_other_label_seen_before) {
  labeled_counters c;
  c.add("Other");
  for (std::size_t i = 0; i < labeled_counters::capacity + 5; ++i)
    c.add("reason " + std::to_string(i));
  auto s = c.snapshot();
  std::size_t others = 0;
  std::int64_t other_value = 0;
  for (const auto& [k, v] : s)
    if (k == "other") {
      ++others;
      other_value = v;
    }
  EXPECT_EQ(others, 1u); // one series, or the exposition would repeat it
  // "other" itself, and the labels that found no room: capacity - 1 slots for the rest.
  EXPECT_EQ(other_value, 1 + static_cast<std::int64_t>(labeled_counters::capacity + 5)
                           - static_cast<std::int64_t>(s.size() - 1));
}

TEST(labeled, concurrent_adds_and_subs_balance) {
  labeled_counters c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&c, t] {
      for (int i = 0; i < 5000; ++i) {
        const std::string label = "listener " + std::to_string((i + t) % 7);
        c.add(label);
        c.sub(label);
        c.add("total");
      }
    });
  for (auto& th : threads)
    th.join();
  std::int64_t total = 0;
  for (const auto& [k, v] : c.snapshot()) {
    if (k == "total")
      total = v;
    else
      EXPECT_EQ(v, 0) << k;
  }
  EXPECT_EQ(total, 20000);
  EXPECT_EQ(c.snapshot().size(), 8u);
}

TEST(mailbox_depths, keeps_the_max_across_threads_until_taken) {
  mailbox_depths d;
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < 4; ++t)
    threads.emplace_back([&d, t] {
      for (std::uint64_t i = 0; i < 1000; ++i)
        d.sample(actor_kind::topic_shard, t * 1000 + i);
    });
  for (auto& th : threads)
    th.join();
  auto a = d.take();
  EXPECT_EQ(a[static_cast<std::size_t>(actor_kind::topic_shard)], 3999u);
  EXPECT_EQ(a[static_cast<std::size_t>(actor_kind::session)], 0u);
  auto b = d.take();
  EXPECT_EQ(b[static_cast<std::size_t>(actor_kind::topic_shard)], 0u);
}

TEST(hot_counters, bytes_read_are_summed) {
  auto before = bytes_read_total();
  count_bytes_read(100);
  std::thread([] { count_bytes_read(23); }).join();
  EXPECT_EQ(bytes_read_total() - before, 123u);
}
