// parse()-level tests of the auth/limits/cluster settings, hmq compatibility (flags and JSON
// files), and the password/ACL files being loaded at validation time (--check-config).
#include "config/settings.hpp"

#include "config/password_file.hpp"
#include "config/test_util.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <sstream>

namespace colony::config {
namespace {

using testing::contains;
using testing::temp_dir;

class capture {
public:
  explicit capture(std::ostream& os) : os_(os), old_(os.rdbuf(buf_.rdbuf())) {}
  ~capture() { os_.rdbuf(old_); }
  capture(const capture&) = delete;
  capture& operator=(const capture&) = delete;
  std::string text() const { return buf_.str(); }

private:
  std::ostream& os_;
  std::ostringstream buf_;
  std::streambuf* old_;
};

struct run_result {
  parse_outcome outcome;
  std::string out;
  std::string err;
};

run_result run(std::vector<std::string> args) {
  args.insert(args.begin(), "colony");
  std::vector<const char*> argv;
  for (auto& a : args)
    argv.push_back(a.c_str());
  argv.push_back(nullptr);
  run_result r;
  capture out{std::cout};
  capture err{std::cerr};
  r.outcome = parse(static_cast<int>(args.size()), argv.data());
  r.out = out.text();
  r.err = err.text();
  return r;
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1))
    ++n;
  return n;
}

// -- new settings -----------------------------------------------------------------------------

TEST(ConfigFiles, NewSettingsDefaults) {
  auto r = run({});
  ASSERT_TRUE(r.outcome.run) << r.err;
  auto& s = r.outcome.value;
  EXPECT_EQ(s.auth_http_url, "");
  EXPECT_EQ(s.acl_http_url, "");
  EXPECT_EQ(s.auth_http_timeout_ms, 2000u);
  EXPECT_EQ(s.auth_http_cache_seconds, 30u);
  EXPECT_EQ(s.max_publish_rate, 0u);
  EXPECT_EQ(s.max_publish_bytes_rate, 0u);
  EXPECT_EQ(s.max_connect_rate_per_ip, 0u);
  EXPECT_EQ(s.cluster_port, -1);
  EXPECT_EQ(s.cluster_seeds, "");
  EXPECT_EQ(s.persistence_interval, 1u);
}

