#include "config/settings.hpp"

#include "config/acl.hpp"
#include "config/hmq_compat.hpp"
#include "config/http_auth.hpp"
#include "config/password_file.hpp"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#ifndef COLONY_VERSION
#  define COLONY_VERSION "0.0.0"
#endif

namespace colony::config {

namespace po = boost::program_options;

namespace {

/// The value kinds a setting can have (for JSON type checks and messages).
enum class kind { text, integer, count, flag };

const char* kind_name(kind k) {
  switch (k) {
    case kind::text:
      return "a string";
    case kind::integer:
      return "an integer";
    case kind::count:
      return "a non-negative integer";
    case kind::flag:
      return "a boolean";
  }
  return "a value";
}

/// Builds the option descriptions bound to `s`, recording each option's kind.
class option_table {
public:
  explicit option_table(settings& s) {
    auto& listeners = group("Listeners");
    add(listeners, "host", kind::text, po::value(&s.host)->default_value(s.host),
        "address the MQTT, WebSocket and TLS listeners bind (default: 127.0.0.1 when run "
        "without a config file, 0.0.0.0 with one)");
    add(listeners, "port", kind::integer, po::value(&s.port)->default_value(s.port),
        "MQTT over TCP port (0 = any free port, -1 = off)");
    add(listeners, "ws-port", kind::integer, po::value(&s.ws_port)->default_value(s.ws_port),
        "MQTT over WebSocket port (-1 = off)");
    add(listeners, "ws-path", kind::text, po::value(&s.ws_path)->default_value(s.ws_path),
        "WebSocket URL path");
    // No default_value: "not given" (8883/8084 once a certificate is set) differs from -1.
    add(listeners, "wss-port", kind::integer, po::value<int>(),
        "MQTT over WebSocket over TLS port (default: 8084 when --tls-cert is set, otherwise "
        "off; -1 = off)");
    add(listeners, "tls-port", kind::integer, po::value<int>(),
        "MQTT over TLS port (default: 8883 when --tls-cert is set, otherwise off; -1 = off)");
    add(listeners, "unix-socket", kind::text, po::value(&s.unix_socket),
        "path of a Unix-domain socket listener (empty = off)");
    add(listeners, "max-connections", kind::count,
        po::value(&s.max_connections)->default_value(s.max_connections),
        "connections per listener (0 = unlimited)");

    auto& tls = group("TLS");
    add(tls, "tls-cert", kind::text, po::value(&s.tls_cert), "server certificate (PEM)");
    add(tls, "tls-key", kind::text, po::value(&s.tls_key), "server private key (PEM)");
    add(tls, "tls-ca", kind::text, po::value(&s.tls_ca), "CA bundle for client certificates");
    add(tls, "tls-verify", kind::flag,
        po::value(&s.tls_verify)->default_value(s.tls_verify)->implicit_value(true),
        "require a client certificate signed by --tls-ca");
    add(tls, "tls-ciphers", kind::text, po::value(&s.tls_ciphers),
        "OpenSSL cipher list for TLS 1.2 and/or TLS 1.3 suite names (TLS_...), ':'-separated "
        "(default: OpenSSL's)");
    add(tls, "tls-min-version", kind::text,
        po::value(&s.tls_min_version)->default_value(s.tls_min_version),
        "lowest TLS version accepted: 1.2 or 1.3");
    add(tls, "tls-use-identity-as-username", kind::flag,
        po::value(&s.tls_use_identity_as_username)
          ->default_value(s.tls_use_identity_as_username)
          ->implicit_value(true),
        "use the CN of a verified client certificate as the username (no password needed)");

    auto& auth = group("Authentication and authorization");
    add(auth, "allow-anonymous", kind::flag, po::value<bool>()->implicit_value(true),
        "accept clients without credentials (default: true when every listener is on "
        "loopback, false otherwise)");
    add(auth, "password-file", kind::text, po::value(&s.password_file),
        "mosquitto_passwd-format password file");
    add(auth, "acl-file", kind::text, po::value(&s.acl_file), "ACL file (hmq syntax)");
    add(auth, "auth-methods", kind::text,
        po::value(&s.auth_methods)->default_value(s.auth_methods),
        "MQTT 5 enhanced authentication methods offered over the password file, "
        "comma-separated: SCRAM-SHA-256, SCRAM-SHA-512 ('none' = off)");
    add(auth, "auth-http-url", kind::text, po::value(&s.auth_http_url),
        "http:// URL asked to authenticate each CONNECT (POST form fields username, clientid, "
        "password; HTTP 200 = allow)");
    add(auth, "acl-http-url", kind::text, po::value(&s.acl_http_url),
        "http:// URL asked to authorize each subscribe/publish (GET with query username, "
        "clientid, ip, topic, access = 1 subscribe / 2 publish; HTTP 200 = allow)");
    add(auth, "auth-http-timeout-ms", kind::count,
        po::value(&s.auth_http_timeout_ms)->default_value(s.auth_http_timeout_ms),
        "timeout of one auth/ACL HTTP request, in milliseconds (no answer = deny)");
    add(auth, "auth-http-cache-seconds", kind::count,
        po::value(&s.auth_http_cache_seconds)->default_value(s.auth_http_cache_seconds),
        "seconds an auth/ACL HTTP answer is reused (0 = ask every time)");

    auto& limits = group("Limits");
    add(limits, "max-packet-size", kind::count,
        po::value(&s.max_packet_size)->default_value(s.max_packet_size),
        "largest MQTT packet accepted, in bytes");
    add(limits, "max-queued-messages", kind::count,
        po::value(&s.max_queued_messages)->default_value(s.max_queued_messages),
        "QoS 1/2 messages queued per session (online beyond the in-flight window, or offline)");
    add(limits, "max-inflight", kind::count,
        po::value(&s.max_inflight)->default_value(s.max_inflight),
        "unacknowledged outgoing QoS 1/2 messages per session");
    add(limits, "receive-maximum", kind::count,
        po::value(&s.receive_maximum)->default_value(s.receive_maximum),
        "incoming QoS 2 messages a client may have unreleased (MQTT 5 Receive Maximum)");
    add(limits, "max-keepalive", kind::count,
        po::value(&s.max_keepalive)->default_value(s.max_keepalive),
        "largest keepalive granted, in seconds (0 = no maximum)");
    add(limits, "max-write-buffer", kind::count,
        po::value(&s.max_write_buffer)->default_value(s.max_write_buffer),
        "bytes queued for one slow client before its QoS 0 messages are dropped");
    add(limits, "max-topic-length", kind::count,
        po::value(&s.max_topic_length)->default_value(s.max_topic_length),
        "longest topic name or filter, in bytes");
    add(limits, "max-topic-levels", kind::count,
        po::value(&s.max_topic_levels)->default_value(s.max_topic_levels),
        "most levels in a topic name or filter");
    add(limits, "topic-alias-maximum", kind::count,
        po::value(&s.topic_alias_maximum)->default_value(s.topic_alias_maximum),
        "topic aliases a MQTT 5 client may use");
    add(limits, "connect-timeout", kind::count,
        po::value(&s.connect_timeout)->default_value(s.connect_timeout),
        "seconds allowed between accepting a connection and its CONNECT");
    add(limits, "max-publish-rate", kind::count,
        po::value(&s.max_publish_rate)->default_value(s.max_publish_rate),
        "PUBLISH packets per second one client may send, bursts up to one second's worth; "
        "beyond it the client is disconnected (MQTT 5: DISCONNECT 0x96) (0 = unlimited)");
    add(limits, "max-publish-bytes-rate", kind::count,
        po::value(&s.max_publish_bytes_rate)->default_value(s.max_publish_bytes_rate),
        "PUBLISH payload bytes per second one client may send, bursts up to one second's "
        "worth; beyond it the client is disconnected (MQTT 5: DISCONNECT 0x96) (0 = unlimited)");
    add(limits, "max-connect-rate-per-ip", kind::count,
        po::value(&s.max_connect_rate_per_ip)->default_value(s.max_connect_rate_per_ip),
        "CONNECTs per second accepted from one IP address over all listeners; beyond it "
        "CONNACK 0x9F (MQTT 5) / 0x03 server unavailable (3.1.1) (0 = unlimited)");

    auto& persistence = group("Persistence");
    add(persistence, "persistence", kind::text,
        po::value(&s.persistence)->default_value(s.persistence), "off, async or sync");
    add(persistence, "data-dir", kind::text, po::value(&s.data_dir)->default_value(s.data_dir),
        "directory of the persistent store");
    add(persistence, "persistence-interval", kind::count,
        po::value(&s.persistence_interval)->default_value(s.persistence_interval),
        "seconds between writes of the persistent store (persistence = async)");
    add(persistence, "max-queued-in-memory", kind::count,
        po::value(&s.max_queued_in_memory)->default_value(s.max_queued_in_memory),
        "queued QoS 1/2 messages a persistent session keeps in memory; more wait in the store "
        "and are read back as the client drains its queue (raise --max-queued-messages to "
        "queue more than this)");

    auto& cluster = group("Cluster");
    add(cluster, "cluster-port", kind::integer,
        po::value(&s.cluster_port)->default_value(s.cluster_port),
        "port other cluster members connect to (-1 = not clustered)");
    add(cluster, "cluster-seeds", kind::text, po::value(&s.cluster_seeds),
        "comma-separated host:port of cluster members to join");

    auto& http = group("HTTP (metrics, health, admin API)");
    add(http, "http-port", kind::integer, po::value(&s.http_port)->default_value(s.http_port),
        "HTTP port (-1 = off)");
    add(http, "http-host", kind::text, po::value(&s.http_host)->default_value(s.http_host),
        "HTTP bind address");
    add(http, "http-api-token", kind::text, po::value(&s.http_api_token),
        "bearer token the /api/ routes require (Authorization: Bearer <token>; empty = open)");

    auto& logging = group("Logging");
    add(logging, "log-level", kind::text, po::value(&s.log_level)->default_value(s.log_level),
        "trace, debug, info, warn or error (trace prints every packet)");
    add(logging, "log-format", kind::text,
        po::value(&s.log_format)->default_value(s.log_format),
        "auto (JSON unless stderr is a terminal), json or text");

    auto& runtime = group("Runtime");
    add(runtime, "io-threads", kind::count, po::value(&s.io_threads)->default_value(s.io_threads),
        "network I/O threads (0 = automatic: one per usable core with scheduler io, a quarter "
        "of them with scheduler pool; a container's CPU limit counts)");
    add(runtime, "scheduler", kind::text, po::value(&s.scheduler)->default_value(s.scheduler),
        "where actors run: io (on the I/O threads: a packet is handled on the thread that read "
        "it) or pool (on separate CAF worker threads)");
    add(runtime, "worker-threads", kind::count,
        po::value(&s.worker_threads)->default_value(s.worker_threads),
        "CAF worker threads with scheduler pool (0 = automatic: cores minus I/O threads)");
    add(runtime, "shards", kind::count, po::value(&s.shards)->default_value(s.shards),
        "topic shard actors (0 = automatic)");
    add(runtime, "sys-interval", kind::count,
        po::value(&s.sys_interval)->default_value(s.sys_interval),
        "seconds between $SYS statistics updates");
    add(runtime, "sys-notices", kind::flag,
        po::value(&s.sys_notices)->default_value(s.sys_notices)->implicit_value(true),
        "publish $SYS/broker/connection/clients/<id> on connect and disconnect");

    auto& general = group("General");
    general.add_options()("help,h", "print this help and exit")(
      "version", "print the version and exit")("config,c", po::value<std::string>(),
                                               "JSON configuration file (same keys as the flags)")(
      "check-config", "validate the configuration and exit (0 = valid)");
  }

