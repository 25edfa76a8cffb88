// WebSocket (RFC 6455) and WebSocket over TLS listeners, with Boost.Beast. The only Beast
// translation unit of the transport (Beast is slow to compile).
//
// MQTT over WebSocket (MQTT 3.1.1 §6, MQTT 5 §6): binary frames only, subprotocol "mqtt" (the
// pre-standard "mqttv3.1" is accepted too, and the one offered is echoed); MQTT packets may be
// split across frames and frames may carry several packets, which the stream decoder handles
// since it sees the frame payloads as one byte stream. Each coalesced write batch goes out as
// one binary message. Pings are answered while reading; closing sends a close frame.
#include "transport/tls_stream.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <optional>

namespace colony::transport::detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

template <class Next, bool Deflate>
struct stream_ops<websocket::stream<Next, Deflate>> {
  using ws_stream = websocket::stream<Next, Deflate>;

  static tcp::socket& socket(ws_stream& s) { return beast::get_lowest_layer(s); }

  template <class Buffer, class Handler>
  static void async_read_some(ws_stream& s, const Buffer& b, Handler&& h) {
    s.async_read_some(b, std::forward<Handler>(h));
  }

  template <class Buffers, class Handler>
  static void async_write(ws_stream& s, const Buffers& b, Handler&& h) {
    s.async_write(b, std::forward<Handler>(h));
  }

  static bool read_ok(ws_stream& s) { return !s.got_text(); }

  static bool is_peer_close(const boost::system::error_code& ec) {
    return ec == websocket::error::closed || ec == asio::error::eof
           || ec == ssl::error::stream_truncated;
  }

  static constexpr bool can_wait_readable = false; // TLS/WebSocket buffer inside
  static constexpr bool can_send_directly = false; // only the I/O thread may write
  static constexpr bool has_graceful_close = true;
  static constexpr bool graceful_close_needs_idle_read = false;
  template <class Handler>
  static void async_graceful_close(ws_stream& s, Handler&& h) {
    s.async_close(websocket::close_code::normal, std::forward<Handler>(h));
  }
};

namespace {

constexpr bool is_tls(const tcp::socket*) {
  return false;
}
constexpr bool is_tls(const ssl_stream*) {
  return true;
}

/// Picks the subprotocol to echo from a Sec-WebSocket-Protocol list: "mqtt", else "mqttv3.1".
/// Returns nullopt if protocols were offered and none is MQTT; "" if none was offered.
std::optional<std::string> pick_subprotocol(beast::string_view offered) {
  if (offered.empty())
    return std::string{};
  bool v31 = false;
  std::size_t pos = 0;
  while (pos <= offered.size()) {
    auto end = offered.find(',', pos);
    if (end == beast::string_view::npos)
      end = offered.size();
    auto token = offered.substr(pos, end - pos);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
      token.remove_suffix(1);
    if (beast::iequals(token, "mqtt"))
      return std::string{"mqtt"};
    if (beast::iequals(token, "mqttv3.1"))
      v31 = true;
    pos = end + 1;
  }
  if (v31)
    return std::string{"mqttv3.1"};
  return std::nullopt;
}

template <class Next>
class ws_handshake : public std::enable_shared_from_this<ws_handshake<Next>> {
public:
  using ws_stream = websocket::stream<Next>;

  ws_handshake(Next next, ssl_context_ptr ctx, std::string path, pending_conn conn)
    : ctx_(std::move(ctx)),
      next_(std::move(next)),
      path_(std::move(path)),
      timer_(next_.get_executor()),
      conn_(std::move(conn)) {}

  void start() {
    timer_.expires_at(conn_.deadline);
    timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (ec)
        return;
      self->timed_out_ = true;
      self->close_socket();
    });
    if constexpr (is_tls(static_cast<Next*>(nullptr))) {
      next_.async_handshake(ssl::stream_base::server,
                            [self = this->shared_from_this()](boost::system::error_code ec) {
                              self->on_tls_handshake(ec);
                            });
    } else {
      read_request();
    }
  }

