#include "metrics/http_api.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace colony::metrics;
using namespace colony::metrics::http;

namespace {

class fake_backend : public backend {
public:
  std::map<std::string, client_view> sessions;
  std::vector<subscription_view> subs;
  std::vector<std::string> kicked;
  bool down = false;
  bool no_subs = false;

  outcome clients(std::vector<client_view>& out) override {
    if (down)
      return outcome::unavailable;
    for (auto& [id, c] : sessions)
      out.push_back(c);
    return outcome::ok;
  }
  outcome client(const std::string& id, client_view& out) override {
    if (down)
      return outcome::unavailable;
    auto it = sessions.find(id);
    if (it == sessions.end())
      return outcome::not_found;
    out = it->second;
    return outcome::ok;
  }
  outcome kick(const std::string& id) override {
    if (down)
      return outcome::unavailable;
    if (!sessions.count(id))
      return outcome::not_found;
    kicked.push_back(id);
    return outcome::ok;
  }
  outcome subscriptions(std::vector<subscription_view>& out) override {
    if (down)
      return outcome::unavailable;
    if (no_subs)
      return outcome::unsupported;
    out = subs;
    return outcome::ok;
  }
  nlohmann::json stats() override { return {{"clients", {{"connected", sessions.size()}}}}; }
  std::string metrics_text() override { return "# TYPE x gauge\nx 1\n"; }
};

client_view make_client(std::string id, bool connected = true) {
  client_view c;
  c.client_id = std::move(id);
  c.username = "alice";
  c.address = "127.0.0.1:5555";
  c.listener = "mqtt";
  c.protocol_version = 5;
  c.keepalive = 30;
  c.connected = connected;
  c.subscriptions = 2;
  c.connected_at_ms = 1'700'000'000'123;
  return c;
}

struct router_test : ::testing::Test {
  fake_backend b;
  readiness ready;
  router r{b, ready, ""};

  response call(std::string method, std::string target, std::string auth = "") {
    return r.handle(request{std::move(method), std::move(target), std::move(auth)});
  }
  static nlohmann::json body(const response& res) { return nlohmann::json::parse(res.body); }
};

} // namespace

TEST(url, decodes_percent_escapes) {
  std::string out;
  ASSERT_TRUE(url_decode("a%2Fb%20c+d", out));
  EXPECT_EQ(out, "a/b c+d");
  ASSERT_TRUE(url_decode("%e2%9C%93", out));
  EXPECT_EQ(out, "\xe2\x9c\x93");
  EXPECT_FALSE(url_decode("bad%2", out));
  EXPECT_FALSE(url_decode("bad%zz", out));
  EXPECT_FALSE(url_decode("%", out));
}

TEST(url, query_params) {
  EXPECT_EQ(query_param("a=1&client_id=x%2Fy&b", "client_id"), "x/y");
  EXPECT_EQ(query_param("a=1&b", "b"), "");
  EXPECT_EQ(query_param("q=a+b", "q"), "a b");
  EXPECT_EQ(query_param("", "a"), "");
}

TEST(token, constant_time_equal) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret2"));
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(json, rfc3339) {
  EXPECT_EQ(rfc3339_ms(0), "");
  EXPECT_EQ(rfc3339_ms(1'700'000'000'123), "2023-11-14T22:13:20.123Z");
}

