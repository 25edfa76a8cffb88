#include "metrics/http_api.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <tuple>

namespace colony::metrics::http {

namespace {

constexpr std::string_view api_prefix = "/api/";
constexpr std::string_view connections_path = "/api/v1/connections";
constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

bool is_get(const request& r) {
  return r.method == "GET" || r.method == "HEAD";
}

response method_not_allowed(std::string_view allow) {
  auto r = error_response(405, "method_not_allowed", "allowed: " + std::string{allow});
  r.headers.emplace_back("Allow", std::string{allow});
  return r;
}

/// The error response for a backend outcome other than ok.
response failure(outcome o, const std::string& id = {}) {
  switch (o) {
    case outcome::not_found:
      return error_response(404, "not_found", "no session with client id '" + id + "'");
    case outcome::unsupported:
      return error_response(501, "not_implemented", "this broker build cannot answer that query");
    case outcome::ok:
    case outcome::unavailable:
      break;
  }
  return error_response(503, "unavailable", "the broker did not answer in time");
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size())
    return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    auto a = s[i];
    auto b = prefix[i];
    if (a >= 'A' && a <= 'Z')
      a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z')
      b = static_cast<char>(b - 'A' + 'a');
    if (a != b)
      return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

bool url_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size())
      return false;
    int hi = hex_value(in[i + 1]);
    int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0)
      return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    auto k = pair.substr(0, eq);
    if (k != key)
      continue;
    auto v = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    std::string raw{v};
    std::replace(raw.begin(), raw.end(), '+', ' '); // form encoding in queries
    std::string decoded;
    if (!url_decode(raw, decoded))
      return {};
    return decoded;
  }
  return {};
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // Runs over the longer input whatever the contents; only the lengths leak.
  const std::size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < n; ++i) {
    auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

std::string rfc3339_ms(std::int64_t unix_ms) {
  if (unix_ms <= 0)
    return {};
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

nlohmann::json to_json(const client_view& c) {
  nlohmann::json j;
  j["client_id"] = c.client_id;
  j["username"] = c.username;
  j["address"] = c.address;
  j["listener"] = c.listener;
  j["protocol_version"] = c.protocol_version;
  j["keepalive"] = c.keepalive;
  j["connected"] = c.connected;
  j["connected_at"] = c.connected_at_ms > 0 ? nlohmann::json(rfc3339_ms(c.connected_at_ms))
                                            : nlohmann::json(nullptr);
  j["connected_at_ms"] = c.connected_at_ms;
  j["subscriptions"] = c.subscriptions;
  j["inflight"] = c.inflight;
  j["queued"] = c.queued;
  return j;
}

nlohmann::json to_json(const subscription_view& s) {
  nlohmann::json j;
  j["client_id"] = s.client_id;
  j["topic_filter"] = s.topic_filter;
  j["share_group"] = s.share_group.empty() ? nlohmann::json(nullptr)
                                           : nlohmann::json(s.share_group);
  j["qos"] = s.qos;
  j["no_local"] = s.no_local;
  j["retain_as_published"] = s.retain_as_published;
  j["retain_handling"] = s.retain_handling;
  j["subscription_id"] = s.subscription_id == 0 ? nlohmann::json(nullptr)
                                                : nlohmann::json(s.subscription_id);
  return j;
}

response json_response(int status, const nlohmann::json& body) {
  response r;
  r.status = status;
  // Client ids and usernames are client-chosen bytes: never fail on invalid UTF-8.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.body.push_back('\n');
  return r;
}

response error_response(int status, std::string_view code, std::string_view message) {
  nlohmann::json j;
  j["error"] = std::string{code};
  j["message"] = std::string{message};
  return json_response(status, j);
}

router::router(backend& b, const readiness& ready, std::string api_token)
  : backend_(b), ready_(ready), token_(std::move(api_token)) {}

bool router::authorized(const request& req) const {
  if (token_.empty())
    return true;
  std::string_view auth = req.authorization;
  constexpr std::string_view scheme = "bearer ";
  if (!iequals_prefix(auth, scheme))
    return false;
  auth.remove_prefix(scheme.size());
  while (!auth.empty() && auth.front() == ' ')
    auth.remove_prefix(1);
  while (!auth.empty() && (auth.back() == ' ' || auth.back() == '\t'))
    auth.remove_suffix(1);
  return constant_time_equal(auth, token_);
}

response router::handle(const request& req) {
  std::string_view target = req.target;
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  while (path.size() > 1 && path.back() == '/')
    path.remove_suffix(1);

  if (path == "/metrics") {
    if (!is_get(req))
      return method_not_allowed("GET, HEAD");
    response r;
    r.content_type = std::string{prometheus_content_type};
    r.body = backend_.metrics_text();
    return r;
  }
  if (path == "/healthz") {
    if (!is_get(req))
      return method_not_allowed("GET, HEAD");
    return json_response(200, {{"status", "ok"}});
  }
  if (path == "/readyz") {
    if (!is_get(req))
      return method_not_allowed("GET, HEAD");
    nlohmann::json conditions = nlohmann::json::object();
    for (const auto& [name, ok] : ready_.conditions())
      conditions[name] = ok;
    bool ok = ready_.ready();
    return json_response(ok ? 200 : 503,
                         {{"status", ok ? "ready" : "not_ready"}, {"conditions", conditions}});
  }
  if (path.substr(0, api_prefix.size()) == api_prefix || path == "/api") {
    if (!authorized(req)) {
      auto r = error_response(401, "unauthorized",
                              "this endpoint needs 'Authorization: Bearer <token>'");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"colony\"");
      return r;
    }
    return api(req, path, query);
  }
  return error_response(404, "not_found", "no such path: " + std::string{path});
}

response router::api(const request& req, std::string_view path, std::string_view query) {
  if (path == connections_path) {
    if (!is_get(req))
      return method_not_allowed("GET");
    std::vector<client_view> all;
    if (auto o = backend_.clients(all); o != outcome::ok)
      return failure(o);
    auto connected = query_param(query, "connected");
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a.client_id < b.client_id; });
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : all) {
      if ((connected == "true" && !c.connected) || (connected == "false" && c.connected))
        continue;
      list.push_back(to_json(c));
    }
    auto n = list.size();
    return json_response(200, {{"connections", std::move(list)}, {"count", n}});
  }
  if (path.size() > connections_path.size() + 1
      && path.substr(0, connections_path.size() + 1) == std::string{connections_path} + "/") {
    std::string id;
    if (!url_decode(path.substr(connections_path.size() + 1), id))
      return error_response(400, "bad_request", "malformed percent-encoding in the client id");
    if (req.method == "GET" || req.method == "HEAD") {
      client_view c;
      auto o = backend_.client(id, c);
      return o == outcome::ok ? json_response(200, to_json(c)) : failure(o, id);
    }
    if (req.method == "DELETE") {
      auto o = backend_.kick(id);
      return o == outcome::ok ? json_response(200, {{"client_id", id}, {"disconnected", true}})
                              : failure(o, id);
    }
    return method_not_allowed("GET, DELETE");
  }
  if (path == "/api/v1/subscriptions") {
    if (!is_get(req))
      return method_not_allowed("GET");
    std::vector<subscription_view> all;
    if (auto o = backend_.subscriptions(all); o != outcome::ok)
      return failure(o);
    auto client = query_param(query, "client_id");
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return std::tie(a.client_id, a.share_group, a.topic_filter)
             < std::tie(b.client_id, b.share_group, b.topic_filter);
    });
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : all) {
      if (!client.empty() && s.client_id != client)
        continue;
      list.push_back(to_json(s));
    }
    auto n = list.size();
    return json_response(200, {{"subscriptions", std::move(list)}, {"count", n}});
  }
  if (path == "/api/v1/stats") {
    if (!is_get(req))
      return method_not_allowed("GET");
    return json_response(200, backend_.stats());
  }
  return error_response(404, "not_found", "no such API path: " + std::string{path});
}

} // namespace colony::metrics::http
