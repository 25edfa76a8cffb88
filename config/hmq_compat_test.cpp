// Unit tests of config/hmq_compat.hpp on its own: flag rewriting and JSON key mapping. The
// end-to-end paths through parse() are in config_files_test.cpp.
#include "config/hmq_compat.hpp"

#include <gtest/gtest.h>

#include <set>

namespace colony::config::hmq {
namespace {

using strings = std::vector<std::string>;

/// A stand-in for Colony's option table: these long options take a value.
std::optional<bool> colony_option(std::string_view name) {
  static const std::set<std::string, std::less<>> valued{
    "port", "host", "ws-port", "ws-path", "http-port", "config", "log-level", "cluster-port",
    "cluster-seeds", "password-file"};
  static const std::set<std::string, std::less<>> switches{"help", "version", "check-config",
                                                           "tls-verify"};
  if (valued.count(name))
    return true;
  if (switches.count(name))
    return false;
  return std::nullopt;
}

strings translate(const strings& args, strings* warnings = nullptr) {
  strings w;
  auto out = translate_args(args, colony_option, w);
  if (warnings)
    *warnings = w;
  return out;
}

TEST(HmqFlags, ValueFlagsBothSpellings) {
  EXPECT_EQ(translate({"-p", "1884"}), (strings{"--port=1884"}));
  EXPECT_EQ(translate({"-port", "1884"}), (strings{"--port=1884"}));
  EXPECT_EQ(translate({"-port=1884"}), (strings{"--port=1884"}));
  EXPECT_EQ(translate({"-host", "0.0.0.0"}), (strings{"--host=0.0.0.0"}));
  EXPECT_EQ(translate({"-ws", "8083"}), (strings{"--ws-port=8083"}));
  EXPECT_EQ(translate({"-wsport", "8083"}), (strings{"--ws-port=8083"}));
  EXPECT_EQ(translate({"--wsport=8083"}), (strings{"--ws-port=8083"}));
  EXPECT_EQ(translate({"-wsp", "/ws"}), (strings{"--ws-path=/ws"}));
  EXPECT_EQ(translate({"-wspath", "/ws"}), (strings{"--ws-path=/ws"}));
  EXPECT_EQ(translate({"-hp", "8081"}), (strings{"--http-port=8081"}));
  EXPECT_EQ(translate({"-httpport", "8081"}), (strings{"--http-port=8081"}));
  EXPECT_EQ(translate({"-c", "hmq.json"}), (strings{"--config=hmq.json"}));
  EXPECT_EQ(translate({"-config", "hmq.json"}), (strings{"--config=hmq.json"}));
  EXPECT_EQ(translate({"-c=hmq.json"}), (strings{"--config=hmq.json"}));
  EXPECT_EQ(translate({"-cp", "1993"}), (strings{"--cluster-port=1993"}));
  EXPECT_EQ(translate({"-clusterport", "1993"}), (strings{"--cluster-port=1993"}));
  EXPECT_EQ(translate({"-r", "10.0.0.1:9888"}), (strings{"--cluster-seeds=10.0.0.1:9888"}));
  EXPECT_EQ(translate({"-router", "10.0.0.1:9888"}), (strings{"--cluster-seeds=10.0.0.1:9888"}));
}

TEST(HmqFlags, NegativeValueIsTakenAsValue) {
  EXPECT_EQ(translate({"-p", "-1", "-ws", "-1"}), (strings{"--port=-1", "--ws-port=-1"}));
}

TEST(HmqFlags, DebugFlags) {
  EXPECT_EQ(translate({"-d"}), (strings{"--log-level=debug"}));
  EXPECT_EQ(translate({"-debug"}), (strings{"--log-level=debug"}));
  EXPECT_EQ(translate({"-D"}), (strings{"--log-level=debug"}));
  EXPECT_EQ(translate({"-d=true"}), (strings{"--log-level=debug"}));
  EXPECT_EQ(translate({"-d=false"}), (strings{}));
  EXPECT_EQ(translate({"-d", "-D"}), (strings{"--log-level=debug"})); // once
  // An explicit --log-level wins over hmq's debug switch.
  EXPECT_EQ(translate({"-d", "--log-level", "trace"}), (strings{"--log-level", "trace"}));
}

TEST(HmqFlags, WorkerIsIgnoredWithOneWarning) {
  strings w;
  EXPECT_EQ(translate({"-w", "1024", "-p", "1"}, &w), (strings{"--port=1"}));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("-w"), std::string::npos) << w[0];
  EXPECT_EQ(translate({"-worker=8", "-w", "9"}, &w), (strings{}));
  EXPECT_EQ(w.size(), 1u);
}

TEST(HmqFlags, HelpFlags) {
  EXPECT_EQ(translate({"-h"}), (strings{"--help"}));
  EXPECT_EQ(translate({"-help"}), (strings{"--help"}));
  EXPECT_EQ(translate({"--help"}), (strings{"--help"}));
}

TEST(HmqFlags, ColonyFlagsPassThrough) {
  strings args{"--port", "1883", "--ws-path", "-d", "--check-config", "--max-inflight=5",
               "--unknown", "positional"};
  // "-d" is the value of --ws-path here, not hmq's debug switch.
  EXPECT_EQ(translate(args), args);
  EXPECT_EQ(translate({"--", "-p", "1"}), (strings{"--", "-p", "1"}));
}

TEST(HmqFlags, MissingValueIsLeftForTheParser) {
  EXPECT_EQ(translate({"-p"}), (strings{"--port"}));
}

// -- JSON -------------------------------------------------------------------------------------

struct json_result {
  bool ok;
  nlohmann::json doc;
  strings warnings;
  std::string error;
};

json_result translate_doc(const char* text) {
  json_result r;
  r.doc = nlohmann::json::parse(text);
  r.ok = translate_json(r.doc, r.warnings, r.error);
  return r;
}

TEST(HmqJson, SampleConfigFromHmq) {
  // hmq's conf/hmq.json
  auto r = translate_doc(R"({
    "workerNum": 4096, "port": "1883", "host": "0.0.0.0", "debug": true,
    "router": "127.0.0.1:9888", "tlsPort": "8883", "tlsHost": "0.0.0.0",
    "wsPort": "1888", "wsPath": "/ws", "wsTLS": false,
    "tlsInfo": {"verify": true, "caFile": "ssl/ca/ca.pem", "certFile": "ssl/server/cert.pem",
                "keyFile": "ssl/server/key.pem"},
    "plugins": {"auth": "authhttp", "bridge": "kafka"}})");
  ASSERT_TRUE(r.ok) << r.error;
  auto expected = nlohmann::json::parse(R"({
    "port": 1883, "host": "0.0.0.0", "log-level": "debug", "cluster-seeds": "127.0.0.1:9888",
    "tls-port": 8883, "ws-port": 1888, "ws-path": "/ws", "tls-verify": true,
    "tls-ca": "ssl/ca/ca.pem", "tls-cert": "ssl/server/cert.pem",
    "tls-key": "ssl/server/key.pem"})");
  EXPECT_EQ(r.doc, expected) << r.doc.dump(2);
  // One warning each for workerNum, tlsHost, plugins.auth, plugins.bridge.
  ASSERT_EQ(r.warnings.size(), 4u);
  for (auto key : {"'workerNum'", "'tlsHost'", "'plugins.auth'", "'plugins.bridge'"}) {
    auto n = std::count_if(r.warnings.begin(), r.warnings.end(),
                           [&](auto& w) { return w.find(key) != std::string::npos; });
    EXPECT_EQ(n, 1) << key;
  }
}