TEST(ConfigFiles, NewSettingsFromFlags) {
  auto r = run({"--auth-http-url", "http://127.0.0.1:9000/auth", "--acl-http-url",
                "http://localhost/acl?x=1", "--auth-http-timeout-ms", "500",
                "--auth-http-cache-seconds", "0", "--max-publish-rate", "100",
                "--max-publish-bytes-rate", "65536", "--max-connect-rate-per-ip", "5",
                "--cluster-port", "1993", "--cluster-seeds", "10.0.0.2:1993, [::1]:1994",
                "--persistence-interval", "5"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  auto& s = r.outcome.value;
  EXPECT_EQ(s.auth_http_url, "http://127.0.0.1:9000/auth");
  EXPECT_EQ(s.acl_http_url, "http://localhost/acl?x=1");
  EXPECT_EQ(s.auth_http_timeout_ms, 500u);
  EXPECT_EQ(s.auth_http_cache_seconds, 0u);
  EXPECT_EQ(s.max_publish_rate, 100u);
  EXPECT_EQ(s.max_publish_bytes_rate, 65536u);
  EXPECT_EQ(s.max_connect_rate_per_ip, 5u);
  EXPECT_EQ(s.cluster_port, 1993);
  EXPECT_EQ(s.cluster_seeds, "10.0.0.2:1993, [::1]:1994");
  EXPECT_EQ(s.persistence_interval, 5u);
}

TEST(ConfigFiles, NewSettingsFromFileAndFlagsOverride) {
  temp_dir dir;
  auto cfg = dir.write("c.json", R"({"max-publish-rate": 10, "cluster-port": 2000,
                                     "auth-http-url": "http://a/b", "persistence-interval": 3})");
  auto r = run({"--config", cfg, "--max-publish-rate", "20"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.max_publish_rate, 20u);
  EXPECT_EQ(r.outcome.value.cluster_port, 2000);
  EXPECT_EQ(r.outcome.value.auth_http_url, "http://a/b");
  EXPECT_EQ(r.outcome.value.persistence_interval, 3u);
}

TEST(ConfigFiles, HelpShowsEveryNewSettingWithDefault) {
  auto r = run({"--help"});
  EXPECT_EQ(r.outcome.exit_code, 0);
  for (auto flag : {"--auth-http-url", "--acl-http-url", "--auth-http-timeout-ms",
                    "--auth-http-cache-seconds", "--max-publish-rate", "--max-publish-bytes-rate",
                    "--max-connect-rate-per-ip", "--cluster-port", "--cluster-seeds",
                    "--persistence-interval"})
    EXPECT_TRUE(contains(r.out, flag)) << flag;
  EXPECT_TRUE(contains(r.out, "--auth-http-timeout-ms arg (=2000)")) << r.out;
  EXPECT_TRUE(contains(r.out, "--auth-http-cache-seconds arg (=30)")) << r.out;
  EXPECT_TRUE(contains(r.out, "--cluster-port arg (=-1)")) << r.out;
  EXPECT_TRUE(contains(r.out, "Cluster:")) << r.out;
}

TEST(ConfigFiles, BadNewValuesAreErrors) {
  struct bad_case {
    std::vector<std::string> args;
    const char* key;
    const char* value;
  };
  const bad_case cases[] = {
    {{"--auth-http-url", "https://auth.example/x"}, "auth-http-url", "https://auth.example/x"},
    {{"--acl-http-url", "ftp://x"}, "acl-http-url", "ftp://x"},
    {{"--acl-http-url", "http://host:99999/"}, "acl-http-url", "99999"},
    {{"--auth-http-timeout-ms", "0"}, "auth-http-timeout-ms", "0"},
    {{"--cluster-port", "70000"}, "cluster-port", "70000"},
    {{"--cluster-seeds", "nocolon"}, "cluster-seeds", "nocolon"},
    {{"--cluster-seeds", "a:1,,b:2"}, "cluster-seeds", "''"},
    {{"--cluster-seeds", "a:0"}, "cluster-seeds", "a:0"},
    {{"--persistence-interval", "0"}, "persistence-interval", "0 is out of range"},
    {{"--max-publish-rate", "fast"}, "max-publish-rate", "fast"},
  };
  for (auto& c : cases) {
    auto r = run(c.args);
    EXPECT_FALSE(r.outcome.run) << c.args[0];
    EXPECT_EQ(r.outcome.exit_code, 2) << c.args[0];
    EXPECT_TRUE(contains(r.err, c.key)) << r.err;
    EXPECT_TRUE(contains(r.err, c.value)) << r.err;
  }
}

TEST(ConfigFiles, BadNewValuesInFile) {
  temp_dir dir;
  auto cfg = dir.write("c.json", R"({"max-connect-rate-per-ip": -3})");
  auto r = run({"--config", cfg});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "max-connect-rate-per-ip")) << r.err;
  EXPECT_TRUE(contains(r.err, "-3")) << r.err;
  cfg = dir.write("d.json", R"({"cluster-seeds": 5})");
  r = run({"--config", cfg});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "cluster-seeds")) << r.err;
}

TEST(ConfigFiles, ParseSeeds) {
  std::string error;
  auto seeds = parse_seeds("a:1, b.example:1883,[::1]:9", error);
  ASSERT_TRUE(seeds) << error;
  EXPECT_EQ(*seeds, (std::vector<std::string>{"a:1", "b.example:1883", "[::1]:9"}));
  seeds = parse_seeds("", error);
  ASSERT_TRUE(seeds);
  EXPECT_TRUE(seeds->empty());
  EXPECT_FALSE(parse_seeds("::1:9", error)); // IPv6 needs brackets
  EXPECT_FALSE(parse_seeds("a:", error));
  EXPECT_FALSE(parse_seeds(":1", error));
  EXPECT_FALSE(parse_seeds("a:1x", error));
}

