// Unit tests of config/http_auth.hpp against a local Python http.server that the test starts
// on a free loopback port (/usr/bin/python3, standard library only). The server prints one
// JSON line per request on its stdout, which the test reads to see what was sent.
#include "config/http_auth.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace colony::config {
namespace {

using namespace std::chrono_literals;

// Auth: 200 if the user name starts with "good" and the password is the magic one.
// ACL: 200 if the user name starts with "good" and the topic does not start with "deny/".
// User "slow..." sleeps 3 s first; "pause..." sleeps 0.4 s; "broken" gets a 500.
constexpr const char* server_script = R"PY(
import json, sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, kind, fields, ok):
        user = fields.get("username", [""])[0]
        record = {"kind": kind, "method": self.command, "path": urlparse(self.path).path,
                  "content_type": self.headers.get("Content-Type", ""),
                  "fields": {k: v[0] for k, v in fields.items()}}
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
        if user.startswith("slow"):
            time.sleep(3)
        if user.startswith("pause"):
            time.sleep(0.4)
        code = 500 if user == "broken" else (200 if ok else 403)
        body = b"ok" if code == 200 else b"no"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        fields = parse_qs(self.rfile.read(n).decode("utf-8"), keep_blank_values=True)
        user = fields.get("username", [""])[0]
        pw = fields.get("password", [""])[0]
        ok = (user.startswith("good") or user.startswith("pause")) and pw == "p@ss w\u00f6rd&x=1"
        self.reply("auth", fields, ok)

    def do_GET(self):
        fields = parse_qs(urlparse(self.path).query, keep_blank_values=True)
        user = fields.get("username", [""])[0]
        topic = fields.get("topic", [""])[0]
        ok = (user.startswith("good") or user.startswith("pause")) and not topic.startswith("deny/")
        self.reply("acl", fields, ok)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
sys.stdout.write("%d\n" % server.server_address[1])
sys.stdout.flush()
server.serve_forever()
)PY";

/// The Python server process (only this PID is ever signalled).
class py_server {
public:
  py_server() {
    int fds[2];
    if (::pipe(fds) != 0)
      return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execl("/usr/bin/python3", "python3", "-u", "-c", server_script, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
    auto line = next_line(10s);
    if (line)
      port_ = std::stoi(*line);
  }
  ~py_server() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (out_ >= 0)
      ::close(out_);
  }
  py_server(const py_server&) = delete;
  py_server& operator=(const py_server&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  /// The next request the server saw, or nullopt after `timeout`.
  std::optional<nlohmann::json> next_request(std::chrono::milliseconds timeout = 5s) {
    auto line = next_line(timeout);
    if (!line)
      return std::nullopt;
    return nlohmann::json::parse(*line);
  }

private:
  std::optional<std::string> next_line(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        auto line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || out_ < 0)
        return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char buf[4096];
      auto n = ::read(out_, buf, sizeof buf);
      if (n <= 0)
        return std::nullopt;
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int port_ = 0;
  std::string buffer_;
};

/// Collects callback results across threads.
class answers {
public:
  std::function<void(bool)> callback() {
    return [this](bool allowed) {
      std::lock_guard<std::mutex> guard{mtx_};
      values_.push_back(allowed);
      threads_.push_back(std::this_thread::get_id());
      cv_.notify_all();
    };
  }
  /// Waits for `n` answers in total; false on timeout.
  bool wait(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock{mtx_};
    return cv_.wait_for(lock, timeout, [&] { return values_.size() >= n; });
  }
  std::vector<bool> values() {
    std::lock_guard<std::mutex> guard{mtx_};
    return values_;
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard<std::mutex> guard{mtx_};
    return threads_;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<bool> values_;
  std::vector<std::thread::id> threads_;
};

/// Waits for one answer to a check and returns it (nullopt on timeout).
template <class F>
std::optional<bool> ask(F&& start) {
  auto a = std::make_shared<answers>(); // outlives a late callback after a timeout
  start([a](bool allowed) { a->callback()(allowed); });
  if (!a->wait(1, 10s))
    return std::nullopt;
  return a->values().front();
}

const std::string magic_password = "p@ss w\xc3\xb6rd&x=1";

class HttpAuth : public ::testing::Test {
protected:
  void SetUp() override {
    if (::access("/usr/bin/python3", X_OK) != 0)
      GTEST_SKIP() << "/usr/bin/python3 is needed for the local HTTP server";
    server_ = std::make_unique<py_server>();
    ASSERT_GT(server_->port(), 0) << "the Python HTTP server did not start";
  }

