// The Beast server over real loopback sockets (plain Asio client, raw HTTP/1.1).
#include "metrics/http_server.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include <atomic>

using namespace colony::metrics::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// Sends `raw` and reads until the peer closes (or `responses` complete responses arrived
/// when the connection is kept alive).
std::string roundtrip(int port, const std::string& raw) {
  asio::io_context ioc;
  tcp::socket s{ioc};
  s.connect({asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)});
  asio::write(s, asio::buffer(raw));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    auto n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec)
      break;
  }
  return out;
}

struct server_test : ::testing::Test {
  std::atomic<int> calls{0};
  server srv{[this](const request& r) {
    ++calls;
    if (r.target == "/boom")
      throw std::runtime_error("boom");
    response res;
    res.body = "{\"method\":\"" + r.method + "\",\"target\":\"" + r.target + "\",\"auth\":\""
               + r.authorization + "\"}";
    res.headers.emplace_back("X-Test", "1");
    return res;
  }};
  int port = 0;

  void SetUp() override {
    std::string error;
    port = srv.listen("127.0.0.1", 0, error);
    ASSERT_GT(port, 0) << error;
    srv.start();
  }
};

} // namespace

TEST_F(server_test, answers_one_request) {
  auto out = roundtrip(port, "GET /a%2Fb?x=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
                            "Connection: close\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Content-Type: application/json"), std::string::npos);
  EXPECT_NE(out.find("X-Test: 1"), std::string::npos);
  EXPECT_NE(out.find("\"target\":\"/a%2Fb?x=1\""), std::string::npos);
  EXPECT_NE(out.find("\"auth\":\"Bearer t\""), std::string::npos);
}

TEST_F(server_test, keeps_alive_and_pipelines) {
  auto out = roundtrip(port, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                            "DELETE /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("\"target\":\"/1\""), std::string::npos);
  EXPECT_NE(out.find("\"method\":\"DELETE\""), std::string::npos);
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(server_test, head_has_length_but_no_body) {
  auto out = roundtrip(port, "HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Content-Length: "), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST_F(server_test, handler_exception_is_500) {
  auto out = roundtrip(port, "GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 500", 0), 0u) << out;
}

TEST_F(server_test, oversized_request_is_refused) {
  std::string big(70 * 1024, 'a');
  // The declared length alone is refused, before any of the body is read.
  auto out = roundtrip(port, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: "
                              + std::to_string(big.size()) + "\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out.substr(0, 100);
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(server_test, garbage_is_400) {
  auto out = roundtrip(port, "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
}

TEST(server_lifecycle, busy_port_is_an_error_and_stop_is_idempotent) {
  server a{[](const request&) { return response{}; }};
  std::string error;
  int port = a.listen("127.0.0.1", 0, error);
  ASSERT_GT(port, 0);
  a.start();
  server b{[](const request&) { return response{}; }};
  EXPECT_EQ(b.listen("127.0.0.1", port, error), -1);
  EXPECT_NE(error.find("cannot listen"), std::string::npos);
  EXPECT_EQ(b.listen("not an address", 0, error), -1);
  a.stop();
  a.stop();
}
