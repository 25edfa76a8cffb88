// MQTT encoders: each packet laid out in spec order, size computed before writing.
#pragma once

#include "packets.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace colony::codec {

/// Appends the encoding of `p` for `version` to `out`. Fields that `version` lacks are left out
/// (3.1.x: properties and most reason codes). The packet must be valid (the broker builds it).
/// A CONNECT is written with the protocol name and level of `version`; connect::version is not
/// consulted (keep the two equal).
void encode(const packet& p, protocol_version version, std::vector<std::uint8_t>& out);

/// The number of bytes encode() would append.
std::size_t encoded_size(const packet& p, protocol_version version);

/// Appends a PUBLISH built from its parts without building a `publish` value (hot path: the
/// topic and payload are referenced, not copied into a struct). `props` may be null.
void encode_publish(std::vector<std::uint8_t>& out, protocol_version version, bool dup,
                    std::uint8_t qos, bool retain, std::string_view topic,
                    std::uint16_t packet_id, const properties* props, std::string_view payload);

/// Size of the PUBLISH encode_publish() would append.
std::size_t publish_size(protocol_version version, std::uint8_t qos, std::string_view topic,
                         const properties* props, std::string_view payload);

/// Appends a Variable Byte Integer (MQTT 5 §1.5.5). `value` must be < 268,435,456.
void encode_varint(std::uint32_t value, std::vector<std::uint8_t>& out);

/// Bytes a Variable Byte Integer of `value` takes (1..4).
std::size_t varint_size(std::uint32_t value) noexcept;

/// Byte length of the encoded property list of `props` (without its own length prefix).
std::size_t properties_size(const properties& props) noexcept;

} // namespace colony::codec
