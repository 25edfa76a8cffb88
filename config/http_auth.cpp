// The HTTP auth/ACL hook. The only translation unit that includes Boost.Beast.
#include "config/http_auth.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <openssl/evp.h>

#include <atomic>
#include <charconv>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace colony::config {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

// -- URL and encoding -------------------------------------------------------------------------

std::optional<http_url> parse_http_url(std::string_view url, std::string& error) {
  constexpr std::string_view scheme = "http://";
  if (url.size() < scheme.size()) {
    error = "'" + std::string{url} + "' is not an http:// URL";
    return std::nullopt;
  }
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(url[i])) != scheme[i]) {
      error = url.substr(0, 8) == "https://" || url.substr(0, 8) == "HTTPS://"
                ? "'" + std::string{url} + "': only http:// URLs are supported"
                : "'" + std::string{url} + "' is not an http:// URL";
      return std::nullopt;
    }
  }
  auto rest = url.substr(scheme.size());
  auto slash = rest.find_first_of("/?");
  auto authority = rest.substr(0, slash);
  http_url out;
  if (slash != std::string_view::npos) {
    out.target = std::string{rest.substr(slash)};
    if (out.target.front() == '?')
      out.target.insert(out.target.begin(), '/');
  }
  if (auto hash = out.target.find('#'); hash != std::string::npos)
    out.target.erase(hash);
  if (authority.find('@') != std::string_view::npos) {
    error = "'" + std::string{url} + "': user information in the URL is not supported";
    return std::nullopt;
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "'" + std::string{url} + "': unterminated IPv6 address";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "'" + std::string{url} + "': bad host";
        return std::nullopt;
      }
      port = after.substr(1);
      if (port.empty()) {
        error = "'" + std::string{url} + "': empty port";
        return std::nullopt;
      }
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) {
      error = "'" + std::string{url} + "': empty port";
      return std::nullopt;
    }
  }
  if (host.empty()) {
    error = "'" + std::string{url} + "': no host";
    return std::nullopt;
  }
  out.host = std::string{host};
  if (!port.empty()) {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc{} || end != port.data() + port.size() || n == 0 || n > 65535) {
      error = "'" + std::string{url} + "': bad port '" + std::string{port} + "'";
      return std::nullopt;
    }
    out.port = std::to_string(n);
  }
  out.host_header = std::string{authority};
  return out;
}

std::string form_encode(std::string_view value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size() * 3);
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
        || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

namespace {

enum class outcome { allow, deny, failure };

void append_field(std::string& key, std::string_view field) {
  key += std::to_string(field.size());
  key += ':';
  key += field;
}

std::string auth_key(const http_auth_request& r) {
  // Passwords never sit in memory longer than the request: the key holds a digest.
  std::string fields;
  append_field(fields, r.username);
  append_field(fields, r.client_id);
  append_field(fields, r.password);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(fields.data(), fields.size(), digest, &len, EVP_sha256(), nullptr);
  OPENSSL_cleanse(fields.data(), fields.size());
  return "A" + std::string{reinterpret_cast<const char*>(digest), len};
}

std::string acl_key(const http_acl_request& r) {
  std::string key = "L";
  key += static_cast<char>('0' + static_cast<int>(r.action));
  append_field(key, r.username);
  append_field(key, r.client_id);
  append_field(key, r.ip);
  append_field(key, r.topic);
  return key;
}

} // namespace

// -- the hook ---------------------------------------------------------------------------------

class http_session;

struct http_auth::impl : std::enable_shared_from_this<http_auth::impl> {
  http_auth_options options;
  std::optional<http_url> auth_url;
  std::optional<http_url> acl_url;

  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  std::vector<std::thread> threads;

  struct cache_entry {
    bool allowed;
    clock_type::time_point expires;
  };
  mutable std::mutex mtx;
  std::unordered_map<std::string, cache_entry> cache;
  std::unordered_map<std::string, std::vector<std::function<void(bool)>>> pending;
  std::vector<std::weak_ptr<http_session>> sessions;
  bool stopping = false;

  std::atomic<std::uint64_t> n_requests{0};
  mutable std::atomic<std::uint64_t> n_cache_hits{0};
  std::atomic<std::uint64_t> n_failures{0};

  std::optional<bool> lookup(const std::string& key) const {
    if (options.cache_ttl.count() <= 0)
      return std::nullopt;
    std::lock_guard<std::mutex> guard{mtx};
    auto it = cache.find(key);
    if (it == cache.end() || it->second.expires <= clock_type::now())
      return std::nullopt;
    n_cache_hits.fetch_add(1, std::memory_order_relaxed);
    return it->second.allowed;
  }

  void report(const std::string& msg) {
    if (options.on_error)
      options.on_error(msg);
  }