// -- password and ACL files at validation time ----------------------------------------------

TEST(ConfigFiles, ValidFilesPass) {
  temp_dir dir;
  auto pw = dir.write("pw", make_entry("alice", "pw") + "\n");
  auto acl = dir.write("acl", "allow username alice 3 #\n");
  auto r = run({"--password-file", pw, "--acl-file", acl, "--check-config"});
  EXPECT_EQ(r.outcome.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "ok")) << r.out;
}

TEST(ConfigFiles, CheckConfigReportsBrokenPasswordFileWithLine) {
  temp_dir dir;
  auto pw = dir.write("pw", "# users\n" + make_entry("alice", "pw") + "\nbob:plaintext\n");
  auto r = run({"--password-file", pw, "--check-config"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "password-file")) << r.err;
  EXPECT_TRUE(contains(r.err, pw + ":3:")) << r.err;
  EXPECT_FALSE(contains(r.err, "plaintext")) << r.err;
}

TEST(ConfigFiles, CheckConfigReportsBrokenAclFileWithLine) {
  temp_dir dir;
  auto acl = dir.write("acl", "allow clientid * 3 a\n\npermit clientid * 3 b\n");
  auto r = run({"--acl-file", acl, "--check-config"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "acl-file")) << r.err;
  EXPECT_TRUE(contains(r.err, acl + ":3:")) << r.err;
  EXPECT_TRUE(contains(r.err, "permit")) << r.err;
}

TEST(ConfigFiles, MissingFilesAreErrorsAtStartup) {
  auto r = run({"--password-file", "/nonexistent/pw"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "/nonexistent/pw")) << r.err;
  r = run({"--acl-file", "/nonexistent/acl"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "/nonexistent/acl")) << r.err;
}

// -- hmq flags --------------------------------------------------------------------------------

TEST(ConfigFiles, HmqFlags) {
  auto r = run({"-port", "1884", "-host", "127.0.0.2", "-wsport", "8084", "-wspath", "/ws",
                "-httpport", "8081", "-clusterport", "1993", "-router", "10.0.0.9:9888", "-d"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  auto& s = r.outcome.value;
  EXPECT_EQ(s.port, 1884);
  EXPECT_EQ(s.host, "127.0.0.2");
  EXPECT_EQ(s.ws_port, 8084);
  EXPECT_EQ(s.ws_path, "/ws");
  EXPECT_EQ(s.http_port, 8081);
  EXPECT_EQ(s.cluster_port, 1993);
  EXPECT_EQ(s.cluster_seeds, "10.0.0.9:9888");
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(ConfigFiles, HmqShortFlags) {
  auto r = run({"-p", "1885", "-ws", "-1", "-wsp", "/x", "-hp", "-1", "-cp", "1994", "-r",
                "h:1", "-D", "-w", "64"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  auto& s = r.outcome.value;
  EXPECT_EQ(s.port, 1885);
  EXPECT_EQ(s.ws_port, -1);
  EXPECT_EQ(s.ws_path, "/x");
  EXPECT_EQ(s.http_port, -1);
  EXPECT_EQ(s.cluster_port, 1994);
  EXPECT_EQ(s.cluster_seeds, "h:1");
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_EQ(count(r.err, "warning"), 1u) << r.err; // -w
  EXPECT_TRUE(contains(r.err, "-w")) << r.err;
}

TEST(ConfigFiles, HmqConfigFlagAndBadHmqFlagValue) {
  temp_dir dir;
  auto cfg = dir.write("hmq.json", R"({"port": "1886"})");
  auto r = run({"-c", cfg});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.port, 1886);
  r = run({"-config=" + cfg});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.port, 1886);
  r = run({"-port", "abc"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "port")) << r.err;
  EXPECT_TRUE(contains(r.err, "abc")) << r.err;
}

// -- hmq JSON files ---------------------------------------------------------------------------

TEST(ConfigFiles, HmqJsonFile) {
  temp_dir dir;
  auto cfg = dir.write("hmq.json", R"({
    "workerNum": 4096, "port": "1887", "host": "127.0.0.1", "debug": true,
    "router": "127.0.0.1:9888", "wsPort": "1888", "wsPath": "/ws", "wsTLS": false,
    "httpPort": "8082", "cluster": {"port": "1995"},
    "plugins": {"auth": "authhttp", "bridge": "kafka"}})");
  auto r = run({"--config", cfg});
  ASSERT_TRUE(r.outcome.run) << r.err;
  auto& s = r.outcome.value;
  EXPECT_EQ(s.port, 1887);
  EXPECT_EQ(s.host, "127.0.0.1");
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_EQ(s.cluster_seeds, "127.0.0.1:9888");
  EXPECT_EQ(s.cluster_port, 1995);
  EXPECT_EQ(s.ws_port, 1888);
  EXPECT_EQ(s.ws_path, "/ws");
  EXPECT_EQ(s.http_port, 8082);
  // Exactly one warning per ignored key, each naming it.
  EXPECT_EQ(count(r.err, "warning"), 3u) << r.err;
  EXPECT_EQ(count(r.err, "'workerNum'"), 1u) << r.err;
  EXPECT_EQ(count(r.err, "'plugins.auth'"), 1u) << r.err;
  EXPECT_EQ(count(r.err, "'plugins.bridge'"), 1u) << r.err;
}

TEST(ConfigFiles, HmqJsonTlsFile) {
  temp_dir dir;
  auto cert = dir.write("cert.pem", "x");
  auto key = dir.write("key.pem", "x");
  auto cfg = dir.write("hmq.json", R"({"tlsPort": "8883", "tlsInfo": {"verify": false,
                                       "certFile": ")" + cert + R"(", "keyFile": ")" + key
                                                   + R"("}})");
  auto r = run({"--config", cfg});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.tls_port.value_or(-2), 8883);
  EXPECT_EQ(r.outcome.value.tls_cert, cert);
  EXPECT_EQ(r.outcome.value.tls_key, key);
  EXPECT_FALSE(r.outcome.value.tls_verify);
}

