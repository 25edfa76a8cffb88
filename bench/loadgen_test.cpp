// Unit tests for the load generator's correctness logic: MQTT wire encoding
// and decoding, payload header, sequence tracking, latency histogram, options.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "mqtt_wire.hpp"
#include "options.hpp"
#include "stats.hpp"

namespace {

using namespace colony::bench;
namespace wire = colony::bench::mqtt;
using Bytes = wire::Bytes;

Bytes bytes(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(static_cast<std::uint8_t>(x));
  return b;
}

// ---- remaining length ------------------------------------------------------------

TEST(WireRemainingLength, BoundaryEncodings) {
  // Examples from MQTT 3.1.1 table 2.4.
  const std::vector<std::pair<std::uint32_t, Bytes>> cases = {
      {0, bytes({0x00})},
      {127, bytes({0x7F})},
      {128, bytes({0x80, 0x01})},
      {16'383, bytes({0xFF, 0x7F})},
      {16'384, bytes({0x80, 0x80, 0x01})},
      {2'097'151, bytes({0xFF, 0xFF, 0x7F})},
      {2'097'152, bytes({0x80, 0x80, 0x80, 0x01})},
      {268'435'455, bytes({0xFF, 0xFF, 0xFF, 0x7F})},
  };
  for (const auto& [len, expected] : cases) {
    Bytes out;
    wire::append_remaining_length(out, len);
    EXPECT_EQ(out, expected) << len;
    EXPECT_EQ(wire::remaining_length_size(len), expected.size()) << len;
  }
}

TEST(WireFraming, ParsesLengthsRoundTrip) {
  for (std::uint32_t len : {0u, 1u, 127u, 128u, 300u, 16'384u, 70'000u}) {
    Bytes pkt{0x30};
    wire::append_remaining_length(pkt, len);
    const std::size_t header = pkt.size();
    pkt.resize(header + len, 0xAB);
    const auto r = wire::parse_frame(pkt);
    ASSERT_EQ(r.status, wire::ParseStatus::ok) << len;
    EXPECT_EQ(r.frame.total_size, pkt.size());
    EXPECT_EQ(r.frame.body.size(), len);
    EXPECT_EQ(r.frame.type(), wire::PacketType::publish);
  }
}

TEST(WireFraming, EveryPrefixNeedsMore) {
  Bytes pkt;
  wire::append_publish(pkt, "a/b", 1, 7, {}, 200);
  for (std::size_t n = 0; n < pkt.size(); ++n) {
    const auto r = wire::parse_frame(wire::ByteView(pkt.data(), n));
    EXPECT_EQ(r.status, wire::ParseStatus::need_more) << n;
  }
  EXPECT_EQ(wire::parse_frame(pkt).status, wire::ParseStatus::ok);
}

TEST(WireFraming, TwoPacketsBackToBack) {
  Bytes s;
  wire::append_puback(s, 1);
  wire::append_pingreq(s);
  auto r = wire::parse_frame(s);
  ASSERT_EQ(r.status, wire::ParseStatus::ok);
  EXPECT_EQ(r.frame.type(), wire::PacketType::puback);
  EXPECT_EQ(r.frame.total_size, 4u);
  r = wire::parse_frame(wire::ByteView(s).subspan(4));
  ASSERT_EQ(r.status, wire::ParseStatus::ok);
  EXPECT_EQ(r.frame.type(), wire::PacketType::pingreq);
}

TEST(WireFraming, RejectsFiveByteLengthAndOversize) {
  const Bytes five = bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01});
  EXPECT_EQ(wire::parse_frame(five).status, wire::ParseStatus::malformed);
  Bytes big{0x30};
  wire::append_remaining_length(big, 1000);
  EXPECT_EQ(wire::parse_frame(big, 999).status, wire::ParseStatus::malformed);
  EXPECT_EQ(wire::parse_frame(big, 1000).status, wire::ParseStatus::need_more);
}

// ---- encoders: exact bytes -------------------------------------------------------------

TEST(WireEncode, Connect) {
  Bytes out;
  wire::append_connect(out, {.client_id = "ab", .keep_alive_s = 300, .clean_session = true});
  const Bytes expected = bytes({0x10, 14,                            // CONNECT, remaining 14
                                0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,  // protocol name, level 4
                                0x02,                                  // clean session
                                0x01, 0x2C,                            // keep alive 300
                                0x00, 0x02, 'a', 'b'});               // client id
  EXPECT_EQ(out, expected);
}

TEST(WireEncode, ConnectWithoutCleanSession) {
  Bytes out;
  wire::append_connect(out, {.client_id = "", .keep_alive_s = 0, .clean_session = false});
  EXPECT_EQ(out[9], 0x00);
  EXPECT_EQ(out.size(), 14u);
}

TEST(WireEncode, Subscribe) {
  Bytes out;
  wire::append_subscribe(out, 0x0102, "a/#", 1);
  const Bytes expected = bytes({0x82, 8, 0x01, 0x02, 0x00, 0x03, 'a', '/', '#', 0x01});
  EXPECT_EQ(out, expected);
}

TEST(WireEncode, PublishQos0AndQos1) {
  const Bytes head = bytes({1, 2, 3});
  Bytes q0;
  wire::append_publish(q0, "t", 0, 99, head, 2);
  EXPECT_EQ(q0, bytes({0x30, 8, 0x00, 0x01, 't', 1, 2, 3, 'x', 'x'}));  // no packet id at QoS 0
  Bytes q1;
  wire::append_publish(q1, "t", 1, 0x0A0B, head, 0, /*dup=*/true, /*retain=*/true);
  EXPECT_EQ(q1, bytes({0x3B, 8, 0x00, 0x01, 't', 0x0A, 0x0B, 1, 2, 3}));
}

TEST(WireEncode, SmallPackets) {
  Bytes out;
  wire::append_puback(out, 0xBEEF);
  wire::append_pingreq(out);
  wire::append_disconnect(out);
  EXPECT_EQ(out, bytes({0x40, 0x02, 0xBE, 0xEF, 0xC0, 0x00, 0xE0, 0x00}));
}

TEST(WireEncode, LargePublishUsesMultiByteLength) {
  Bytes out;
  wire::append_publish(out, "topic", 0, 0, {}, 100'000);
  const auto r = wire::parse_frame(out);
  ASSERT_EQ(r.status, wire::ParseStatus::ok);
  EXPECT_EQ(r.frame.body.size(), 2u + 5u + 100'000u);
  EXPECT_EQ(r.frame.total_size, out.size());
  EXPECT_EQ(r.frame.total_size - r.frame.body.size(), 1u + 3u);
}

// ---- decoders ------------------------------------------------------------------------------

TEST(WireDecode, Connack) {
  auto a = wire::decode_connack(bytes({0x01, 0x00}));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->session_present);
  EXPECT_EQ(a->return_code, 0);
  a = wire::decode_connack(bytes({0x00, 0x05}));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->return_code, 5);
  EXPECT_STREQ(wire::connack_reason(5), "not authorized");
  EXPECT_FALSE(wire::decode_connack(bytes({0x00})));
  EXPECT_FALSE(wire::decode_connack(bytes({0x02, 0x00})));  // reserved bit
}

TEST(WireDecode, Suback) {
  const auto s = wire::decode_suback(bytes({0x12, 0x34, 0x01, 0x80}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->packet_id, 0x1234);
  EXPECT_EQ(s->return_codes, bytes({0x01, 0x80}));
  EXPECT_FALSE(wire::decode_suback(bytes({0x00, 0x01})));        // no return code
  EXPECT_FALSE(wire::decode_suback(bytes({0x00, 0x01, 0x03})));  // invalid code
}

TEST(WireDecode, PublishRoundTrip) {
  const Bytes head = bytes({9, 8, 7, 6});
  for (std::uint8_t qos : {0, 1}) {
    Bytes pkt;
    wire::append_publish(pkt, "bench/in/3", qos, 42, head, 10);
    const auto r = wire::parse_frame(pkt);
    ASSERT_EQ(r.status, wire::ParseStatus::ok);
    const auto p = wire::decode_publish(r.frame.flags(), r.frame.body);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->topic, "bench/in/3");
    EXPECT_EQ(p->qos, qos);
    EXPECT_EQ(p->packet_id, qos ? 42 : 0);
    ASSERT_EQ(p->payload.size(), 14u);
    EXPECT_TRUE(std::equal(head.begin(), head.end(), p->payload.begin()));
    EXPECT_EQ(p->payload[4], 'x');
    EXPECT_FALSE(p->dup);
    EXPECT_FALSE(p->retain);
  }
}

TEST(WireDecode, PublishRejectsBadInput) {
  EXPECT_FALSE(wire::decode_publish(0x06, bytes({0x00, 0x01, 't'})));        // QoS 3
  EXPECT_FALSE(wire::decode_publish(0x02, bytes({0x00, 0x01, 't', 0, 0})));  // packet id 0
  EXPECT_FALSE(wire::decode_publish(0x02, bytes({0x00, 0x01, 't', 0})));     // truncated id
  EXPECT_FALSE(wire::decode_publish(0x00, bytes({0x00, 0x05, 't'})));        // truncated topic
  EXPECT_FALSE(wire::decode_publish(0x00, bytes({0x00})));
  const auto empty = wire::decode_publish(0x00, bytes({0x00, 0x01, 't'}));   // empty payload is fine
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->payload.empty());
}