TEST(json, client_view_has_no_password_and_all_fields) {
  auto j = to_json(make_client("c1"));
  EXPECT_EQ(j["client_id"], "c1");
  EXPECT_EQ(j["username"], "alice");
  EXPECT_EQ(j["address"], "127.0.0.1:5555");
  EXPECT_EQ(j["protocol_version"], 5);
  EXPECT_EQ(j["keepalive"], 30);
  EXPECT_EQ(j["subscriptions"], 2);
  EXPECT_EQ(j["connected_at"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["connected"], true);
  EXPECT_FALSE(j.contains("password"));
}

TEST(json, invalid_utf8_is_replaced_not_thrown) {
  auto c = make_client(std::string{"bad\xff"});
  auto res = json_response(200, to_json(c));
  EXPECT_EQ(res.status, 200);
  EXPECT_NO_THROW(nlohmann::json::parse(res.body));
}

TEST_F(router_test, healthz_and_readyz) {
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  auto res = call("GET", "/readyz");
  EXPECT_EQ(res.status, 503); // nothing declared yet
  ready.declare("listeners");
  res = call("GET", "/readyz");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(body(res)["conditions"]["listeners"], false);
  ready.set("listeners", true);
  res = call("GET", "/readyz");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(body(res)["status"], "ready");
  ready.set("store", false);
  EXPECT_EQ(call("GET", "/readyz").status, 503);
  ready.remove("store");
  EXPECT_EQ(call("HEAD", "/readyz").status, 200);
  EXPECT_EQ(call("POST", "/healthz").status, 405);
}

TEST_F(router_test, metrics_is_prometheus_text) {
  auto res = call("GET", "/metrics");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(res.body, "# TYPE x gauge\nx 1\n");
  auto bad = call("DELETE", "/metrics");
  EXPECT_EQ(bad.status, 405);
  ASSERT_EQ(bad.headers.size(), 1u);
  EXPECT_EQ(bad.headers[0].first, "Allow");
}

TEST_F(router_test, lists_connections_sorted) {
  b.sessions["zeta"] = make_client("zeta");
  b.sessions["alpha"] = make_client("alpha", false);
  auto res = call("GET", "/api/v1/connections");
  ASSERT_EQ(res.status, 200);
  auto j = body(res);
  ASSERT_EQ(j["count"], 2);
  EXPECT_EQ(j["connections"][0]["client_id"], "alpha");
  EXPECT_EQ(j["connections"][1]["client_id"], "zeta");
  j = body(call("GET", "/api/v1/connections?connected=true"));
  ASSERT_EQ(j["count"], 1);
  EXPECT_EQ(j["connections"][0]["client_id"], "zeta");
  EXPECT_EQ(call("GET", "/api/v1/connections/").status, 200); // trailing slash
}

TEST_F(router_test, gets_one_connection_url_decoded) {
  b.sessions["dev/1 x"] = make_client("dev/1 x");
  auto res = call("GET", "/api/v1/connections/dev%2F1%20x");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(body(res)["client_id"], "dev/1 x");
  res = call("GET", "/api/v1/connections/nobody");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(body(res)["error"], "not_found");
  EXPECT_EQ(call("GET", "/api/v1/connections/bad%zz").status, 400);
}

TEST_F(router_test, kicks_with_delete) {
  b.sessions["c1"] = make_client("c1");
  auto res = call("DELETE", "/api/v1/connections/c1");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(body(res)["disconnected"], true);
  ASSERT_EQ(b.kicked.size(), 1u);
  EXPECT_EQ(b.kicked[0], "c1");
  EXPECT_EQ(call("DELETE", "/api/v1/connections/c2").status, 404);
  EXPECT_EQ(call("POST", "/api/v1/connections/c1").status, 405);
  EXPECT_EQ(call("DELETE", "/api/v1/connections").status, 405);
}

TEST_F(router_test, subscriptions_and_stats) {
  subscription_view s;
  s.client_id = "b";
  s.topic_filter = "x/#";
  s.qos = 1;
  b.subs.push_back(s);
  s.client_id = "a";
  s.share_group = "g";
  s.subscription_id = 7;
  b.subs.push_back(s);
  auto j = body(call("GET", "/api/v1/subscriptions"));
  ASSERT_EQ(j["count"], 2);
  EXPECT_EQ(j["subscriptions"][0]["client_id"], "a");
  EXPECT_EQ(j["subscriptions"][0]["share_group"], "g");
  EXPECT_EQ(j["subscriptions"][0]["subscription_id"], 7);
  EXPECT_TRUE(j["subscriptions"][1]["share_group"].is_null());
  j = body(call("GET", "/api/v1/subscriptions?client_id=b"));
  EXPECT_EQ(j["count"], 1);
  EXPECT_EQ(call("GET", "/api/v1/stats").status, 200);
  EXPECT_EQ(call("PUT", "/api/v1/stats").status, 405);
}

TEST_F(router_test, unsupported_query_is_501) {
  b.no_subs = true;
  auto res = call("GET", "/api/v1/subscriptions");
  EXPECT_EQ(res.status, 501);
  EXPECT_EQ(body(res)["error"], "not_implemented");
}

TEST_F(router_test, unknown_paths_are_json_404) {
  auto res = call("GET", "/nope");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(body(res)["error"], "not_found");
  EXPECT_EQ(call("GET", "/api/v2/connections").status, 404);
  EXPECT_EQ(call("GET", "/api").status, 404);
}

TEST_F(router_test, unavailable_backend_is_503) {
  b.down = true;
  EXPECT_EQ(call("GET", "/api/v1/connections").status, 503);
  EXPECT_EQ(call("GET", "/api/v1/connections/x").status, 503);
  EXPECT_EQ(call("DELETE", "/api/v1/connections/x").status, 503);
  EXPECT_EQ(call("GET", "/api/v1/subscriptions").status, 503);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
}

TEST(router_token, protects_only_the_api) {
  fake_backend b;
  readiness ready;
  router r{b, ready, "s3cret"};
  auto call = [&](std::string target, std::string auth) {
    return r.handle(request{"GET", std::move(target), std::move(auth)});
  };
  auto res = call("/api/v1/connections", "");
  EXPECT_EQ(res.status, 401);
  ASSERT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(call("/api/v1/connections", "Bearer wrong").status, 401);
  EXPECT_EQ(call("/api/v1/connections", "Bearer s3cret2").status, 401);
  EXPECT_EQ(call("/api/v1/connections", "Basic s3cret").status, 401);
  EXPECT_EQ(call("/api/v1/nothing", "").status, 401); // no path probing without the token
  EXPECT_EQ(call("/api/v1/connections", "Bearer s3cret").status, 200);
  EXPECT_EQ(call("/api/v1/connections", "bearer  s3cret ").status, 200);
  EXPECT_EQ(call("/metrics", "").status, 200);
  EXPECT_EQ(call("/healthz", "").status, 200);
}
