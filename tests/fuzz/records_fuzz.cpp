// libFuzzer target for the persistent store's record decoders: whatever bytes a damaged store
// holds, decoding never crashes, and what decodes re-encodes to something that decodes equal.
#include "persistence/records.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace colony::persistence;

namespace {

template <class T>
void round_trip(std::string_view bytes) {
  T value{};
  if (!decode(bytes, value))
    return;
  T again{};
  if (!decode(encode(value), again))
    std::abort();
  if constexpr (requires { value.seq; })
    again.seq = value.seq;
  if constexpr (requires { value.client_id; })
    again.client_id = value.client_id;
  if (!(again == value))
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  std::string_view bytes{reinterpret_cast<const char*>(data + 1), size - 1};
  switch (data[0] % 5) {
    case 0:
      round_trip<stored_session>(bytes);
      break;
    case 1:
      round_trip<stored_entry>(bytes);
      break;
    case 2:
      round_trip<stored_message>(bytes);
      break;
    case 3: {
      std::string client;
      std::uint64_t seq = 0;
      if (parse_entry_key(bytes, client, seq) && entry_key(client, seq) != bytes)
        std::abort();
      break;
    }
    default: {
      std::string client;
      std::uint16_t id = 0;
      if (parse_inbound_key(bytes, client, id) && inbound_key(client, id) != bytes)
        std::abort();
      break;
    }
  }
  return 0;
}