TEST(WireDecode, Puback) {
  EXPECT_EQ(wire::decode_puback(bytes({0x00, 0x07})), std::optional<std::uint16_t>(7));
  EXPECT_FALSE(wire::decode_puback(bytes({0x00})));
  EXPECT_FALSE(wire::decode_puback(bytes({0x00, 0x01, 0x02})));
}

// ---- payload header --------------------------------------------------------------------

TEST(PayloadHeader, RoundTripAndLayout) {
  PayloadHeader h;
  h.flags = PayloadHeader::kFlagWarmup;
  h.publisher_id = 0x01020304;
  h.seq = 0x1122334455667788ULL;
  h.timestamp_ns = 0x0A0B0C0D0E0F1011ULL;
  const auto b = h.encode();
  EXPECT_EQ(b[0], 0xC0);
  EXPECT_EQ(b[1], 0x1B);
  EXPECT_EQ(b[3], 0x01);
  EXPECT_EQ(b[4], 0x01);
  EXPECT_EQ(b[7], 0x04);
  EXPECT_EQ(b[8], 0x11);
  EXPECT_EQ(b[23], 0x11);
  const auto d = PayloadHeader::decode(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, h);
  EXPECT_TRUE(d->warmup());
}

TEST(PayloadHeader, DecodeIgnoresFillerAndRejectsGarbage) {
  PayloadHeader h;
  h.seq = 5;
  Bytes payload(64, 'x');
  const auto b = h.encode();
  std::copy(b.begin(), b.end(), payload.begin());
  const auto d = PayloadHeader::decode(payload);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->seq, 5u);
  EXPECT_FALSE(d->warmup());
  EXPECT_FALSE(PayloadHeader::decode(wire::ByteView(payload.data(), 23)));  // too short
  payload[0] = 0;
  EXPECT_FALSE(PayloadHeader::decode(payload));  // wrong magic
}