  std::unique_ptr<http_auth> make(http_auth_options o = {}) {
    if (o.auth_url.empty())
      o.auth_url = server_->url("/mqtt/auth");
    if (o.acl_url.empty())
      o.acl_url = server_->url("/mqtt/acl");
    o.on_error = [this](const std::string& msg) {
      std::lock_guard<std::mutex> guard{errors_mtx_};
      errors_.push_back(msg);
    };
    std::string error;
    auto h = http_auth::create(std::move(o), error);
    EXPECT_TRUE(h) << error;
    return h;
  }

  std::vector<std::string> errors() {
    std::lock_guard<std::mutex> guard{errors_mtx_};
    return errors_;
  }

  std::unique_ptr<py_server> server_;
  std::mutex errors_mtx_;
  std::vector<std::string> errors_;
};

TEST_F(HttpAuth, AuthPostsFormFields) {
  auto h = make();
  http_auth_request req{"client-1", "good-user", magic_password};
  EXPECT_EQ(ask([&](auto cb) { h->check_auth(req, cb); }), true);
  auto rec = server_->next_request();
  ASSERT_TRUE(rec);
  EXPECT_EQ((*rec)["kind"], "auth");
  EXPECT_EQ((*rec)["method"], "POST");
  EXPECT_EQ((*rec)["path"], "/mqtt/auth");
  EXPECT_EQ((*rec)["content_type"], "application/x-www-form-urlencoded");
  EXPECT_EQ((*rec)["fields"]["username"], "good-user");
  EXPECT_EQ((*rec)["fields"]["clientid"], "client-1");
  EXPECT_EQ((*rec)["fields"]["password"], magic_password);
}

TEST_F(HttpAuth, AuthDeniedByStatus) {
  auto h = make();
  EXPECT_EQ(ask([&](auto cb) { h->check_auth({"c", "good-user", "wrong"}, cb); }), false);
  EXPECT_EQ(ask([&](auto cb) { h->check_auth({"c", "bad-user", magic_password}, cb); }), false);
  EXPECT_TRUE(errors().empty()); // a 403 is an answer, not a failure
}

TEST_F(HttpAuth, AclGetsQueryFields) {
  auto h = make();
  http_acl_request req{"dev 7", "good-user", "10.0.0.9", "a/b c/#", acl::access::subscribe};
  EXPECT_EQ(ask([&](auto cb) { h->check_acl(req, cb); }), true);
  auto rec = server_->next_request();
  ASSERT_TRUE(rec);
  EXPECT_EQ((*rec)["kind"], "acl");
  EXPECT_EQ((*rec)["method"], "GET");
  EXPECT_EQ((*rec)["path"], "/mqtt/acl");
  EXPECT_EQ((*rec)["fields"]["username"], "good-user");
  EXPECT_EQ((*rec)["fields"]["clientid"], "dev 7");
  EXPECT_EQ((*rec)["fields"]["ip"], "10.0.0.9");
  EXPECT_EQ((*rec)["fields"]["topic"], "a/b c/#");
  EXPECT_EQ((*rec)["fields"]["access"], "1");

  req.action = acl::access::publish;
  req.topic = "deny/x";
  EXPECT_EQ(ask([&](auto cb) { h->check_acl(req, cb); }), false);
  rec = server_->next_request();
  ASSERT_TRUE(rec);
  EXPECT_EQ((*rec)["fields"]["access"], "2");
}

TEST_F(HttpAuth, AclUrlWithOwnQueryKeepsIt) {
  http_auth_options o;
  o.acl_url = server_->url("/acl?tenant=t1");
  auto h = make(o);
  EXPECT_EQ(ask([&](auto cb) { h->check_acl({"c", "good", "", "x", acl::access::publish}, cb); }),
            true);
  auto rec = server_->next_request();
  ASSERT_TRUE(rec);
  EXPECT_EQ((*rec)["fields"]["tenant"], "t1");
  EXPECT_EQ((*rec)["fields"]["topic"], "x");
}

TEST_F(HttpAuth, AnswersAreCachedByEveryField) {
  auto h = make();
  http_acl_request req{"c", "good", "1.2.3.4", "t/1", acl::access::publish};
  EXPECT_FALSE(h->cached_acl(req).has_value());
  EXPECT_EQ(ask([&](auto cb) { h->check_acl(req, cb); }), true);
  EXPECT_EQ(h->stats().requests, 1u);
  EXPECT_EQ(h->cached_acl(req), std::optional<bool>{true});
  EXPECT_EQ(ask([&](auto cb) { h->check_acl(req, cb); }), true);
  EXPECT_EQ(h->stats().requests, 1u); // served from the cache
  // Any field that differs is a different question.
  for (auto change : {0, 1, 2, 3, 4}) {
    auto other = req;
    switch (change) {
      case 0: other.client_id = "c2"; break;
      case 1: other.username = "good2"; break;
      case 2: other.ip = "1.2.3.5"; break;
      case 3: other.topic = "t/2"; break;
      case 4: other.action = acl::access::subscribe; break;
    }
    EXPECT_FALSE(h->cached_acl(other).has_value()) << change;
  }
  // Denials are cached too.
  http_acl_request denied{"c", "good", "1.2.3.4", "deny/1", acl::access::publish};
  EXPECT_EQ(ask([&](auto cb) { h->check_acl(denied, cb); }), false);
  EXPECT_EQ(h->cached_acl(denied), std::optional<bool>{false});
  // Auth: the password is part of the key.
  http_auth_request a{"c", "good", magic_password};
  EXPECT_EQ(ask([&](auto cb) { h->check_auth(a, cb); }), true);
  EXPECT_EQ(h->cached_auth(a), std::optional<bool>{true});
  auto wrong = a;
  wrong.password = "guess";
  EXPECT_FALSE(h->cached_auth(wrong).has_value());
  h->clear_cache();
  EXPECT_FALSE(h->cached_auth(a).has_value());
}

TEST_F(HttpAuth, CacheExpires) {
  http_auth_options o;
  o.cache_ttl = 1s;
  auto h = make(o);
  http_acl_request req{"c", "good", "", "t", acl::access::publish};
  EXPECT_EQ(ask([&](auto cb) { h->check_acl(req, cb); }), true);
  EXPECT_TRUE(h->cached_acl(req).has_value());
  std::this_thread::sleep_for(1100ms);
  EXPECT_FALSE(h->cached_acl(req).has_value());
  EXPECT_EQ(ask([&](auto cb) { h->check_acl(req, cb); }), true);
  EXPECT_EQ(h->stats().requests, 2u);
}

TEST_F(HttpAuth, ZeroTtlDisablesCaching) {
  http_auth_options o;
  o.cache_ttl = 0s;
  auto h = make(o);
  http_acl_request req{"c", "good", "", "t", acl::access::publish};
  EXPECT_EQ(ask([&](auto cb) { h->check_acl(req, cb); }), true);
  EXPECT_EQ(ask([&](auto cb) { h->check_acl(req, cb); }), true);
  EXPECT_EQ(h->stats().requests, 2u);
  EXPECT_FALSE(h->cached_acl(req).has_value());
}

TEST_F(HttpAuth, TimeoutDeniesAndIsNotCached) {
  http_auth_options o;
  o.timeout = 300ms;
  auto h = make(o);
  http_auth_request req{"c", "slow", magic_password};
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ask([&](auto cb) { h->check_auth(req, cb); }), false);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 2500ms);
  EXPECT_FALSE(h->cached_auth(req).has_value());
  EXPECT_EQ(h->stats().failures, 1u);
  auto errs = errors();
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("timed out"), std::string::npos) << errs[0];
  EXPECT_EQ(errs[0].find(magic_password), std::string::npos) << errs[0];
}

