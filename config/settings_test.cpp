// Unit tests of the configuration parser (config/settings.hpp): defaults, JSON file, flags,
// precedence and error reporting (exit code 2 and a message naming the key).
#include "config/settings.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace colony::config {
namespace {

namespace fs = std::filesystem;

/// Swaps the rdbuf of a standard stream for a string buffer while alive.
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
  std::string out; // what went to std::cout
  std::string err; // what went to std::cerr
};

run_result run(std::vector<std::string> args) {
  args.insert(args.begin(), "colony");
  std::vector<const char*> argv;
  for (auto& a : args)
    argv.push_back(a.c_str());
  argv.push_back(nullptr);
  run_result r;
  {
    capture out{std::cout};
    capture err{std::cerr};
    r.outcome = parse(static_cast<int>(args.size()), argv.data());
    r.out = out.text();
    r.err = err.text();
  }
  return r;
}

/// A JSON config file in the temp directory, removed at the end of the test.
class temp_file {
public:
  explicit temp_file(const std::string& content) {
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path()
            / ("colony_settings_test_" + std::to_string(::getpid()) + "_"
               + (info ? std::string{info->name()} : std::string{"x"}) + "_"
               + std::to_string(counter++) + ".json");
    std::ofstream f{path_};
    f << content;
  }
  ~temp_file() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  std::string path() const { return path_.string(); }

private:
  fs::path path_;
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// -- defaults and flags ----------------------------------------------------------------

TEST(Settings, NoArgumentsRunsWithDefaults) {
  auto r = run({});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.exit_code, 0);
  const auto& s = r.outcome.value;
  EXPECT_EQ(s.port, 1883);
  EXPECT_EQ(s.ws_port, 8083);
  EXPECT_EQ(s.ws_path, "/mqtt");
  EXPECT_FALSE(s.tls_port.has_value());
  EXPECT_FALSE(s.wss_port.has_value());
  EXPECT_EQ(s.max_inflight, 20u);
  EXPECT_EQ(s.max_queued_messages, 1000u);
  EXPECT_EQ(s.log_level, "info");
  EXPECT_FALSE(s.allow_anonymous.has_value());
  EXPECT_FALSE(s.config_file_given);
  EXPECT_FALSE(s.check_only);
  EXPECT_TRUE(r.err.empty()) << r.err;
}

// Mosquitto-2-style safe default: without any configuration only loopback is served.
TEST(Settings, DefaultHostIsLoopbackWithoutConfigFile) {
  auto r = run({"--port", "1999"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.host, "127.0.0.1");
  EXPECT_TRUE(is_loopback(r.outcome.value.host));
}

TEST(Settings, DefaultHostIsAnyWithConfigFile) {
  temp_file f{R"({"port": 1999})"};
  auto r = run({"--config", f.path()});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.host, "0.0.0.0");
  EXPECT_TRUE(r.outcome.value.config_file_given);
}

TEST(Settings, ExplicitHostIsKept) {
  auto r = run({"--host", "0.0.0.0"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.host, "0.0.0.0");
  temp_file f{R"({"host": "10.0.0.1"})"};
  r = run({"-c", f.path()});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.host, "10.0.0.1");
}

