// HTTP authentication and authorization hooks (hmq's "authhttp" plugin, improved):
//
//  - auth: POST <auth-url> with form fields username, clientid, password;
//  - ACL:  GET  <acl-url>?username=..&clientid=..&ip=..&topic=..&access=1|2 (1 = subscribe,
//          2 = publish).
//
// HTTP 200 = allow; any other answer = deny. Transport errors, timeouts and 5xx answers deny
// too but are not cached; definite answers (200, and other statuses below 500) are cached for
// `cache_ttl`, keyed by every field the request carried (passwords only as a SHA-256 digest).
// Concurrent identical requests share one HTTP call.
//
// Requests run on the hook's own I/O thread(s) (Boost.Asio/Beast), never on the caller's:
// check_auth()/check_acl() return at once and call `done` later ON THE HOOK'S THREAD, exactly
// once. Only http:// URLs are supported. Boost.Beast stays inside http_auth.cpp.
#pragma once

#include "config/acl.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace colony::config {

struct http_auth_options {
  std::string auth_url; ///< empty = no authentication hook (check_auth answers true)
  std::string acl_url;  ///< empty = no ACL hook (check_acl answers true)
  std::chrono::milliseconds timeout{2000}; ///< whole request: resolve, connect, write, read
  std::chrono::seconds cache_ttl{30};      ///< 0 = no caching
  std::size_t max_cache_entries = 100'000; ///< the cache is emptied when it grows past this
  std::size_t threads = 1;                 ///< I/O threads of the hook
  /// Diagnostics (failed requests, unexpected statuses), called on the hook's thread. Never
  /// receives passwords. May be empty.
  std::function<void(const std::string&)> on_error;
};

struct http_auth_request {
  std::string client_id;
  std::string username;
  std::string password; ///< binary-safe
};

struct http_acl_request {
  std::string client_id;
  std::string username;
  std::string ip;
  std::string topic; ///< topic name (publish) or filter (subscribe)
  acl::access action = acl::access::publish;
};

/// A parsed "http://host[:port][/path][?query]".
struct http_url {
  std::string host; ///< without brackets for IPv6 literals
  std::string port = "80";
  std::string target = "/"; ///< path and query
  std::string host_header;   ///< "host" or "host:port"
};
std::optional<http_url> parse_http_url(std::string_view url, std::string& error);

/// application/x-www-form-urlencoded encoding of one value (RFC 3986 unreserved kept).
std::string form_encode(std::string_view value);

class http_auth {
public:
  struct counters {
    std::uint64_t requests = 0;   ///< HTTP requests sent
    std::uint64_t cache_hits = 0; ///< answers served from the cache
    std::uint64_t failures = 0;   ///< transport errors, timeouts, 5xx
  };

  /// Validates the URLs and starts the I/O thread(s). nullptr (and `error` set) when a URL is
  /// unusable.
  static std::unique_ptr<http_auth> create(http_auth_options options, std::string& error);

  /// Cancels requests in flight (their `done` is called with false) and joins the threads.
  ~http_auth();
  http_auth(const http_auth&) = delete;
  http_auth& operator=(const http_auth&) = delete;

  bool has_auth_url() const noexcept;
  bool has_acl_url() const noexcept;

  /// Asks the auth URL whether these credentials are valid. `done(allowed)` runs on the hook's
  /// thread (also for cache hits and when no auth URL is set: then allowed = true).
  void check_auth(http_auth_request request, std::function<void(bool allowed)> done);
  /// Asks the ACL URL. Same threading as check_auth.
  void check_acl(http_acl_request request, std::function<void(bool allowed)> done);

  /// Synchronous cache probes (any thread, no I/O): the cached answer, or nullopt.
  std::optional<bool> cached_auth(const http_auth_request& request) const;
  std::optional<bool> cached_acl(const http_acl_request& request) const;

  void clear_cache();
  counters stats() const;

  struct impl;

private:
  explicit http_auth(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;
};

} // namespace colony::config