  /// Runs `done(value)` on an I/O thread (on the caller's while shutting down, when the I/O
  /// threads are going away).
  void post_answer(std::function<void(bool)> done, bool value) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (!stopping) {
        net::post(ioc, [done = std::move(done), value] { done(value); });
        return;
      }
    }
    done(value);
  }

  void start(std::string key, http::request<http::string_body> req, const http_url& url,
             std::function<void(bool)> done);
  void complete(const std::string& key, outcome result, const std::string& what);
};

/// One HTTP exchange: resolve, connect, write, read the response header; one timer bounds it.
class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(std::shared_ptr<http_auth::impl> owner, std::string key,
               http::request<http::string_body> req, http_url url)
    : owner_(std::move(owner)),
      strand_(net::make_strand(owner_->ioc)),
      resolver_(strand_),
      stream_(strand_),
      timer_(strand_),
      key_(std::move(key)),
      req_(std::move(req)),
      url_(std::move(url)) {
    parser_.body_limit(64 * 1024);
  }

  void run() {
    net::dispatch(strand_, [self = shared_from_this()] { self->begin(); });
  }

  /// Aborts the exchange (shutdown); completes it as a failure.
  void cancel() {
    net::dispatch(strand_,
                  [self = shared_from_this()] { self->finish(outcome::failure, "cancelled"); });
  }

private:
  void begin() {
    timer_.expires_after(owner_->options.timeout);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec)
        self->finish(outcome::failure, "timed out");
    });
    resolver_.async_resolve(url_.host, url_.port,
                            [self = shared_from_this()](beast::error_code ec,
                                                        tcp::resolver::results_type results) {
                              self->on_resolve(ec, std::move(results));
                            });
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (done_)
      return;
    if (ec)
      return finish(outcome::failure, "cannot resolve '" + url_.host + "': " + ec.message());
    stream_.async_connect(results, [self = shared_from_this()](beast::error_code ec,
                                                               const tcp::endpoint&) {
      self->on_connect(ec);
    });
  }

  void on_connect(beast::error_code ec) {
    if (done_)
      return;
    if (ec)
      return finish(outcome::failure,
                    "cannot connect to " + url_.host_header + ": " + ec.message());
    http::async_write(stream_, req_, [self = shared_from_this()](beast::error_code ec,
                                                                  std::size_t) {
      self->on_write(ec);
    });
  }

  void on_write(beast::error_code ec) {
    if (done_)
      return;
    if (ec)
      return finish(outcome::failure, "cannot send the request: " + ec.message());
    http::async_read_header(stream_, buffer_, parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_read(ec);
                            });
  }

  void on_read(beast::error_code ec) {
    if (done_)
      return;
    if (ec)
      return finish(outcome::failure, "cannot read the response: " + ec.message());
    unsigned status = parser_.get().result_int();
    if (status == 200)
      return finish(outcome::allow, {});
    if (status >= 500)
      return finish(outcome::failure, "HTTP status " + std::to_string(status));
    finish(outcome::deny, {});
  }

  void finish(outcome result, const std::string& what) {
    if (done_)
      return;
    done_ = true;
    timer_.cancel();
    resolver_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    owner_->complete(key_, result,
                     what.empty() ? what
                                  : req_.method_string().to_string() + " http://"
                                      + url_.host_header + url_.target.substr(
                                          0, url_.target.find('?'))
                                      + ": " + what);
  }

  std::shared_ptr<http_auth::impl> owner_;
  net::strand<net::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  std::string key_;
  http::request<http::string_body> req_;
  http_url url_;
  bool done_ = false;
};

void http_auth::impl::start(std::string key, http::request<http::string_body> req,
                            const http_url& url, std::function<void(bool)> done) {
  if (auto hit = lookup(key)) {
    post_answer(std::move(done), *hit);
    return;
  }
  std::shared_ptr<http_session> session;
  {
    std::unique_lock<std::mutex> lock{mtx};
    if (stopping) {
      // Shutting down: answer on the caller's thread (the I/O threads are going away).
      lock.unlock();
      done(false);
      return;
    }
    auto [it, fresh] = pending.try_emplace(key);
    it->second.push_back(std::move(done));
    if (!fresh)
      return; // the same question is already being asked
    session = std::make_shared<http_session>(shared_from_this(), key, std::move(req), url);
    std::erase_if(sessions, [](auto& w) { return w.expired(); });
    sessions.push_back(session);
  }
  n_requests.fetch_add(1, std::memory_order_relaxed);
  session->run();
}

