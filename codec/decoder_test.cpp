// Stream decoding: incremental input, several packets per buffer, early rejection from the fixed
// header, protocol version learned from CONNECT.
#include "codec_test_util.hpp"

#include <memory>

using namespace colony::codec;
using namespace colony::codec::test;

namespace {

constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

/// Valid packets in the version they are decoded in (hand-written, see golden_test.cpp).
const std::pair<const char*, protocol_version> valid_packets[] = {
    {"10 20 00 04 4d 51 54 54 04 ce 00 0a 00 03 63 69 64 00 01 74 00 02 68 69 00 04 75 73 65 72"
     "00 02 70 77",
     v311},
    {"10 29 00 04 4d 51 54 54 05 06 00 3c 0f 11 00 00 00 3c 21 00 0a 26 00 01 6b 00 01 76 00 01 63"
     "05 18 00 00 00 05 00 01 77 00 01 78",
     v5},
    {"20 0a 00 00 07 22 00 10 24 01 25 00", v5},
    {"32 09 00 03 61 2f 62 00 0a 68 69", v311},
    {"35 17 00 03 61 2f 62 00 07 0d 02 00 00 00 1e 0b 01 0b c8 01 23 00 03 68 69", v5},
    {"50 08 00 02 80 04 1f 00 01 78", v5},
    {"82 0b 00 0a 02 0b 05 00 03 61 2f 62 2e", v5},
    {"90 05 00 0a 00 02 80", v311},
    {"a2 0a 00 0b 00 03 61 2f 62 00 01 63", v311},
    {"b0 05 00 0b 00 00 11", v5},
    {"c0 00", v311},
    {"e0 07 04 05 11 00 00 00 00", v5},
    {"f0 0a 18 08 15 00 05 53 43 52 4d 31", v5},
};

TEST(stream_decoder, need_more_for_every_prefix) {
  for (const auto& [text, v] : valid_packets) {
    const bytes full = hex(text);
    SCOPED_TRACE(to_hex(full));
    for (std::size_t n = 0; n < full.size(); ++n) {
      // An exact-size heap copy: AddressSanitizer reports any read past the prefix.
      const auto prefix = std::make_unique<std::uint8_t[]>(n);
      std::copy_n(full.begin(), n, prefix.get());
      stream_decoder d;
      d.set_version(v);
      const auto r = d.next(std::span<const std::uint8_t>(prefix.get(), n));
      EXPECT_EQ(r.status, decode_status::need_more) << "prefix of " << n << " bytes";
      EXPECT_EQ(r.used, 0u);
    }
    const auto r = decode_one(full, v);
    EXPECT_EQ(r.status, decode_status::packet);
    EXPECT_EQ(r.used, full.size());
  }
}

TEST(stream_decoder, byte_by_byte_feed) {
  // A caller that appends one byte at a time and retries gets each packet exactly once.
  const bytes stream = hex("32 09 00 03 61 2f 62 00 0a 68 69 c0 00 62 02 00 0a e0 00");
  stream_decoder d;
  bytes buffer;
  std::vector<packet_type> seen;
  for (const std::uint8_t b : stream) {
    buffer.push_back(b);
    const auto r = d.next(buffer);
    ASSERT_NE(r.status, decode_status::error);
    if (r.status == decode_status::packet) {
      seen.push_back(type_of(r.pkt));
      buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(r.used));
    }
  }
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(seen, (std::vector<packet_type>{packet_type::publish, packet_type::pingreq,
                                            packet_type::pubrel, packet_type::disconnect}));
}