  po::options_description all() const {
    po::options_description d{"colony — MQTT broker\n\nUsage: colony [options]\n\nOptions"};
    for (auto& g : groups_)
      d.add(*g);
    return d;
  }

  /// For hmq flag translation: nullopt if `--name` is no option, else whether it consumes the
  /// next argument as its value.
  std::optional<bool> takes_value(std::string_view name) const {
    auto d = all();
    auto* opt = d.find_nothrow(std::string{name}, false);
    if (opt == nullptr)
      return std::nullopt;
    return opt->semantic()->min_tokens() > 0;
  }

  /// Kind of a settable key, or nullopt if unknown.
  std::optional<kind> kind_of(const std::string& key) const {
    auto it = kinds_.find(key);
    if (it == kinds_.end())
      return std::nullopt;
    return it->second;
  }

private:
  po::options_description& group(const char* name) {
    groups_.push_back(std::make_unique<po::options_description>(name));
    return *groups_.back();
  }

  void add(po::options_description& g, const char* name, kind k, po::value_semantic* v,
           const char* help) {
    g.add_options()(name, v, help);
    kinds_[name] = k;
  }

  std::vector<std::unique_ptr<po::options_description>> groups_;
  std::map<std::string, kind> kinds_;
};

/// Turns one JSON value into the text a flag would have carried; sets `error` on a type
/// mismatch.
std::optional<std::string> json_to_text(const std::string& key, const nlohmann::json& v, kind k,
                                        std::string& error) {
  auto mismatch = [&] {
    error = "config key '" + key + "': value " + v.dump() + " is not " + kind_name(k);
    return std::nullopt;
  };
  switch (k) {
    case kind::text:
      if (!v.is_string())
        return mismatch();
      return v.get<std::string>();
    case kind::integer:
      if (!v.is_number_integer())
        return mismatch();
      return std::to_string(v.get<long long>());
    case kind::count:
      if (!v.is_number_unsigned())
        return mismatch();
      return std::to_string(v.get<unsigned long long>());
    case kind::flag:
      if (!v.is_boolean())
        return mismatch();
      return std::string{v.get<bool>() ? "true" : "false"};
  }
  return mismatch();
}

/// Reads the JSON config file into flag tokens ("--key=value").
bool load_json(const std::string& path, const option_table& table,
               std::vector<std::string>& tokens, std::string& error) {
  std::ifstream in{path};
  if (!in) {
    error = "cannot read config file '" + path + "'";
    return false;
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    error = "config file '" + path + "' is not valid JSON: " + e.what();
    return false;
  }
  if (!doc.is_object()) {
    error = "config file '" + path + "' must hold a JSON object";
    return false;
  }
  // hmq's camelCase keys and string-typed numbers become Colony keys and values.
  std::vector<std::string> warnings;
  bool translated = hmq::translate_json(doc, warnings, error);
  for (auto& w : warnings)
    std::cerr << "colony: warning: config file '" << path << "': " << w << "\n";
  if (!translated) {
    error = "config file '" + path + "': " + error;
    return false;
  }
  for (auto& [key, value] : doc.items()) {
    auto k = table.kind_of(key);
    if (!k) {
      error = "config file '" + path + "': unknown key '" + key + "'";
      return false;
    }
    auto text = json_to_text(key, value, *k, error);
    if (!text)
      return false;
    if (*k == kind::flag) {
      tokens.push_back("--" + key + "=" + *text); // implicit-value flags need the '=' form
    } else {
      // Two tokens, so an empty string ("off" for paths) stays a value.
      tokens.push_back("--" + key);
      tokens.push_back(*text);
    }
  }
  return true;
}

/// Boost's lexical_cast wraps "-1" into a huge unsigned number: refuse negative counts
/// before program_options sees them.
bool reject_negative_counts(const std::vector<std::string>& args, const option_table& table,
                            std::string& error) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.rfind("--", 0) != 0)
      continue;
    auto eq = a.find('=');
    std::string key = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    auto k = table.kind_of(key);
    if (!k || *k != kind::count)
      continue;
    std::string value = eq != std::string::npos ? a.substr(eq + 1)
                        : i + 1 < args.size()   ? args[i + 1]
                                                : std::string{};
    if (!value.empty() && value.front() == '-') {
      error = "'" + key + "': value '" + value + "' is not " + kind_name(*k);
      return false;
    }
  }
  return true;
}

} // namespace