TEST(HmqJson, NumbersAsNumbersToo) {
  auto r = translate_doc(R"({"port": 1884, "wsPort": 8083, "httpPort": 8081, "tlsPort": 8884})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.doc, nlohmann::json::parse(
                     R"({"port": 1884, "ws-port": 8083, "http-port": 8081, "tls-port": 8884})"));
  EXPECT_TRUE(r.warnings.empty());
}

TEST(HmqJson, EmptyStringsMeanNotSet) {
  auto r = translate_doc(R"({"port": "", "host": "", "tlsPort": "", "wsPath": "", "router": "",
                            "plugins": {"auth": "", "bridge": ""}})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.doc, nlohmann::json::object()) << r.doc.dump();
  EXPECT_TRUE(r.warnings.empty());
}

TEST(HmqJson, WsTlsMovesThePortToWss) {
  auto r = translate_doc(R"({"wsPort": "8084", "wsTLS": true})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.doc, nlohmann::json::parse(R"({"wss-port": 8084, "ws-port": -1})"));
}

TEST(HmqJson, ClusterObject) {
  auto r = translate_doc(R"({"cluster": {"host": "0.0.0.0", "port": "1993",
                                         "routes": ["10.0.0.2:1993", "10.0.0.3:1993"]}})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.doc, nlohmann::json::parse(
                     R"({"cluster-port": 1993, "cluster-seeds": "10.0.0.2:1993,10.0.0.3:1993"})"));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("'cluster.host'"), std::string::npos) << r.warnings[0];
}