TEST(Settings, FlagsAreParsed) {
  auto r = run({"--port", "1999", "--ws-port=-1", "--max-inflight", "7", "--log-level", "debug",
                "--tls-verify", "--sys-notices=false", "--ws-path", "/x", "--shards", "3",
                "--max-keepalive", "60"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  const auto& s = r.outcome.value;
  EXPECT_EQ(s.port, 1999);
  EXPECT_EQ(s.ws_port, -1);
  EXPECT_EQ(s.max_inflight, 7u);
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_TRUE(s.tls_verify);
  EXPECT_FALSE(s.sys_notices);
  EXPECT_EQ(s.ws_path, "/x");
  EXPECT_EQ(s.shards, 3u);
  EXPECT_EQ(s.max_keepalive, 60u);
}

TEST(Settings, AllowAnonymousIsTriState) {
  auto r = run({});
  ASSERT_TRUE(r.outcome.run);
  EXPECT_FALSE(r.outcome.value.allow_anonymous.has_value());
  r = run({"--allow-anonymous"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  ASSERT_TRUE(r.outcome.value.allow_anonymous.has_value());
  EXPECT_TRUE(*r.outcome.value.allow_anonymous);
  r = run({"--allow-anonymous=false"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  ASSERT_TRUE(r.outcome.value.allow_anonymous.has_value());
  EXPECT_FALSE(*r.outcome.value.allow_anonymous);
  temp_file f{R"({"allow-anonymous": false})"};
  r = run({"--config", f.path()});
  ASSERT_TRUE(r.outcome.run) << r.err;
  ASSERT_TRUE(r.outcome.value.allow_anonymous.has_value());
  EXPECT_FALSE(*r.outcome.value.allow_anonymous);
}

TEST(Settings, TlsPortsDistinguishNotGivenFromOff) {
  auto r = run({});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_FALSE(r.outcome.value.tls_port.has_value());
  EXPECT_FALSE(r.outcome.value.wss_port.has_value());
  r = run({"--tls-port", "-1", "--wss-port", "-1"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.tls_port.value_or(-2), -1);
  EXPECT_EQ(r.outcome.value.wss_port.value_or(-2), -1);
  temp_file f{R"({"tls-port": 8884})"};
  r = run({"--config", f.path()});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.tls_port.value_or(-2), 8884);
  r = run({"--tls-port", "70000"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 2);
}

// -- JSON file ------------------------------------------------------------------------------

TEST(Settings, JsonFileIsApplied) {
  temp_file f{R"({
    "host": "192.168.1.2",
    "port": 2883,
    "ws-port": -1,
    "max-inflight": 9,
    "max-queued-messages": 50,
    "log-level": "warn",
    "tls-verify": true,
    "sys-notices": false,
    "password-file": "/dev/null",
    "allow-anonymous": true
  })"};
  auto r = run({"--config", f.path()});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.exit_code, 0);
  const auto& s = r.outcome.value;
  EXPECT_EQ(s.host, "192.168.1.2");
  EXPECT_EQ(s.port, 2883);
  EXPECT_EQ(s.ws_port, -1);
  EXPECT_EQ(s.max_inflight, 9u);
  EXPECT_EQ(s.max_queued_messages, 50u);
  EXPECT_EQ(s.log_level, "warn");
  EXPECT_TRUE(s.tls_verify);
  EXPECT_FALSE(s.sys_notices);
  EXPECT_EQ(s.password_file, "/dev/null"); // read at validation: must exist
  EXPECT_EQ(s.allow_anonymous, std::optional<bool>{true});
  EXPECT_EQ(s.http_port, 8080); // untouched defaults stay
  EXPECT_TRUE(s.config_file_given);
}

TEST(Settings, EmptyJsonObjectIsValid) {
  temp_file f{"{}"};
  auto r = run({"--config", f.path()});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.port, 1883);
}

TEST(Settings, FlagsOverrideFile) {
  temp_file f{R"({"port": 2883, "max-inflight": 9, "log-level": "warn", "host": "10.1.1.1"})"};
  // Flags both before and after --config win over the file.
  auto r = run({"--port", "3883", "--config", f.path(), "--log-level", "error"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  const auto& s = r.outcome.value;
  EXPECT_EQ(s.port, 3883);
  EXPECT_EQ(s.log_level, "error");
  EXPECT_EQ(s.max_inflight, 9u); // from the file
  EXPECT_EQ(s.host, "10.1.1.1");
}

TEST(Settings, FlagEqualToDefaultStillOverridesFile) {
  temp_file f{R"({"port": 2883})"};
  auto r = run({"--config", f.path(), "--port", "1883"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.port, 1883);
}

TEST(Settings, HostFlagOverridesFileHost) {
  temp_file f{R"({"host": "10.1.1.1"})"};
  auto r = run({"--config", f.path(), "--host", "127.0.0.2"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.host, "127.0.0.2");
}

TEST(Settings, UnknownJsonKeyIsAnError) {
  temp_file f{R"({"port": 1883, "max-inflights": 5})"};
  auto r = run({"--config", f.path()});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "max-inflights")) << r.err;
  EXPECT_TRUE(contains(r.err, "unknown key")) << r.err;
}

TEST(Settings, JsonWrongTypeIsAnError) {
  temp_file f{R"({"port": "abc"})"};
  auto r = run({"--config", f.path()});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "'port'")) << r.err;
  EXPECT_TRUE(contains(r.err, "abc")) << r.err;
  EXPECT_TRUE(contains(r.err, "an integer")) << r.err;
}

TEST(Settings, JsonNumberAsStringForTextKeyIsAnError) {
  temp_file f{R"({"log-level": 3})"};
  auto r = run({"--config", f.path()});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "log-level")) << r.err;
  EXPECT_TRUE(contains(r.err, "a string")) << r.err;
}

TEST(Settings, JsonNegativeCountIsAnError) {
  temp_file f{R"({"max-inflight": -1})"};
  auto r = run({"--config", f.path()});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "max-inflight")) << r.err;
  EXPECT_TRUE(contains(r.err, "non-negative")) << r.err;
}

TEST(Settings, JsonFloatForIntegerIsAnError) {
  temp_file f{R"({"port": 1883.5})"};
  auto r = run({"--config", f.path()});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "port")) << r.err;
}

