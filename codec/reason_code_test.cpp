// Reason code names and the MQTT 5 -> 3.1.1 CONNACK mapping.
#include "codec/reason_code.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>

using namespace colony::codec;

namespace {

TEST(reason_code, names_from_the_spec) {
  EXPECT_EQ(to_string(reason_code::success), "Success");
  EXPECT_EQ(to_string(reason_code::malformed_packet), "Malformed Packet");
  EXPECT_EQ(to_string(reason_code::protocol_error), "Protocol Error");
  EXPECT_EQ(to_string(reason_code::packet_too_large), "Packet too large");
  EXPECT_EQ(to_string(reason_code::topic_name_invalid), "Topic Name invalid");
  EXPECT_EQ(to_string(reason_code::wildcard_subscriptions_not_supported),
            "Wildcard Subscriptions not supported");
  EXPECT_EQ(to_string(static_cast<reason_code>(0x03)), "Unknown");
  EXPECT_EQ(to_string(static_cast<reason_code>(0xFF)), "Unknown");
}

TEST(reason_code, is_error) {
  EXPECT_FALSE(is_error(reason_code::success));
  EXPECT_FALSE(is_error(reason_code::granted_qos_2));
  EXPECT_FALSE(is_error(reason_code::re_authenticate));
  EXPECT_TRUE(is_error(reason_code::unspecified_error));
  EXPECT_TRUE(is_error(reason_code::wildcard_subscriptions_not_supported));
}

TEST(reason_code, known_codes) {
  // MQTT 5 §2.4 defines exactly these values.
  const unsigned known[] = {0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x18, 0x19, 0x80, 0x81, 0x82,
                            0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8D,
                            0x8E, 0x8F, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
                            0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
  unsigned count = 0;
  for (unsigned v = 0; v < 256; ++v) {
    const bool expected = std::find(std::begin(known), std::end(known), v) != std::end(known);
    EXPECT_EQ(is_known_reason_code(static_cast<std::uint8_t>(v)), expected) << std::hex << v;
    count += expected;
  }
  EXPECT_EQ(count, 43u);
}

TEST(reason_code, v3_connack_return_codes) {
  using crc = connect_return_code;
  EXPECT_EQ(to_v3_return_code(reason_code::success), crc::accepted);
  EXPECT_EQ(to_v3_return_code(reason_code::connection_rate_exceeded), crc::server_unavailable);
  EXPECT_EQ(to_v3_return_code(reason_code::unsupported_protocol_version),
            crc::unacceptable_protocol_version);
  EXPECT_EQ(to_v3_return_code(reason_code::client_identifier_not_valid), crc::identifier_rejected);
  EXPECT_EQ(to_v3_return_code(reason_code::server_unavailable), crc::server_unavailable);
  EXPECT_EQ(to_v3_return_code(reason_code::server_busy), crc::server_unavailable);
  EXPECT_EQ(to_v3_return_code(reason_code::server_shutting_down), crc::server_unavailable);
  EXPECT_EQ(to_v3_return_code(reason_code::bad_user_name_or_password),
            crc::bad_user_name_or_password);
  EXPECT_EQ(to_v3_return_code(reason_code::not_authorized), crc::not_authorized);
  EXPECT_EQ(to_v3_return_code(reason_code::banned), crc::not_authorized);
  EXPECT_EQ(to_v3_return_code(reason_code::unspecified_error), crc::not_authorized);
  EXPECT_EQ(to_v3_return_code(reason_code::malformed_packet), crc::not_authorized);
  EXPECT_EQ(to_v3_return_code(reason_code::quota_exceeded), crc::not_authorized);
}

} // namespace
