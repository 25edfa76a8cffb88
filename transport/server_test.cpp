#include "transport/server.hpp"
#include "transport/stream_link.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

namespace colony::transport {
namespace {

struct quiet_handler : link_handler {
  void on_packets(packet_batch) override {}
  void on_drained() override {}
  void on_close(close_info) override {}
};

/// The server's socket of the TCP connection whose client end is `client` (both ends are in
/// this process), or -1.
int server_end_of(int client) {
  sockaddr_in mine{}, peer{};
  socklen_t len = sizeof mine;
  if (::getsockname(client, reinterpret_cast<sockaddr*>(&mine), &len) != 0)
    return -1;
  for (int fd = 0; fd < 4096; ++fd) {
    if (fd == client)
      continue;
    len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0)
      continue;
    if (peer.sin_family == AF_INET && peer.sin_port == mine.sin_port
        && peer.sin_addr.s_addr == mine.sin_addr.s_addr)
      return fd;
  }
  return -1;
}

/// A TCP listener on a free loopback port.
listener_options loopback_listener() {
  listener_options lo;
  lo.host = "127.0.0.1";
  lo.port = 0;
  return lo;
}

/// A blocking client socket connected to 127.0.0.1:`port`, or -1.
int connect_loopback(int port) {
  int c = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (c >= 0 && ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(c);
    return -1;
  }
  return c;
}

// The address text of accepted connections: IPv4 is formatted without inet_ntop(); it must
// read exactly as inet_ntop() writes it, and IPv6 keeps asio's form.
TEST(TransportServer, IpTextMatchesInetNtop) {
  std::uint32_t x = 0x12345678;
  for (int i = 0; i < 20000; ++i) {
    x = x * 1664525u + 1013904223u; // every byte value, in every position, over the run
    const std::uint32_t addr = i < 256 ? (static_cast<std::uint32_t>(i) * 0x01010101u) : x;
    in_addr in{};
    in.s_addr = htonl(addr);
    char expect[INET_ADDRSTRLEN];
    ASSERT_NE(::inet_ntop(AF_INET, &in, expect, sizeof expect), nullptr);
    EXPECT_EQ(detail::ip_to_string(boost::asio::ip::address_v4{addr}), expect);
  }
  EXPECT_EQ(detail::ip_to_string(boost::asio::ip::make_address("::1")), "::1");
  EXPECT_EQ(detail::format_address(detail::ip_to_string(boost::asio::ip::make_address("::1")), 80),
            "[::1]:80");
  EXPECT_EQ(detail::format_address("10.0.0.255", 1883), "10.0.0.255:1883");
}

// Accepted sockets get TCP_NODELAY (the listening sockets' setting is inherited, checked on the
// first one), with one I/O thread and with several (one listening socket each).
TEST(TransportServer, AcceptedTcpSocketsHaveNoDelay) {
  for (std::size_t threads : {1u, 2u}) {
    transport_options opts;
    opts.io_threads = threads;
    server srv{opts};
    std::promise<void> accepted_all;
    std::atomic<int> accepted{0};
    constexpr int clients = 6;
    std::string error;
    int port = srv.add_tcp_listener(
      loopback_listener(),
      [&](link_ptr) -> std::shared_ptr<link_handler> {
        if (++accepted == clients)
          accepted_all.set_value();
        return std::make_shared<quiet_handler>();
      },
      error);
    ASSERT_GT(port, 0) << error;
    srv.start();
    std::vector<int> fds;
    for (int i = 0; i < clients; ++i) {
      int c = connect_loopback(port);
      ASSERT_GE(c, 0);
      fds.push_back(c);
    }
    ASSERT_EQ(accepted_all.get_future().wait_for(std::chrono::seconds(10)),
              std::future_status::ready);
    for (int c : fds) {
      int s = server_end_of(c);
      ASSERT_GE(s, 0);
      int on = 0;
      socklen_t len = sizeof on;
      ASSERT_EQ(::getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
      EXPECT_NE(on, 0) << "threads " << threads;
    }
    for (int c : fds)
      ::close(c);
    srv.stop();
  }
}

/// Notes the first batch (the CONNECT) and never lets the link go on: the CONNACK never comes.
struct connect_only_handler : link_handler {
  std::promise<void> got_connect;
  bool seen = false;
  void on_packets(packet_batch) override {
    if (!seen) {
      seen = true;
      got_connect.set_value();
    }
  }
  void on_drained() override {}
  void on_close(close_info) override {}
  link_ptr link; ///< held as a session holds it
};

// Until the CONNECT is answered the link reads at most once more, whatever the client sends
// meanwhile: a client cannot make the broker buffer unbounded input while its CONNECT waits for
// authentication. The client sends until its socket is full; what the server side took is what
// was sent minus what still sits in both sockets' queues.
TEST(TransportServer, ReadsAtMostOnceMoreWhileTheConnectIsUnanswered) {
  transport_options opts;
  opts.io_threads = 1;
  server srv{opts};
  auto handler = std::make_shared<connect_only_handler>();
  auto got_connect = handler->got_connect.get_future();
  std::string error;
  int port = srv.add_tcp_listener(
    loopback_listener(),
    [&](link_ptr l) -> std::shared_ptr<link_handler> {
      handler->link = std::move(l);
      return handler;
    },
    error);
  ASSERT_GT(port, 0) << error;
  srv.start();

  int c = connect_loopback(port);
  ASSERT_GE(c, 0);
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_c{c};
  const char connect_packet[] = "\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01" "a";
  const std::size_t connect_len = sizeof connect_packet - 1;
  ASSERT_EQ(::send(c, connect_packet, connect_len, 0), static_cast<ssize_t>(connect_len));
  ASSERT_EQ(got_connect.wait_for(std::chrono::seconds(10)), std::future_status::ready);

  // PINGREQs, as fast as the socket takes them, up to a cap far above what two loopback
  // socket buffers hold.
  ASSERT_EQ(::fcntl(c, F_SETFL, ::fcntl(c, F_GETFL) | O_NONBLOCK), 0);
  std::vector<char> chunk(64 * 1024);
  for (std::size_t i = 0; i < chunk.size(); i += 2) {
    chunk[i] = static_cast<char>(0xC0);
    chunk[i + 1] = 0;
  }
  constexpr std::size_t cap = 256u << 20;
  std::size_t sent = connect_len;
  int idle_rounds = 0;
  while (sent < cap && idle_rounds < 200) {
    auto n = ::send(c, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      idle_rounds = 0;
      continue;
    }
    ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
    // Full for now; the server may still take its one read: wait for the socket a little
    // (bounded), and stop once it stays full.
    ++idle_rounds;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(idle_rounds, 200) << "the server kept reading: " << sent << " bytes went in";
  int s = server_end_of(c);
  ASSERT_GE(s, 0);
  int unsent = 0, unread = 0;
  ASSERT_EQ(::ioctl(c, SIOCOUTQ, &unsent), 0);
  ASSERT_EQ(::ioctl(s, SIOCINQ, &unread), 0);
  const std::size_t taken = sent - static_cast<std::size_t>(unsent) - static_cast<std::size_t>(unread);
  // The CONNECT's read (at most one buffer) and one more (the buffer may have doubled once).
  EXPECT_LE(taken, 3 * opts.read_buffer_size) << "sent " << sent;
  EXPECT_GE(taken, connect_len);
  handler->link.reset();
  srv.stop();
}

} // namespace
} // namespace colony::transport