// ---- sequence tracking ------------------------------------------------------------------

TEST(SeqTracker, InOrderHasNoLoss) {
  SeqTracker t(64);
  for (std::uint64_t s = 0; s < 1000; ++s) EXPECT_EQ(t.on_receive(s), SeqTracker::Outcome::fresh);
  EXPECT_EQ(t.unique(), 1000u);
  EXPECT_EQ(t.duplicates(), 0u);
  EXPECT_EQ(t.base(), 1000u);
  EXPECT_EQ(t.lost(1000), 0u);
  // Messages written but never received at the tail count as lost.
  EXPECT_EQ(t.lost(1010), 10u);
}

TEST(SeqTracker, GapsAreLost) {
  SeqTracker t(64);
  for (std::uint64_t s = 0; s < 100; ++s)
    if (s % 10 != 3) t.on_receive(s);  // 3, 13, ..., 93 missing
  EXPECT_EQ(t.unique(), 90u);
  EXPECT_EQ(t.lost(100), 10u);
  EXPECT_FALSE(t.received(13));
  EXPECT_TRUE(t.received(14));
  EXPECT_EQ(t.missing_below(50), 5u);
  EXPECT_EQ(t.missing_below(0), 0u);
}

TEST(SeqTracker, Duplicates) {
  SeqTracker t(64);
  t.on_receive(0);
  t.on_receive(1);
  EXPECT_EQ(t.on_receive(1), SeqTracker::Outcome::duplicate);  // below base
  t.on_receive(5);
  EXPECT_EQ(t.on_receive(5), SeqTracker::Outcome::duplicate);  // inside the window
  EXPECT_EQ(t.unique(), 3u);
  EXPECT_EQ(t.duplicates(), 2u);
  EXPECT_EQ(t.lost(6), 3u);  // 2, 3, 4
}