TEST(stream_decoder, two_packets_in_one_buffer) {
  const bytes both = hex("30 07 00 03 61 2f 62 68 69 40 02 00 01");
  stream_decoder d;
  auto r1 = d.next(both);
  ASSERT_EQ(r1.status, decode_status::packet);
  EXPECT_EQ(r1.used, 9u);
  EXPECT_EQ(r1.pkt, packet(publish{.topic = "a/b", .payload = "hi"}));
  auto r2 = d.next(std::span<const std::uint8_t>(both).subspan(r1.used));
  ASSERT_EQ(r2.status, decode_status::packet);
  EXPECT_EQ(r2.used, 4u);
  EXPECT_EQ(r2.pkt, packet(puback{.packet_id = 1}));
  EXPECT_EQ(d.next(std::span<const std::uint8_t>(both).subspan(13)).status,
            decode_status::need_more);
}

TEST(stream_decoder, oversize_rejected_from_the_header_alone) {
  // Only the fixed header of a 268,435,455-byte PUBLISH: rejected before any body arrives.
  stream_decoder d(1024);
  const auto r = d.next(hex("30 ff ff ff 7f"));
  EXPECT_EQ(r.status, decode_status::error);
  EXPECT_EQ(r.error, reason_code::packet_too_large);

  // header (3) + remaining length (200) = 203 > 202: too large even though no body is present.
  stream_decoder small(202);
  EXPECT_EQ(small.next(hex("30 c8 01")).error, reason_code::packet_too_large);
  // Exactly at the limit is fine: need_more while the body is missing.
  stream_decoder exact(203);
  EXPECT_EQ(exact.next(hex("30 c8 01")).status, decode_status::need_more);
}

TEST(stream_decoder, max_packet_size_counts_the_whole_packet) {
  const bytes pkt = hex("30 07 00 03 61 2f 62 68 69"); // 9 bytes
  EXPECT_EQ(decode_one(pkt, v311, 9).status, decode_status::packet);
  EXPECT_EQ(decode_one(pkt, v311, 8).error, reason_code::packet_too_large);
  stream_decoder d;
  d.set_max_packet_size(8);
  EXPECT_EQ(d.max_packet_size(), 8u);
  EXPECT_EQ(d.next(pkt).error, reason_code::packet_too_large);
}

TEST(stream_decoder, five_byte_remaining_length_is_malformed) {
  stream_decoder d;
  // Rejected as soon as the 4th length byte shows a continuation bit.
  const auto r = d.next(hex("30 ff ff ff ff"));
  EXPECT_EQ(r.status, decode_status::error);
  EXPECT_EQ(r.error, reason_code::malformed_packet);
  EXPECT_EQ(d.next(hex("30 80 80 80 80 01")).error, reason_code::malformed_packet);
}

TEST(stream_decoder, bad_flags_rejected_before_the_body) {
  // PUBREL with flags 0000 and a body that has not arrived yet (MQTT-3.6.1-1).
  stream_decoder d;
  const auto r = d.next(hex("60 02"));
  EXPECT_EQ(r.status, decode_status::error);
  EXPECT_EQ(r.error, reason_code::malformed_packet);
  // PUBLISH QoS 3 (MQTT-3.3.1-4).
  EXPECT_EQ(d.next(hex("36 10")).error, reason_code::malformed_packet);
}

TEST(stream_decoder, version_learned_from_connect) {
  stream_decoder d; // starts as 3.1.1
  EXPECT_EQ(d.version(), v311);
  const bytes stream = hex("10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 63"
                           "30 05 00 01 74 00 78"); // v5 PUBLISH with Property Length 0
  std::span<const std::uint8_t> in(stream);
  auto r = d.next(in);
  ASSERT_EQ(r.status, decode_status::packet);
  EXPECT_EQ(std::get<connect>(r.pkt).version, v5);
  EXPECT_EQ(d.version(), v5);
  in = in.subspan(r.used);
  r = d.next(in);
  ASSERT_EQ(r.status, decode_status::packet);
  EXPECT_EQ(r.pkt, packet(publish{.topic = "t", .payload = "x"}));

  stream_decoder d31;
  d31.set_version(v5);
  ASSERT_EQ(d31.next(hex("10 10 00 06 4d 51 49 73 64 70 03 02 00 3c 00 02 63 31")).status,
            decode_status::packet);
  EXPECT_EQ(d31.version(), protocol_version::v3_1);
}