std::vector<std::string> parse_auth_methods(std::string_view text, std::string& error) {
  std::vector<std::string> out;
  error.clear();
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
      v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
      v.remove_suffix(1);
    return v;
  };
  if (trim(text).empty() || trim(text) == "none")
    return out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    auto name = trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                         : comma - start));
    if (name != "SCRAM-SHA-256" && name != "SCRAM-SHA-512") {
      error = "unknown method '" + std::string{name}
              + "' (expected SCRAM-SHA-256, SCRAM-SHA-512 or none)";
      return {};
    }
    if (std::find(out.begin(), out.end(), name) == out.end())
      out.emplace_back(name);
    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  return out;
}

std::optional<std::vector<std::string>> parse_seeds(const std::string& seeds, std::string& error) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= seeds.size()) {
    auto comma = seeds.find(',', start);
    auto entry = seeds.substr(start, comma == std::string::npos ? std::string::npos
                                                                 : comma - start);
    start = comma == std::string::npos ? seeds.size() + 1 : comma + 1;
    while (!entry.empty() && (entry.front() == ' ' || entry.front() == '\t'))
      entry.erase(entry.begin());
    while (!entry.empty() && (entry.back() == ' ' || entry.back() == '\t'))
      entry.pop_back();
    if (entry.empty() && seeds.find_first_not_of(" \t") == std::string::npos)
      break; // no seeds at all
    std::string host;
    std::string port;
    if (!entry.empty() && entry.front() == '[') {
      auto close = entry.find("]:");
      if (close != std::string::npos) {
        host = entry.substr(1, close - 1);
        port = entry.substr(close + 2);
      }
    } else if (auto colon = entry.rfind(':');
               colon != std::string::npos && entry.find(':') == colon) {
      host = entry.substr(0, colon);
      port = entry.substr(colon + 1);
    }
    unsigned n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (host.empty() || port.empty() || ec != std::errc{} || end != port.data() + port.size()
        || n == 0 || n > 65535) {
      error = "'" + entry + "' is not host:port";
      return std::nullopt;
    }
    out.push_back(entry);
  }
  return out;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::vector<std::string> validate(const settings& s) {
  std::vector<std::string> problems;
  auto port_ok = [&](const char* key, int port) {
    if (port < -1 || port > 65535)
      problems.push_back(std::string{"'"} + key + "': " + std::to_string(port)
                         + " is not a port (expected -1 .. 65535)");
  };
  port_ok("port", s.port);
  port_ok("ws-port", s.ws_port);
  port_ok("wss-port", s.wss_port.value_or(-1));
  port_ok("tls-port", s.tls_port.value_or(-1));
  port_ok("http-port", s.http_port);
  port_ok("cluster-port", s.cluster_port);
  {
    std::string error;
    if (!parse_seeds(s.cluster_seeds, error))
      problems.push_back("'cluster-seeds': " + error);
  }
  for (auto [key, url] : {std::pair<const char*, const std::string*>{"auth-http-url",
                                                                       &s.auth_http_url},
                          std::pair<const char*, const std::string*>{"acl-http-url",
                                                                       &s.acl_http_url}}) {
    std::string error;
    if (!url->empty() && !parse_http_url(*url, error))
      problems.push_back(std::string{"'"} + key + "': " + error);
  }
  {
    std::string error;
    parse_auth_methods(s.auth_methods, error);
    if (!error.empty())
      problems.push_back("'auth-methods': " + error);
  }
  if (s.auth_http_timeout_ms == 0 || s.auth_http_timeout_ms > 600'000)
    problems.push_back("'auth-http-timeout-ms': " + std::to_string(s.auth_http_timeout_ms)
                       + " is out of range (expected 1 .. 600000)");
  if (s.persistence_interval == 0)
    problems.push_back("'persistence-interval': 0 is out of range (expected 1 or more seconds)");
  // The files are read now, so --check-config (and startup) report a broken one with its line.
  if (!s.password_file.empty()) {
    auto db = password_db::load(s.password_file);
    if (!db)
      problems.push_back("'password-file': " + db.error().to_string());
  }
  if (!s.acl_file.empty()) {
    auto rules = acl::load(s.acl_file);
    if (!rules)
      problems.push_back("'acl-file': " + rules.error().to_string());
  }
  if (s.max_packet_size < 16 || s.max_packet_size > 268'435'460)
    problems.push_back("'max-packet-size': " + std::to_string(s.max_packet_size)
                       + " is out of range (expected 16 .. 268435460)");
  if (s.max_inflight == 0 || s.max_inflight > 65535)
    problems.push_back("'max-inflight': " + std::to_string(s.max_inflight)
                       + " is out of range (expected 1 .. 65535)");
  if (s.receive_maximum == 0 || s.receive_maximum > 65535)
    problems.push_back("'receive-maximum': " + std::to_string(s.receive_maximum)
                       + " is out of range (expected 1 .. 65535)");
  if (s.max_keepalive > 65535)
    problems.push_back("'max-keepalive': " + std::to_string(s.max_keepalive)
                       + " is out of range (expected 0 .. 65535)");
  if (s.topic_alias_maximum > 65535)
    problems.push_back("'topic-alias-maximum': " + std::to_string(s.topic_alias_maximum)
                       + " is out of range (expected 0 .. 65535)");
  if (s.persistence != "off" && s.persistence != "async" && s.persistence != "sync")
    problems.push_back("'persistence': '" + s.persistence + "' is not one of off, async, sync");
  static const char* levels[] = {"trace", "debug", "info", "warn", "warning", "error", "off"};
  if (std::find(std::begin(levels), std::end(levels), s.log_level) == std::end(levels))
    problems.push_back("'log-level': '" + s.log_level
                       + "' is not one of trace, debug, info, warn, error");
  if (s.scheduler != "io" && s.scheduler != "pool")
    problems.push_back("'scheduler': '" + s.scheduler + "' is not one of io, pool");
  if (s.log_format != "auto" && s.log_format != "json" && s.log_format != "text")
    problems.push_back("'log-format': '" + s.log_format + "' is not one of auto, json, text");
  if (s.ws_path.empty() || s.ws_path.front() != '/')
    problems.push_back("'ws-path': '" + s.ws_path + "' must start with '/'");
  if (s.sys_interval == 0)
    problems.push_back("'sys-interval': must be at least 1 second");
  return problems;
}

parse_outcome parse(int argc, const char* const* argv) {
  parse_outcome out;
  settings s;
  option_table table{s};
  auto desc = table.all();
  po::variables_map vm;
  try {
    // Command-line flags are stored first: program_options keeps the first value stored for
    // a key, so flags override the file.
    // hmq's Go-style flags (-port 1883, -d, -wsport ...) become Colony flags first.
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i)
      args.emplace_back(argv[i]);
    std::vector<std::string> warnings;
    args = hmq::translate_args(
      args, [&table](std::string_view name) { return table.takes_value(name); }, warnings);
    for (auto& w : warnings)
      std::cerr << "colony: warning: " << w << "\n";
    if (std::string error; !reject_negative_counts(args, table, error)) {
      std::cerr << "colony: " << error << "\n";
      out.exit_code = 2;
      return out;
    }
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      out.exit_code = 0;
      return out;
    }
    if (vm.count("version")) {
      std::cout << "colony " << COLONY_VERSION << "\n";
      out.exit_code = 0;
      return out;
    }
    if (vm.count("config")) {
      std::vector<std::string> tokens;
      std::string error;
      if (!load_json(vm["config"].as<std::string>(), table, tokens, error)) {
        std::cerr << "colony: " << error << "\n";
        out.exit_code = 2;
        return out;
      }
      po::store(po::command_line_parser(tokens).options(desc).run(), vm);
      s.config_file_given = true;
    }
    po::notify(vm);
  } catch (const po::invalid_option_value& e) {
    std::cerr << "colony: " << e.what() << "\n";
    out.exit_code = 2;
    return out;
  } catch (const po::error& e) {
    std::cerr << "colony: " << e.what() << " (see --help)\n";
    out.exit_code = 2;
    return out;
  }
  if (!vm.count("host") || vm["host"].defaulted()) {
    // Safe default (as Mosquitto 2): no configuration at all means loopback only.
    s.host = s.config_file_given ? "0.0.0.0" : "127.0.0.1";
  }
  if (vm.count("allow-anonymous"))
    s.allow_anonymous = vm["allow-anonymous"].as<bool>();
  if (vm.count("tls-port"))
    s.tls_port = vm["tls-port"].as<int>();
  if (vm.count("wss-port"))
    s.wss_port = vm["wss-port"].as<int>();
  s.check_only = vm.count("check-config") > 0;
  auto problems = validate(s);
  if (!problems.empty()) {
    for (auto& p : problems)
      std::cerr << "colony: invalid configuration: " << p << "\n";
    out.exit_code = 2;
    return out;
  }
  if (s.check_only) {
    std::cout << "configuration ok\n";
    out.exit_code = 0;
    return out;
  }
  out.run = true;
  out.value = std::move(s);
  return out;
}

} // namespace colony::config