void http_auth::impl::complete(const std::string& key, outcome result,
                               const std::string& what) {
  std::vector<std::function<void(bool)>> waiters;
  {
    std::lock_guard<std::mutex> guard{mtx};
    auto it = pending.find(key);
    if (it != pending.end()) {
      waiters = std::move(it->second);
      pending.erase(it);
    }
    if (result != outcome::failure && options.cache_ttl.count() > 0) {
      if (cache.size() >= options.max_cache_entries) {
        auto now = clock_type::now();
        std::erase_if(cache, [now](auto& kv) { return kv.second.expires <= now; });
        if (cache.size() >= options.max_cache_entries)
          cache.clear();
      }
      cache[key] = cache_entry{result == outcome::allow, clock_type::now() + options.cache_ttl};
    }
  }
  if (result == outcome::failure) {
    n_failures.fetch_add(1, std::memory_order_relaxed);
    report(what);
  }
  for (auto& w : waiters)
    w(result == outcome::allow);
}

// -- http_auth --------------------------------------------------------------------------------

std::unique_ptr<http_auth> http_auth::create(http_auth_options options, std::string& error) {
  auto p = std::make_shared<impl>();
  if (!options.auth_url.empty()) {
    std::string e;
    p->auth_url = parse_http_url(options.auth_url, e);
    if (!p->auth_url) {
      error = "auth-http-url: " + e;
      return nullptr;
    }
  }
  if (!options.acl_url.empty()) {
    std::string e;
    p->acl_url = parse_http_url(options.acl_url, e);
    if (!p->acl_url) {
      error = "acl-http-url: " + e;
      return nullptr;
    }
  }
  if (options.timeout.count() <= 0)
    options.timeout = std::chrono::milliseconds{2000};
  if (options.threads == 0)
    options.threads = 1;
  p->options = std::move(options);
  for (std::size_t i = 0; i < p->options.threads; ++i)
    p->threads.emplace_back([raw = p.get()] { raw->ioc.run(); });
  return std::unique_ptr<http_auth>{new http_auth(std::move(p))};
}

http_auth::http_auth(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

http_auth::~http_auth() {
  std::vector<std::shared_ptr<http_session>> live;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->stopping = true;
    for (auto& w : impl_->sessions)
      if (auto s = w.lock())
        live.push_back(std::move(s));
    impl_->sessions.clear();
  }
  for (auto& s : live)
    s->cancel();
  live.clear();
  impl_->work.reset();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
  // Sessions held the impl; all have finished now, so `impl_` is the last owner.
}

bool http_auth::has_auth_url() const noexcept {
  return impl_->auth_url.has_value();
}

bool http_auth::has_acl_url() const noexcept {
  return impl_->acl_url.has_value();
}

void http_auth::check_auth(http_auth_request request, std::function<void(bool)> done) {
  if (!impl_->auth_url) {
    impl_->post_answer(std::move(done), true);
    return;
  }
  auto& url = *impl_->auth_url;
  auto key = auth_key(request);
  std::string body = "username=" + form_encode(request.username)
                     + "&clientid=" + form_encode(request.client_id)
                     + "&password=" + form_encode(request.password);
  OPENSSL_cleanse(request.password.data(), request.password.size());
  http::request<http::string_body> req{http::verb::post, url.target, 11};
  req.set(http::field::host, url.host_header);
  req.set(http::field::user_agent, "colony");
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.set(http::field::connection, "close");
  req.body() = std::move(body);
  req.prepare_payload();
  impl_->start(std::move(key), std::move(req), url, std::move(done));
}

void http_auth::check_acl(http_acl_request request, std::function<void(bool)> done) {
  if (!impl_->acl_url) {
    impl_->post_answer(std::move(done), true);
    return;
  }
  auto& url = *impl_->acl_url;
  auto key = acl_key(request);
  std::string target = url.target;
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += "username=" + form_encode(request.username)
            + "&clientid=" + form_encode(request.client_id) + "&ip=" + form_encode(request.ip)
            + "&topic=" + form_encode(request.topic)
            + "&access=" + std::to_string(static_cast<int>(request.action));
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, url.host_header);
  req.set(http::field::user_agent, "colony");
  req.set(http::field::connection, "close");
  impl_->start(std::move(key), std::move(req), url, std::move(done));
}

std::optional<bool> http_auth::cached_auth(const http_auth_request& request) const {
  if (!impl_->auth_url)
    return true;
  return impl_->lookup(auth_key(request));
}

std::optional<bool> http_auth::cached_acl(const http_acl_request& request) const {
  if (!impl_->acl_url)
    return true;
  return impl_->lookup(acl_key(request));
}

void http_auth::clear_cache() {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  impl_->cache.clear();
}

http_auth::counters http_auth::stats() const {
  counters c;
  c.requests = impl_->n_requests.load(std::memory_order_relaxed);
  c.cache_hits = impl_->n_cache_hits.load(std::memory_order_relaxed);
  c.failures = impl_->n_failures.load(std::memory_order_relaxed);
  return c;
}

} // namespace colony::config