TEST(stream_decoder, same_bytes_differ_by_version) {
  // "40 03 00 01 10": a v5 PUBACK with reason code 0x10; a 3.1.1 PUBACK is exactly 2 bytes.
  const bytes b = hex("40 03 00 01 10");
  EXPECT_EQ(decode_ok(b, v5),
            packet(puback{.packet_id = 1, .code = reason_code::no_matching_subscribers}));
  EXPECT_EQ(decode_error(b, v311), reason_code::malformed_packet);
}

TEST(decode_fixed_header, fields) {
  fixed_header h;
  reason_code err = reason_code::success;
  ASSERT_EQ(decode_fixed_header(hex("3b 80 01"), absolute_max_packet_size, h, err),
            decode_status::packet);
  EXPECT_EQ(h.type, packet_type::publish);
  EXPECT_EQ(h.flags, 0x0b);
  EXPECT_EQ(h.remaining_length, 128u);
  EXPECT_EQ(h.header_size, 3u);

  ASSERT_EQ(decode_fixed_header(hex("30 ff ff ff 7f"), absolute_max_packet_size, h, err),
            decode_status::packet);
  EXPECT_EQ(h.remaining_length, 268'435'455u);
  EXPECT_EQ(h.header_size, 5u);

  EXPECT_EQ(decode_fixed_header({}, 100, h, err), decode_status::need_more);
  EXPECT_EQ(decode_fixed_header(hex("30"), 100, h, err), decode_status::need_more);
  EXPECT_EQ(decode_fixed_header(hex("30 80"), 100, h, err), decode_status::need_more);
  EXPECT_EQ(decode_fixed_header(hex("00"), 100, h, err), decode_status::error);
  EXPECT_EQ(err, reason_code::malformed_packet);
}

TEST(decode_packet, body_without_stream) {
  fixed_header h{.type = packet_type::puback, .flags = 0, .remaining_length = 2, .header_size = 2};
  const bytes body = hex("00 09");
  const auto r = decode_packet(h, body, v311);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, packet(puback{.packet_id = 9}));

  // A body whose size disagrees with the header is refused, not read past.
  h.remaining_length = 3;
  const auto bad = decode_packet(h, body, v311);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error(), reason_code::malformed_packet);

  // Flag rules apply here too (MQTT-2.2.2-2).
  fixed_header f{.type = packet_type::pingreq, .flags = 1, .remaining_length = 0, .header_size = 2};
  EXPECT_EQ(decode_packet(f, {}, v311).error(), reason_code::malformed_packet);
}

TEST(decoder, is_valid_reason_code) {
  EXPECT_TRUE(is_valid_reason_code(packet_type::puback, 0x10, v5));
  EXPECT_FALSE(is_valid_reason_code(packet_type::pubrel, 0x10, v5));
  EXPECT_TRUE(is_valid_reason_code(packet_type::pubrel, 0x92, v5));
  EXPECT_TRUE(is_valid_reason_code(packet_type::suback, 0xA2, v5));
  EXPECT_FALSE(is_valid_reason_code(packet_type::suback, 0xA2, v311));
  EXPECT_TRUE(is_valid_reason_code(packet_type::connack, 5, v311));
  EXPECT_FALSE(is_valid_reason_code(packet_type::connack, 6, v311));
  EXPECT_TRUE(is_valid_reason_code(packet_type::connack, 0x9F, v5));
  EXPECT_FALSE(is_valid_reason_code(packet_type::connack, 0x8B, v5));
  EXPECT_TRUE(is_valid_reason_code(packet_type::disconnect, 0x04, v5));
  EXPECT_TRUE(is_valid_reason_code(packet_type::auth, 0x19, v5));
  EXPECT_FALSE(is_valid_reason_code(packet_type::publish, 0x00, v5));
}

} // namespace