TEST(HmqJson, OldAclKeys) {
  auto r = translate_doc(R"({"acl": true, "aclConf": "conf/acl.conf"})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.doc, nlohmann::json::parse(R"({"acl-file": "conf/acl.conf"})"));
  r = translate_doc(R"({"acl": false, "aclConf": "conf/acl.conf"})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.doc, nlohmann::json::object());
  EXPECT_EQ(r.warnings.size(), 1u);
}

TEST(HmqJson, DebugFalseDoesNothing) {
  auto r = translate_doc(R"({"debug": false})");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.doc, nlohmann::json::object());
}

TEST(HmqJson, ColonyKeyWinsOverHmqKey) {
  auto r = translate_doc(R"({"wsPort": "1888", "ws-port": 8083, "debug": true,
                            "log-level": "trace"})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.doc, nlohmann::json::parse(R"({"ws-port": 8083, "log-level": "trace"})"));
  EXPECT_EQ(r.warnings.size(), 2u);
}

TEST(HmqJson, BadValuesNameKeyAndValue) {
  struct bad_case {
    const char* text;
    const char* key;
    const char* value;
  };
  const bad_case cases[] = {
    {R"({"wsPort": "abc"})", "'wsPort'", "\"abc\""},
    {R"({"tlsPort": true})", "'tlsPort'", "true"},
    {R"({"httpPort": 80.5})", "'httpPort'", "80.5"},
    {R"({"wsTLS": "yes"})", "'wsTLS'", "\"yes\""},
    {R"({"tlsInfo": {"verify": 3}})", "'tlsInfo.verify'", "3"},
    {R"({"tlsInfo": {"certFile": 7}})", "'tlsInfo.certFile'", "7"},
    {R"({"tlsInfo": "x"})", "'tlsInfo'", "\"x\""},
    {R"({"cluster": {"port": "x1"}})", "'cluster.port'", "\"x1\""},
    {R"({"cluster": {"routes": "a:1"}})", "'cluster.routes'", "\"a:1\""},
    {R"({"router": 5})", "'router'", "5"},
    {R"({"workerNum": "many"})", "'workerNum'", "\"many\""},
    {R"({"plugins": 1})", "'plugins'", "1"},
    {R"({"debug": "loud"})", "'debug'", "\"loud\""},
  };
  for (auto& c : cases) {
    auto r = translate_doc(c.text);
    EXPECT_FALSE(r.ok) << c.text;
    EXPECT_NE(r.error.find(c.key), std::string::npos) << c.text << " -> " << r.error;
    EXPECT_NE(r.error.find(c.value), std::string::npos) << c.text << " -> " << r.error;
  }
}

TEST(HmqJson, SharedPortKeyKeepsNonNumericStringForTheTypeCheck) {
  auto r = translate_doc(R"({"port": "abc"})");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.doc["port"], "abc");
}

TEST(HmqJson, ColonyOnlyDocumentIsUntouched) {
  auto r = translate_doc(R"({"port": 1883, "ws-port": -1, "log-level": "info"})");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.doc, nlohmann::json::parse(R"({"port": 1883, "ws-port": -1, "log-level": "info"})"));
  EXPECT_TRUE(r.warnings.empty());
}

} // namespace
} // namespace colony::config::hmq