private:
  tcp::socket& socket() {
    if (ws_)
      return beast::get_lowest_layer(*ws_);
    return beast::get_lowest_layer(next_);
  }

  void close_socket() {
    boost::system::error_code ignored;
    socket().close(ignored);
  }

  void fail(std::string_view what, const boost::system::error_code& ec) {
    timer_.cancel();
    std::string detail = timed_out_ ? std::string{"no handshake within the connect timeout"}
                                    : ec.message();
    conn_.report(event_level::info, what, detail);
    close_socket();
  }

  void on_tls_handshake(boost::system::error_code ec) {
    if constexpr (is_tls(static_cast<Next*>(nullptr))) {
      if (ec) {
        timer_.cancel();
        conn_.report(event_level::info, "tls handshake failed",
                     timed_out_ ? std::string{"no handshake within the connect timeout"}
                                : handshake_error_text(ec, next_.native_handle()));
        close_socket();
        return;
      }
      conn_.info.peer_identity = verified_peer_cn(next_.native_handle());
      conn_.info.keep = ctx_;
    }
    read_request();
  }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    http::async_read_header(next_, buf_, *parser_,
                            [self = this->shared_from_this()](boost::system::error_code ec,
                                                              std::size_t) {
                              self->on_request(ec);
                            });
  }

  void on_request(boost::system::error_code ec) {
    if (ec) {
      fail("websocket handshake failed", ec);
      return;
    }
    auto& req = parser_->get();
    auto target = req.target();
    auto q = target.find('?');
    if (q != beast::string_view::npos)
      target = target.substr(0, q);
    if (target != path_) {
      refuse(http::status::not_found, "not found: the MQTT WebSocket endpoint is " + path_ + "\n",
             "wrong path " + std::string{target});
      return;
    }
    if (!websocket::is_upgrade(req)) {
      refuse(http::status::upgrade_required, "this is an MQTT over WebSocket endpoint\n",
             "HTTP request without WebSocket upgrade");
      return;
    }
    auto proto = pick_subprotocol(req[http::field::sec_websocket_protocol]);
    if (!proto) {
      refuse(http::status::bad_request, "unsupported WebSocket subprotocol (use mqtt)\n",
             "unsupported subprotocol '"
               + std::string{req[http::field::sec_websocket_protocol]} + "'");
      return;
    }
    ws_.emplace(std::move(next_));
    ws_->set_option(websocket::stream_base::decorator(
      [p = std::move(*proto)](websocket::response_type& res) {
        res.set(http::field::server, "colony");
        if (!p.empty())
          res.set(http::field::sec_websocket_protocol, p);
      }));
    ws_->binary(true);
    ws_->auto_fragment(false);
    ws_->read_message_max(0); // the MQTT decoder bounds each packet
    ws_->async_accept(req, [self = this->shared_from_this()](boost::system::error_code ec) {
      self->on_accept(ec);
    });
  }

  void refuse(http::status status, std::string body, std::string why) {
    conn_.report(event_level::debug, "websocket upgrade refused", why);
    auto& req = parser_->get();
    res_.emplace(status, req.version());
    res_->set(http::field::server, "colony");
    res_->set(http::field::content_type, "text/plain");
    if (status == http::status::upgrade_required) {
      res_->set(http::field::upgrade, "websocket");
      res_->set(http::field::sec_websocket_protocol, "mqtt");
    }
    res_->keep_alive(false);
    res_->body() = std::move(body);
    res_->prepare_payload();
    http::async_write(next_, *res_,
                      [self = this->shared_from_this()](boost::system::error_code, std::size_t) {
                        self->after_refusal();
                      });
  }

  void after_refusal() {
    timer_.cancel();
    if constexpr (is_tls(static_cast<Next*>(nullptr))) {
      // Send close_notify; give the client a moment to answer.
      timer_.expires_after(std::chrono::milliseconds{1000});
      timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
        if (!ec)
          self->close_socket();
      });
      next_.async_shutdown([self = this->shared_from_this()](boost::system::error_code) {
        self->timer_.cancel();
        self->close_socket();
      });
    } else {
      boost::system::error_code ignored;
      socket().shutdown(tcp::socket::shutdown_send, ignored);
      close_socket();
    }
  }

  void on_accept(boost::system::error_code ec) {
    if (ec) {
      fail("websocket handshake failed", ec);
      return;
    }
    timer_.cancel();
    conn_.cfg.connect_timeout = conn_.remaining();
    auto link = make_link(std::move(*ws_), std::move(conn_.info), conn_.cfg);
    ws_.reset();
    conn_.ready(std::move(link));
  }

  ssl_context_ptr ctx_;
  Next next_;
  std::string path_;
  asio::steady_timer timer_;
  pending_conn conn_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::optional<ws_stream> ws_;
  bool timed_out_ = false;
};

} // namespace

void accept_ws(tcp::socket sock, ssl_context_ptr ctx, std::string path, pending_conn conn) {
  if (ctx) {
    ssl_stream stream{std::move(sock), *ctx};
    std::make_shared<ws_handshake<ssl_stream>>(std::move(stream), std::move(ctx), std::move(path),
                                               std::move(conn))
      ->start();
  } else {
    std::make_shared<ws_handshake<tcp::socket>>(std::move(sock), nullptr, std::move(path),
                                                 std::move(conn))
      ->start();
  }
}

} // namespace colony::transport::detail