TEST_F(HttpAuth, ServerErrorDeniesAndIsNotCached) {
  auto h = make();
  http_acl_request req{"c", "broken", "", "t", acl::access::publish};
  EXPECT_EQ(ask([&](auto cb) { h->check_acl(req, cb); }), false);
  EXPECT_FALSE(h->cached_acl(req).has_value());
  EXPECT_EQ(h->stats().failures, 1u);
}

TEST_F(HttpAuth, ConnectionRefusedDenies) {
  // A port that was free a moment ago: nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  http_auth_options o;
  o.auth_url = "http://127.0.0.1:" + std::to_string(port) + "/auth";
  auto h = make(o);
  EXPECT_EQ(ask([&](auto cb) { h->check_auth({"c", "good", magic_password}, cb); }), false);
  EXPECT_EQ(h->stats().failures, 1u);
}

TEST_F(HttpAuth, CallbacksRunOnTheHookThread) {
  auto h = make();
  answers a;
  h->check_acl({"c", "good", "", "t", acl::access::publish}, a.callback());
  ASSERT_TRUE(a.wait(1));
  h->check_acl({"c", "good", "", "t", acl::access::publish}, a.callback()); // cache hit
  ASSERT_TRUE(a.wait(2));
  for (auto id : a.threads())
    EXPECT_NE(id, std::this_thread::get_id());
}

