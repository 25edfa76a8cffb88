// The HTTP endpoint's routes, without sockets: /metrics, /healthz, /readyz and the admin API
// (/api/v1/connections[/{clientid}], /api/v1/subscriptions, /api/v1/stats). A router turns
// one request into one response and asks a `backend` (the broker, or a fake in tests) for the
// data. JSON via nlohmann/json; errors are JSON objects {"error": code, "message": text}.
#pragma once

#include "metrics/readiness.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace colony::metrics::http {

struct request {
  std::string method; ///< "GET", "DELETE", ...
  std::string target; ///< path with query, as sent ("/api/v1/connections/a%2Fb?x=1")
  std::string authorization; ///< the Authorization header, empty if none
};

struct response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers; ///< extra headers
};

/// One client session as the admin API shows it (never a password).
struct client_view {
  std::string client_id;
  std::string username;
  std::string address;
  std::string listener;
  int protocol_version = 4;
  int keepalive = 0;
  bool connected = false;
  std::uint64_t subscriptions = 0;
  std::uint64_t inflight = 0;
  std::uint64_t queued = 0;
  std::int64_t connected_at_ms = 0;
};

/// One subscription of one session.
struct subscription_view {
  std::string client_id;
  std::string topic_filter;
  std::string share_group; ///< empty if not shared
  int qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  int retain_handling = 0;
  std::uint32_t subscription_id = 0; ///< 0 = none
};

enum class outcome {
  ok,
  not_found,   ///< 404
  unavailable, ///< 503: the broker did not answer in time
  unsupported, ///< 501: this build cannot answer that query
};

/// Where the router gets its data. Called on the HTTP thread; may block (with timeouts).
class backend {
public:
  virtual ~backend() = default;
  virtual outcome clients(std::vector<client_view>& out) = 0;
  virtual outcome client(const std::string& client_id, client_view& out) = 0;
  /// Disconnects the client (MQTT 5: DISCONNECT 0x98 Administrative action).
  virtual outcome kick(const std::string& client_id) = 0;
  virtual outcome subscriptions(std::vector<subscription_view>& out) = 0;
  virtual nlohmann::json stats() = 0;
  /// The Prometheus text exposition.
  virtual std::string metrics_text() = 0;
};

class router {
public:
  /// `api_token` empty = the admin API is open; otherwise it needs "Authorization: Bearer <token>".
  router(backend& b, const readiness& ready, std::string api_token);

  response handle(const request& req);

private:
  response api(const request& req, std::string_view path, std::string_view query);
  bool authorized(const request& req) const;

  backend& backend_;
  const readiness& ready_;
  std::string token_;
};

// -- helpers (public for tests) --------------------------------------------------------------

/// Percent-decodes a path segment ("a%2Fb" -> "a/b"). '+' stays '+'. Returns false on a
/// malformed escape.
bool url_decode(std::string_view in, std::string& out);

/// Value of `key` in a query string ("a=1&b=2"), percent-decoded; empty if absent.
std::string query_param(std::string_view query, std::string_view key);

/// Equality that takes the same time for every input of the same lengths.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

nlohmann::json to_json(const client_view& c);
nlohmann::json to_json(const subscription_view& s);

/// RFC 3339 UTC with milliseconds for a Unix time in ms ("" for 0).
std::string rfc3339_ms(std::int64_t unix_ms);

response json_response(int status, const nlohmann::json& body);
response error_response(int status, std::string_view code, std::string_view message);

} // namespace colony::metrics::http