TEST(Settings, JsonStringForBooleanIsAnError) {
  temp_file f{R"({"tls-verify": "yes"})"};
  auto r = run({"--config", f.path()});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "tls-verify")) << r.err;
  EXPECT_TRUE(contains(r.err, "a boolean")) << r.err;
}

TEST(Settings, InvalidJsonIsAnError) {
  temp_file f{R"({"port": 1883,)"};
  auto r = run({"--config", f.path()});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "not valid JSON")) << r.err;
}

TEST(Settings, JsonThatIsNotAnObjectIsAnError) {
  temp_file f{R"([1, 2])"};
  auto r = run({"--config", f.path()});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "JSON object")) << r.err;
}

TEST(Settings, MissingConfigFileIsAnError) {
  auto r = run({"--config", "/nonexistent/colony/config.json"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "/nonexistent/colony/config.json")) << r.err;
}

// -- bad flags ------------------------------------------------------------------------------

TEST(Settings, PortOutOfRangeIsAnError) {
  auto r = run({"--port", "70000"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "'port'")) << r.err;
  EXPECT_TRUE(contains(r.err, "70000")) << r.err;
}

TEST(Settings, PortBelowMinusOneIsAnError) {
  auto r = run({"--http-port=-2"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "http-port")) << r.err;
}

TEST(Settings, PortOutOfRangeInFileIsAnError) {
  temp_file f{R"({"tls-port": 70000})"};
  auto r = run({"--config", f.path()});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "tls-port")) << r.err;
}

TEST(Settings, NonNumericPortFlagIsAnError) {
  auto r = run({"--port", "abc"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "port")) << r.err;
  EXPECT_TRUE(contains(r.err, "abc")) << r.err;
}

TEST(Settings, BadLogLevelIsAnError) {
  auto r = run({"--log-level", "loud"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "log-level")) << r.err;
  EXPECT_TRUE(contains(r.err, "loud")) << r.err;
}

TEST(Settings, AcceptedLogLevels) {
  for (const char* level : {"trace", "debug", "info", "warn", "warning", "error", "off"}) {
    auto r = run({"--log-level", level});
    EXPECT_TRUE(r.outcome.run) << level << ": " << r.err;
  }
}

TEST(Settings, BadLogFormatIsAnError) {
  auto r = run({"--log-format", "xml"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "log-format")) << r.err;
}

TEST(Settings, UnknownFlagIsAnError) {
  auto r = run({"--no-such-flag", "1"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "no-such-flag")) << r.err;
}

TEST(Settings, ZeroInflightIsAnError) {
  auto r = run({"--max-inflight", "0"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "max-inflight")) << r.err;
}

TEST(Settings, ReceiveMaximumRange) {
  EXPECT_EQ(run({"--receive-maximum", "0"}).outcome.exit_code, 2);
  EXPECT_EQ(run({"--receive-maximum", "65536"}).outcome.exit_code, 2);
  EXPECT_TRUE(run({"--receive-maximum", "65535"}).outcome.run);
}

TEST(Settings, MaxPacketSizeRange) {
  auto r = run({"--max-packet-size", "15"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "max-packet-size")) << r.err;
  EXPECT_TRUE(run({"--max-packet-size", "16"}).outcome.run);
}

TEST(Settings, WsPathMustStartWithSlash) {
  auto r = run({"--ws-path", "mqtt"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "ws-path")) << r.err;
}

TEST(Settings, PersistenceModes) {
  for (const char* mode : {"off", "async", "sync"}) {
    auto r = run({"--persistence", mode, "--max-queued-in-memory", "50"});
    ASSERT_TRUE(r.outcome.run) << mode << ": " << r.err;
    EXPECT_EQ(r.outcome.value.persistence, mode);
    EXPECT_EQ(r.outcome.value.max_queued_in_memory, 50u);
  }
  auto r = run({"--persistence", "bogus"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "'persistence': 'bogus'")) << r.err;
}

TEST(Settings, ZeroSysIntervalIsAnError) {
  auto r = run({"--sys-interval", "0"});
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "sys-interval")) << r.err;
}

// A count ("a non-negative integer") given as a negative flag value must be refused, as the
// JSON path refuses it (JsonNegativeCountIsAnError), not wrapped around to 2^64 - 1.
TEST(Settings, NegativeCountFlagIsAnError) {
  auto r = run({"--max-queued-messages=-1"});
  EXPECT_FALSE(r.outcome.run) << "max_queued_messages = " << r.outcome.value.max_queued_messages;
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "max-queued-messages")) << r.err;
}

