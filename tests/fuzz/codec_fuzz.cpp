// libFuzzer harness for the codec: decode arbitrary bytes as an MQTT stream, and check that every
// packet the decoder accepts survives encode -> decode unchanged and that encoded_size() is exact.
//
// Input layout: byte 0 selects the stream's protocol version (bits 0-1: 0 = 3.1, 1 = 3.1.1,
// 2/3 = 5.0) and its maximum packet size (bits 2-7: 0 = MQTT's absolute maximum, n = 16 * n
// bytes); the rest is the byte stream.
#include "codec/decoder.hpp"
#include "codec/encoder.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

using namespace colony::codec;

namespace {

[[noreturn]] void fail(const char* what, const packet& p) {
  std::fprintf(stderr, "codec_fuzz: %s (packet type %u)\n", what,
               static_cast<unsigned>(type_of(p)));
  std::abort();
}

void check_round_trip(const packet& p, protocol_version v) {
  std::vector<std::uint8_t> buf{0xA5}; // encode() appends: keep a byte in front to prove it
  encode(p, v, buf);
  if (buf.size() - 1 != encoded_size(p, v)) {
    fail("encoded_size() differs from the bytes encode() appended", p);
  }
  if (buf[0] != 0xA5) {
    fail("encode() overwrote existing output", p);
  }
  // Everything the decoder accepted is valid, so its re-encoding must decode to the same packet
  // (normalisation only drops optional bytes such as a Success reason code).
  stream_decoder d;
  d.set_version(v);
  const auto encoded = std::span<const std::uint8_t>(buf).subspan(1);
  decode_result r = d.next(encoded);
  if (r.status != decode_status::packet) {
    fail("the re-encoded packet does not decode", p);
  }
  if (r.used != encoded.size()) {
    fail("the re-encoded packet decodes with a different length", p);
  }
  if (!(r.pkt == p)) {
    fail("decode(encode(p)) != p", p);
  }
  if (type_of(p) == packet_type::publish) {
    const auto& pub = std::get<publish>(p);
    if (publish_size(v, pub.qos, pub.topic, &pub.props, pub.payload) != encoded.size()) {
      fail("publish_size() differs from encode()", p);
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::uint8_t selector = data[0];
  static constexpr protocol_version versions[] = {protocol_version::v3_1, protocol_version::v3_1_1,
                                                  protocol_version::v5, protocol_version::v5};
  const std::size_t max_size =
      (selector >> 2) == 0 ? absolute_max_packet_size : std::size_t{16} * (selector >> 2);

  stream_decoder decoder(max_size);
  decoder.set_version(versions[selector & 0x03]);
  std::span<const std::uint8_t> input(data + 1, size - 1);
  while (true) {
    decode_result r = decoder.next(input);
    if (r.status != decode_status::packet) {
      if (r.status == decode_status::error && r.error == reason_code::success) {
        std::fprintf(stderr, "codec_fuzz: error status without a reason code\n");
        std::abort();
      }
      break;
    }
    if (r.used == 0 || r.used > input.size() || r.used > max_size) {
      std::fprintf(stderr, "codec_fuzz: bad used=%zu (input %zu)\n", r.used, input.size());
      std::abort();
    }
    check_round_trip(r.pkt, decoder.version());
    input = input.subspan(r.used);
  }
  return 0;
}