TEST_F(HttpAuth, IdenticalConcurrentQuestionsShareOneRequest) {
  auto h = make();
  answers a;
  for (int i = 0; i < 5; ++i)
    h->check_acl({"c", "pause-user", "", "t", acl::access::publish}, a.callback());
  ASSERT_TRUE(a.wait(5));
  EXPECT_EQ(a.values(), std::vector<bool>(5, true));
  EXPECT_EQ(h->stats().requests, 1u);
}

TEST_F(HttpAuth, ManyDifferentQuestionsInParallel) {
  auto h = make();
  answers a;
  for (int i = 0; i < 20; ++i)
    h->check_acl({"c", "good", "", (i % 2 ? "deny/" : "ok/") + std::to_string(i),
                  acl::access::publish},
                 a.callback());
  ASSERT_TRUE(a.wait(20, 20s));
  auto v = a.values();
  EXPECT_EQ(std::count(v.begin(), v.end(), true), 10);
  EXPECT_EQ(h->stats().requests, 20u);
}

TEST_F(HttpAuth, DestroyingCancelsRequestsInFlight) {
  http_auth_options o;
  o.timeout = 10s;
  auto h = make(o);
  answers a;
  h->check_auth({"c", "slow", magic_password}, a.callback());
  ASSERT_TRUE(server_->next_request()); // the request reached the server
  auto start = std::chrono::steady_clock::now();
  h.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ASSERT_TRUE(a.wait(1, 1s));
  EXPECT_EQ(a.values(), std::vector<bool>{false});
}

TEST(HttpAuthNoServer, WithoutUrlsEverythingIsAllowed) {
  std::string error;
  auto h = http_auth::create({}, error);
  ASSERT_TRUE(h) << error;
  EXPECT_FALSE(h->has_auth_url());
  EXPECT_FALSE(h->has_acl_url());
  EXPECT_EQ(ask([&](auto cb) { h->check_auth({"c", "u", "p"}, cb); }), true);
  EXPECT_EQ(ask([&](auto cb) { h->check_acl({"c", "u", "", "t", acl::access::publish}, cb); }),
            true);
  EXPECT_EQ(h->cached_acl({"c", "u", "", "t", acl::access::publish}), std::optional<bool>{true});
  EXPECT_EQ(h->stats().requests, 0u);
}

TEST(HttpAuthNoServer, BadUrlsAreRefused) {
  for (auto url : {"https://x/", "ftp://x/", "x", "http://", "http://:80/", "http://h:0/",
                   "http://h:65536/", "http://h:abc/", "http://u:p@h/", "http://[::1/"}) {
    http_auth_options o;
    o.acl_url = url;
    std::string error;
    EXPECT_FALSE(http_auth::create(o, error)) << url;
    EXPECT_NE(error.find("acl-http-url"), std::string::npos) << error;
  }
}

TEST(HttpAuthNoServer, ParseUrl) {
  std::string error;
  auto u = parse_http_url("http://127.0.0.1:8080/mqtt/auth", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->target, "/mqtt/auth");
  EXPECT_EQ(u->host_header, "127.0.0.1:8080");
  u = parse_http_url("HTTP://example.com", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->target, "/");
  u = parse_http_url("http://[::1]:9000?a=b#frag", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "9000");
  EXPECT_EQ(u->target, "/?a=b");
  EXPECT_EQ(u->host_header, "[::1]:9000");
}

TEST(HttpAuthNoServer, FormEncode) {
  EXPECT_EQ(form_encode("abcXYZ019-._~"), "abcXYZ019-._~");
  EXPECT_EQ(form_encode("a b&c=d/e+f#"), "a%20b%26c%3Dd%2Fe%2Bf%23");
  EXPECT_EQ(form_encode("\xc3\xb6"), "%C3%B6");
  EXPECT_EQ(form_encode(std::string{"\0", 1}), "%00");
}

} // namespace
} // namespace colony::config