// "unix-socket": "" means "off" (the documented empty value); a file saying so explicitly is
// valid. load_json() turns it into the token "--unix-socket=", which program_options refuses
// ("the argument ... should follow immediately after the equal sign").
TEST(Settings, EmptyStringInJsonIsAccepted) {
  temp_file f{R"({"unix-socket": "", "tls-ca": ""})"};
  auto r = run({"--config", f.path()});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.unix_socket, "");
}

// -- help, version, check-config --------------------------------------------------------

TEST(Settings, HelpExitsZeroWithoutRunning) {
  auto r = run({"--help"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "--port")) << r.out;
  EXPECT_TRUE(contains(r.out, "--max-inflight")) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
  r = run({"-h"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 0);
}

TEST(Settings, HelpWinsOverBadValues) {
  auto r = run({"--help", "--log-level", "loud"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 0);
}

TEST(Settings, VersionExitsZeroWithoutRunning) {
  auto r = run({"--version"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "colony ")) << r.out;
}

TEST(Settings, CheckConfigValidFileExitsZero) {
  temp_file f{R"({"port": 1999, "log-level": "debug"})"};
  auto r = run({"--config", f.path(), "--check-config"});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "ok")) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(Settings, CheckConfigInvalidFileExitsTwo) {
  temp_file f{R"({"port": 70000})"};
  auto r = run({"--check-config", "--config", f.path()});
  EXPECT_FALSE(r.outcome.run);
  EXPECT_EQ(r.outcome.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "port")) << r.err;
}

// -- validate() and is_loopback() directly -------------------------------------------------

TEST(Settings, ValidateDefaultsIsEmpty) {
  settings s;
  EXPECT_TRUE(validate(s).empty());
}

TEST(Settings, ValidateReportsEachProblem) {
  settings s;
  s.port = 70000;
  s.ws_port = -5;
  s.log_level = "loud";
  auto problems = validate(s);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_TRUE(contains(problems[0], "'port'"));
  EXPECT_TRUE(contains(problems[1], "'ws-port'"));
  EXPECT_TRUE(contains(problems[2], "'log-level'"));
}

TEST(Settings, IsLoopback) {
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("127.1.2.3"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_TRUE(is_loopback("localhost"));
  EXPECT_FALSE(is_loopback("0.0.0.0"));
  EXPECT_FALSE(is_loopback("10.0.0.1"));
  EXPECT_FALSE(is_loopback("::"));
  EXPECT_FALSE(is_loopback("1127.0.0.1"));
}

// -- enhanced authentication methods ---------------------------------------------------------

TEST(Settings, AuthMethodsDefaultToBothScrams) {
  auto r = run({});
  ASSERT_TRUE(r.outcome.run) << r.err;
  std::string error;
  auto names = parse_auth_methods(r.outcome.value.auth_methods, error);
  EXPECT_TRUE(error.empty()) << error;
  EXPECT_EQ(names, (std::vector<std::string>{"SCRAM-SHA-256", "SCRAM-SHA-512"}));
}

TEST(Settings, AuthMethodsFlagAndJsonKey) {
  auto r = run({"--auth-methods", "SCRAM-SHA-512"});
  ASSERT_TRUE(r.outcome.run) << r.err;
  EXPECT_EQ(r.outcome.value.auth_methods, "SCRAM-SHA-512");
  temp_file f{R"({"auth-methods": "none"})"};
  auto j = run({"--config", f.path()});
  ASSERT_TRUE(j.outcome.run) << j.err;
  EXPECT_EQ(j.outcome.value.auth_methods, "none");
}

TEST(Settings, ParseAuthMethods) {
  std::string error;
  EXPECT_TRUE(parse_auth_methods("none", error).empty());
  EXPECT_TRUE(error.empty());
  EXPECT_TRUE(parse_auth_methods("", error).empty());
  EXPECT_EQ(parse_auth_methods(" SCRAM-SHA-512 , SCRAM-SHA-512,SCRAM-SHA-256", error),
            (std::vector<std::string>{"SCRAM-SHA-512", "SCRAM-SHA-256"}));
  EXPECT_TRUE(error.empty());
  EXPECT_TRUE(parse_auth_methods("SCRAM-SHA-1", error).empty());
  EXPECT_TRUE(contains(error, "SCRAM-SHA-1"));
  parse_auth_methods("SCRAM-SHA-256,", error);
  EXPECT_FALSE(error.empty());
}

TEST(Settings, UnknownAuthMethodIsAnError) {
  settings s;
  s.auth_methods = "SCRAM-SHA-256,KERBEROS";
  auto problems = validate(s);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(contains(problems[0], "'auth-methods'"));
  EXPECT_TRUE(contains(problems[0], "KERBEROS"));
}

} // namespace
} // namespace colony::config