TEST(ConfigFiles, FlagsOverrideHmqFile) {
  temp_dir dir;
  auto cfg = dir.write("hmq.json", R"({"port": "1887", "wsPort": "1888"})");
  auto r = run({"--config", cfg, "--port", "1999", "-ws", "2000"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.port, 1999);
  EXPECT_EQ(r.outcome.value.ws_port, 2000);
}

TEST(ConfigFiles, HmqFileBadValueNamesKeyAndValue) {
  temp_dir dir;
  auto cfg = dir.write("hmq.json", R"({"wsPort": "eighty"})");
  auto r = run({"--config", cfg});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "wsPort")) << r.err;
  EXPECT_TRUE(contains(r.err, "eighty")) << r.err;
  EXPECT_TRUE(contains(r.err, cfg)) << r.err;
  cfg = dir.write("hmq2.json", R"({"port": "1883x"})");
  r = run({"--config", cfg});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "'port'")) << r.err;
  EXPECT_TRUE(contains(r.err, "1883x")) << r.err;
  cfg = dir.write("hmq3.json", R"({"httpPort": "99999"})"); // type ok, range not
  r = run({"--config", cfg});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "http-port")) << r.err;
  EXPECT_TRUE(contains(r.err, "99999")) << r.err;
}

TEST(ConfigFiles, HmqAclConfIsLoadedAndChecked) {
  temp_dir dir;
  auto acl = dir.write("acl.conf", "allow clientid * 3 #\n\nbogus line\n");
  auto cfg = dir.write("hmq.json", R"({"acl": true, "aclConf": ")" + acl + R"("})");
  auto r = run({"--config", cfg, "--check-config"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, acl + ":3:")) << r.err;
}

TEST(ConfigFiles, UnknownKeyStillAnError) {
  temp_dir dir;
  auto cfg = dir.write("hmq.json", R"({"port": "1883", "wsPortt": "1"})");
  auto r = run({"--config", cfg});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "wsPortt")) << r.err;
}

} // namespace
} // namespace colony::config
