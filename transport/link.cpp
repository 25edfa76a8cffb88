#include "transport/link.hpp"

namespace colony::transport {

std::string_view to_string(close_reason r) noexcept {
  switch (r) {
    case close_reason::peer_closed:
      return "peer_closed";
    case close_reason::io_error:
      return "io_error";
    case close_reason::protocol_error:
      return "protocol_error";
    case close_reason::keepalive_timeout:
      return "keepalive_timeout";
    case close_reason::connect_timeout:
      return "connect_timeout";
    case close_reason::server_close:
      return "server_close";
    case close_reason::shutdown:
      return "shutdown";
  }
  return "unknown";
}

} // namespace colony::transport
