#include "metrics/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <thread>

namespace colony::metrics::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t max_header_bytes = 16 * 1024;
constexpr std::size_t max_body_bytes = 64 * 1024;
constexpr auto idle_timeout = std::chrono::seconds{30};

class connection : public std::enable_shared_from_this<connection> {
public:
  connection(tcp::socket socket, const server::handler& h)
    : stream_(std::move(socket)), handler_(h) {}

  void start() { read(); }

private:
  void read() {
    parser_.emplace();
    parser_->header_limit(max_header_bytes);
    parser_->body_limit(max_body_bytes);
    stream_.expires_after(idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_read(ec);
                      });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream) {
      close();
      return;
    }
    if (ec) {
      if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
        respond_error(413, "payload_too_large");
        return;
      }
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
        respond_error(400, "bad_request");
        return;
      }
      close(); // timeout, reset, ...
      return;
    }
    auto& in = parser_->get();
    request req;
    auto text = [](auto sv) { return std::string(sv.data(), sv.size()); };
    req.method = text(in.method_string());
    req.target = text(in.target());
    if (auto it = in.find(bhttp::field::authorization); it != in.end())
      req.authorization = text(it->value());
    response res;
    try {
      res = handler_(req);
    } catch (const std::exception& e) {
      res = error_response(500, "internal_error", e.what());
    }
    send(std::move(res), in.version(), in.keep_alive(), req.method == "HEAD");
  }

  void respond_error(int status, std::string_view code) {
    send(error_response(status, code, "the request could not be read"), 11, false, false);
  }

  void send(response r, unsigned version, bool keep_alive, bool head) {
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>(
      static_cast<bhttp::status>(r.status), version);
    msg->set(bhttp::field::server, "colony");
    msg->set(bhttp::field::content_type, r.content_type);
    msg->set(bhttp::field::cache_control, "no-store");
    for (auto& [name, value] : r.headers)
      msg->set(name, value);
    msg->keep_alive(keep_alive);
    const auto size = r.body.size();
    if (!head)
      msg->body() = std::move(r.body);
    msg->prepare_payload();
    if (head)
      msg->content_length(size);
    stream_.expires_after(idle_timeout);
    bhttp::async_write(stream_, *msg,
                       [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
                         if (ec || !msg->keep_alive()) {
                           self->close();
                           return;
                         }
                         self->read();
                       });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const server::handler& handler_;
};

} // namespace

struct server::impl {
  explicit impl(handler h) : on_request(std::move(h)), acceptor(ioc) {}

  void accept() {
    acceptor.async_accept(ioc, [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open())
        return;
      if (!ec)
        std::make_shared<connection>(std::move(s), on_request)->start();
      accept();
    });
  }

  handler on_request;
  asio::io_context ioc{1};
  tcp::acceptor acceptor;
  std::thread thread;
  bool started = false;
};

server::server(handler h) : impl_(std::make_unique<impl>(std::move(h))) {}

server::~server() {
  stop();
}

int server::listen(const std::string& host, int port, std::string& error) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    error = "invalid address '" + host + "': " + ec.message();
    return -1;
  }
  tcp::endpoint ep{addr, static_cast<std::uint16_t>(port)};
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec)
    a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec)
    a.bind(ep, ec);
  if (!ec)
    a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
    beast::error_code ignored;
    a.close(ignored);
    return -1;
  }
  return a.local_endpoint().port();
}

void server::start() {
  if (impl_->started)
    return;
  impl_->started = true;
  impl_->accept();
  impl_->thread = std::thread{[this] { impl_->ioc.run(); }};
}

void server::stop() {
  if (!impl_->started)
    return;
  impl_->started = false;
  asio::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->ioc.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  // Open connections are closed when their pending handlers are destroyed with the io_context.
}

} // namespace colony::metrics::http