TEST(SeqTracker, ReorderingWithinWindowIsNotLoss) {
  SeqTracker t(64);
  for (std::uint64_t s : {1, 0, 3, 2, 6, 5, 4, 7}) EXPECT_EQ(t.on_receive(s), SeqTracker::Outcome::fresh);
  EXPECT_EQ(t.base(), 8u);
  EXPECT_EQ(t.lost(8), 0u);
}

TEST(SeqTracker, FarJumpRecordsGapAndLateArrivalRepairsIt) {
  SeqTracker t(64);
  t.on_receive(0);
  t.on_receive(1000);  // pushes the base to 937; 1..936 become missing
  EXPECT_EQ(t.base(), 1000u - 64u + 1u);
  EXPECT_EQ(t.lost(1001), 999u);
  EXPECT_EQ(t.on_receive(500), SeqTracker::Outcome::late);
  EXPECT_EQ(t.late(), 1u);
  EXPECT_TRUE(t.received(500));
  EXPECT_FALSE(t.received(499));
  EXPECT_FALSE(t.received(501));
  EXPECT_EQ(t.lost(1001), 998u);
  EXPECT_EQ(t.on_receive(500), SeqTracker::Outcome::duplicate);
  EXPECT_EQ(t.on_receive(1), SeqTracker::Outcome::late);    // edge of a range
  EXPECT_EQ(t.on_receive(936), SeqTracker::Outcome::late);  // other edge
  EXPECT_EQ(t.lost(1001), 996u);
}

TEST(SeqTracker, LostExcludesUnacknowledged) {
  SeqTracker t(64);
  for (std::uint64_t s = 0; s < 10; ++s)
    if (s != 4 && s != 9) t.on_receive(s);
  const std::vector<std::uint64_t> unacked = {9, 12};  // 12 was never written (>= end)
  EXPECT_EQ(t.lost(10), 2u);
  EXPECT_EQ(t.lost(10, unacked), 1u);  // only 4 is owed and missing
  const std::vector<std::uint64_t> received_anyway = {8};
  EXPECT_EQ(t.lost(10, received_anyway), 2u);
}

TEST(SeqTracker, RejectsAbsurdSeq) {
  SeqTracker t(64);
  EXPECT_EQ(t.on_receive(std::uint64_t{1} << 50), SeqTracker::Outcome::rejected);
  EXPECT_EQ(t.unique(), 0u);
  EXPECT_EQ(t.lost(0), 0u);
}

