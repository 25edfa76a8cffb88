#include "persistence/records.hpp"

#include <gtest/gtest.h>

using namespace colony::persistence;

namespace {

stored_message sample_message() {
  stored_message m;
  m.topic = "sensors/7/temp";
  m.payload = std::string("21.5\0bin", 8);
  m.qos = 2;
  m.retain = true;
  m.props.content_type = "text/plain";
  m.props.correlation_data = std::string("\x01\x00\x02", 3);
  m.props.user_properties = {{"b", "2"}, {"a", "1"}, {"b", "3"}}; // order kept (MQTT-3.3.2-18)
  m.props.payload_format_indicator = 0;
  m.expires_at_ms = 1'800'000'000'123;
  return m;
}

} // namespace

TEST(Records, MessageRoundTrip) {
  auto m = sample_message();
  stored_message back;
  ASSERT_TRUE(decode(encode(m), back));
  EXPECT_EQ(back, m);
}

TEST(Records, EntryRoundTripKeepsStageAndIds) {
  stored_entry e;
  e.incarnation = 42;
  e.packet_id = 513;
  e.stage = entry_stage::await_pubcomp;
  e.qos = 2;
  e.retain = true;
  e.subscription_ids = {7, 268435455};
  e.shared_key = std::string("group\x1f" "a/+", 9);
  e.msg = sample_message();
  stored_entry back;
  ASSERT_TRUE(decode(encode(e), back));
  back.seq = e.seq;
  EXPECT_EQ(back, e);
}

TEST(Records, SessionRoundTripWithWill) {
  stored_session s;
  s.version = 5;
  s.session_expiry = 0xFFFFFFFF;
  s.incarnation = 9;
  s.disconnected_at_ms = 1'700'000'000'000;
  s.subscriptions.push_back({"a/#", "", {1, true, false, 2}, 0});
  s.subscriptions.push_back({"b/+", "g1", {2, false, true, 0}, 77});
  colony::codec::will w;
  w.topic = "clients/x/status";
  w.payload = "gone";
  w.qos = 1;
  w.retain = true;
  w.props.will_delay_interval = 30;
  w.props.user_properties = {{"k", "v"}};
  s.will = w;
  s.will_due_ms = 1'700'000'030'000;
  stored_session back;
  ASSERT_TRUE(decode(encode(s), back));
  back.client_id = s.client_id;
  EXPECT_EQ(back, s);
}

TEST(Records, SessionWithoutWill) {
  stored_session s;
  s.version = 4;
  s.session_expiry = 60;
  stored_session back;
  ASSERT_TRUE(decode(encode(s), back));
  EXPECT_FALSE(back.will.has_value());
  EXPECT_EQ(back.session_expiry, 60u);
}

TEST(Records, EveryTruncationIsRejected) {
  // A half-written value must never decode into something else.
  stored_entry e;
  e.packet_id = 0;
  e.stage = entry_stage::queued;
  e.msg = sample_message();
  auto bytes = encode(e);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    stored_entry back;
    EXPECT_FALSE(decode(std::string_view{bytes}.substr(0, n), back)) << "length " << n;
  }
  stored_entry back;
  EXPECT_FALSE(decode(bytes + "x", back)) << "trailing byte";
}

TEST(Records, ScribbledBytesNeverCrash) {
  auto bytes = encode(sample_message());
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = bytes;
      copy[i] = static_cast<char>(copy[i] ^ (1 << bit));
      stored_message back;
      if (decode(copy, back))
        ++accepted; // a flipped payload bit is still a valid message
    }
  }
  EXPECT_LT(accepted, bytes.size() * 8);
}

TEST(Records, InvalidFieldsAreRejected) {
  stored_entry e;
  e.packet_id = 5;
  e.stage = entry_stage::await_puback;
  e.msg = sample_message();
  auto bytes = encode(e);
  stored_entry back;
  auto bad_stage = bytes;
  bad_stage[1 + 8 + 2] = 9; // stage byte after format, incarnation, packet id
  EXPECT_FALSE(decode(bad_stage, back));
  e.packet_id = 0; // a sent message must have a packet id
  EXPECT_FALSE(decode(encode(e), back));
  auto bad_format = bytes;
  bad_format[0] = 2;
  EXPECT_FALSE(decode(bad_format, back));
}

TEST(Records, KeysSortBySeqAndParse) {
  auto a = entry_key("client", 2);
  auto b = entry_key("client", 256);
  auto c = entry_key("client", 1ull << 40);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  auto [begin, end] = entry_range("client");
  EXPECT_LE(begin, a);
  EXPECT_LT(c, end);
  // Another client whose id extends this one is outside the range.
  EXPECT_FALSE(entry_key("client2", 1) >= begin && entry_key("client2", 1) < end);
  std::string id;
  std::uint64_t seq = 0;
  ASSERT_TRUE(parse_entry_key(b, id, seq));
  EXPECT_EQ(id, "client");
  EXPECT_EQ(seq, 256u);
  std::uint16_t pid = 0;
  ASSERT_TRUE(parse_inbound_key(inbound_key("c/x", 65535), id, pid));
  EXPECT_EQ(id, "c/x");
  EXPECT_EQ(pid, 65535);
  EXPECT_FALSE(parse_entry_key("q", id, seq));
  EXPECT_FALSE(parse_entry_key(session_key("client"), id, seq));
}