TEST(SeqTracker, RandomLossMatchesModel) {
  std::mt19937_64 rng(42);
  SeqTracker t(256);
  std::vector<bool> got(20'000, false);
  std::uint64_t dups = 0;
  for (std::uint64_t s = 0; s < got.size(); ++s) {
    if (rng() % 7 == 0) continue;  // lost
    t.on_receive(s);
    got[s] = true;
    if (rng() % 50 == 0) {
      t.on_receive(s);  // duplicate
      ++dups;
    }
  }
  const auto missing = static_cast<std::uint64_t>(std::count(got.begin(), got.end(), false));
  EXPECT_EQ(t.lost(got.size()), missing);
  EXPECT_EQ(t.unique() + missing, got.size());
  EXPECT_EQ(t.duplicates(), dups);
  for (std::uint64_t s = 0; s < got.size(); s += 17) EXPECT_EQ(t.received(s), got[s]) << s;
}

TEST(SeqTracker, MissingRangeCapKeepsCountExact) {
  SeqTracker t(64, /*max_missing_ranges=*/4);
  for (std::uint64_t s = 0; s < 200; s += 2) t.on_receive(s);  // every odd seq missing
  EXPECT_TRUE(t.missing_ranges_overflowed());
  EXPECT_EQ(t.lost(200), 100u);
}

// ---- latency histogram -------------------------------------------------------------------

TEST(LatencyHistogram, EmptyAndSingle) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.5), 0u);
  h.record(12345);
  EXPECT_EQ(h.percentile(0.0), 12345u);  // clamped to [min, max]
  EXPECT_EQ(h.percentile(0.5), 12345u);
  EXPECT_EQ(h.percentile(1.0), 12345u);
  EXPECT_EQ(h.max(), 12345u);
  EXPECT_EQ(h.min(), 12345u);
}

TEST(LatencyHistogram, BucketsTileTheRange) {
  EXPECT_EQ(LatencyHistogram::bucket_of(0), 0u);
  EXPECT_EQ(LatencyHistogram::bucket_of(31), 31u);
  EXPECT_EQ(LatencyHistogram::bucket_of(UINT64_MAX), LatencyHistogram::kBuckets - 1);
  for (std::size_t i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
    ASSERT_EQ(LatencyHistogram::bucket_high(i) + 1, LatencyHistogram::bucket_low(i + 1)) << i;
    ASSERT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::bucket_low(i)), i);
    ASSERT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::bucket_high(i)), i);
  }
  EXPECT_EQ(LatencyHistogram::bucket_high(LatencyHistogram::kBuckets - 1), UINT64_MAX);
}

TEST(LatencyHistogram, PercentilesWithinRelativeError) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 100'000; ++v) h.record(v * 10);  // 10 ns .. 1 ms
  auto near = [](std::uint64_t got, double want) {
    return std::abs(static_cast<double>(got) - want) <= want / 32.0 + 1;
  };
  EXPECT_TRUE(near(h.percentile(0.50), 500'000)) << h.percentile(0.50);
  EXPECT_TRUE(near(h.percentile(0.99), 990'000)) << h.percentile(0.99);
  EXPECT_TRUE(near(h.percentile(0.999), 999'000)) << h.percentile(0.999);
  EXPECT_EQ(h.max(), 1'000'000u);
  EXPECT_EQ(h.min(), 10u);
  EXPECT_NEAR(h.mean(), 500'005.0, 1.0);
}

TEST(LatencyHistogram, SkewedDistributionAndMerge) {
  LatencyHistogram a, b;
  for (int i = 0; i < 990; ++i) a.record(100);     // 99 % fast
  for (int i = 0; i < 10; ++i) b.record(50'000);   // 1 % slow
  a.merge(b);
  EXPECT_EQ(a.count(), 1000u);
  EXPECT_EQ(a.percentile(0.50), 100u);
  EXPECT_EQ(a.percentile(0.99), 100u);   // the 990th sample is still fast
  EXPECT_NEAR(static_cast<double>(a.percentile(0.995)), 50'000.0, 50'000.0 / 32);
  EXPECT_EQ(a.max(), 50'000u);
}

// ---- options -----------------------------------------------------------------------------

ParseOutcome parse(std::vector<std::string> args) { return parse_options(args); }

TEST(Options, Defaults) {
  const auto r = parse({});
  ASSERT_TRUE(r.options) << r.error;
  const Options& o = *r.options;
  EXPECT_EQ(o.scenario, Scenario::fanin);
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.publishers, 16);
  EXPECT_EQ(o.subscribers, 100);
  EXPECT_EQ(o.pairs, 500);
  EXPECT_EQ(o.connections, 10000);
  EXPECT_EQ(o.inflight, 64);
  EXPECT_EQ(o.payload, 64u);
  EXPECT_EQ(o.effective_rate(), 0.0);
  EXPECT_EQ(o.effective_keepalive(), 60);
}

TEST(Options, ScenarioDefaults) {
  auto r = parse({"--scenario", "pairs"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->effective_rate(), 20.0);
  r = parse({"--scenario=conn"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->effective_keepalive(), 300);
  r = parse({"--scenario", "pairs", "--rate", "5", "--keepalive=10"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->effective_rate(), 5.0);
  EXPECT_EQ(r.options->effective_keepalive(), 10);
}

TEST(Options, ParsesValues) {
  const auto r = parse({"--scenario", "fanout", "--qos", "1", "--duration", "2.5", "--port=1884",
                        "--label", "colony", "--threads", "2", "--verbose", "--host", "::1"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->scenario, Scenario::fanout);
  EXPECT_EQ(r.options->qos, 1);
  EXPECT_DOUBLE_EQ(r.options->duration_s, 2.5);
  EXPECT_EQ(r.options->port, 1884);
  EXPECT_EQ(r.options->label, "colony");
  EXPECT_EQ(r.options->threads, 2);
  EXPECT_TRUE(r.options->verbose);
}

TEST(Options, CleanSession) {
  EXPECT_TRUE(parse({}).options->clean_session);
  EXPECT_FALSE(parse({"--clean-session", "0"}).options->clean_session);
  EXPECT_TRUE(parse({"--clean-session", "1"}).options->clean_session);
}

TEST(Options, RejectsBadInput) {
  EXPECT_FALSE(parse({"--qos", "2"}).options);
  EXPECT_FALSE(parse({"--payload", "23"}).options);  // smaller than the payload header
  EXPECT_FALSE(parse({"--scenario", "storm"}).options);
  EXPECT_FALSE(parse({"--port"}).options);
  EXPECT_FALSE(parse({"--bogus", "1"}).options);
  EXPECT_FALSE(parse({"--duration", "abc"}).options);
  EXPECT_FALSE(parse({"--topic-prefix", "a/#"}).options);
  EXPECT_FALSE(parse({"--clean-session", "2"}).options);
  EXPECT_TRUE(parse({"--help"}).help);
  const auto r = parse({"--qos", "2"});
  EXPECT_NE(r.error.find("--qos"), std::string::npos);
}

TEST(Options, LoopbackOnly) {
  EXPECT_EQ(loopback_address("127.0.0.1"), std::optional<std::string>("127.0.0.1"));
  EXPECT_EQ(loopback_address("127.1.2.3"), std::optional<std::string>("127.1.2.3"));
  EXPECT_EQ(loopback_address("localhost"), std::optional<std::string>("127.0.0.1"));
  EXPECT_EQ(loopback_address("::1"), std::optional<std::string>("::1"));
  EXPECT_FALSE(loopback_address("128.0.0.1"));
  EXPECT_FALSE(loopback_address("10.0.0.1"));
  EXPECT_FALSE(loopback_address("0.0.0.0"));
  EXPECT_FALSE(loopback_address("::"));
  EXPECT_FALSE(loopback_address("broker.example.com"));
  EXPECT_FALSE(loopback_address(""));
  const auto r = parse({"--host", "192.168.1.10"});
  EXPECT_FALSE(r.options);
  EXPECT_NE(r.error.find("loopback"), std::string::npos);
}

}  // namespace
