// Colony's configuration: one plain struct, filled from defaults, then a JSON file
// (`--config`), then command-line flags (flags win). Every setting has one kebab-case name
// used both as `--name` and as the JSON key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony::config {

struct settings {
  // -- listeners --
  std::string host = "0.0.0.0";
  int port = 1883;      ///< -1 disables, 0 picks a free port
  int ws_port = 8083;
  std::string ws_path = "/mqtt";
  /// TLS listeners: not given = 8084 / 8883 when --tls-cert is set, off otherwise; -1 = off
  /// even with a certificate.
  std::optional<int> wss_port;
  std::optional<int> tls_port;
  std::string unix_socket;
  std::size_t max_connections = 0; ///< per listener, 0 = unlimited
  // -- TLS --
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  bool tls_verify = false;
  std::string tls_ciphers;               ///< OpenSSL cipher list / TLS 1.3 suites, "" = defaults
  std::string tls_min_version = "1.2";   ///< "1.2" or "1.3"
  bool tls_use_identity_as_username = false;
  // -- auth --
  std::optional<bool> allow_anonymous;
  std::string password_file;
  std::string acl_file;
  /// Enhanced authentication methods offered (MQTT 5 §4.12), comma-separated; they need a
  /// password file. "" or "none" = none (an Authentication Method is then refused, 0x8C).
  std::string auth_methods = "SCRAM-SHA-256,SCRAM-SHA-512";
  std::string auth_http_url;                  ///< POST username/clientid/password; 200 = allow
  std::string acl_http_url;                   ///< GET ?username&clientid&ip&topic&access
  std::size_t auth_http_timeout_ms = 2000;
  std::size_t auth_http_cache_seconds = 30;   ///< 0 = no caching
  // -- limits --
  std::size_t max_packet_size = 1024 * 1024;
  std::size_t max_queued_messages = 1000;
  std::size_t max_inflight = 20;
  std::size_t receive_maximum = 1024;
  std::size_t max_keepalive = 0; ///< 0 = no maximum
  std::size_t max_write_buffer = 1024 * 1024;
  std::size_t max_topic_length = 65535;
  std::size_t max_topic_levels = 128;
  std::size_t topic_alias_maximum = 64;
  std::size_t connect_timeout = 10; ///< seconds
  std::size_t max_publish_rate = 0;        ///< PUBLISH packets/s per client, 0 = unlimited
  std::size_t max_publish_bytes_rate = 0;  ///< PUBLISH bytes/s per client, 0 = unlimited
  std::size_t max_connect_rate_per_ip = 0; ///< CONNECTs/s per source address, 0 = unlimited
  // -- persistence --
  std::string persistence = "off";
  std::string data_dir = "data";
  std::size_t persistence_interval = 1; ///< seconds between flushes (persistence = async)
  std::size_t max_queued_in_memory = 10000; ///< per session; the rest stays in the store
  // -- cluster --
  int cluster_port = -1;     ///< -1 = not clustered
  std::string cluster_seeds; ///< comma-separated host:port of other members
  // -- HTTP --
  int http_port = 8080;
  std::string http_host = "127.0.0.1";
  std::string http_api_token; ///< empty = /api/ needs no token
  // -- logging --
  std::string log_level = "info";
  std::string log_format = "auto";
  // -- runtime --
  std::size_t io_threads = 0;     ///< 0 = automatic
  std::size_t worker_threads = 0; ///< CAF worker threads (scheduler "pool"), 0 = automatic
  /// Where actors run: "io" (on the I/O threads) or "pool" (CAF's own worker threads).
  std::string scheduler = "io";
  std::size_t shards = 0;         ///< topic shard actors, 0 = automatic
  std::size_t sys_interval = 10;  ///< seconds between $SYS statistics
  bool sys_notices = true;

  // -- derived --
  bool config_file_given = false;
  bool check_only = false;
};

/// Outcome of parsing: run, or exit with `exit_code` (0 after --help/--version, 2 on errors).
struct parse_outcome {
  bool run = false;
  int exit_code = 0;
  settings value;
};

/// Parses defaults, then `--config FILE` (JSON), then the other flags. Prints help, version or
/// the error (naming the key, the value and what was expected) to stdout/stderr.
parse_outcome parse(int argc, const char* const* argv);

/// Checks cross-field rules (ports in range, TLS files present when TLS is on, ...). Returns
/// the problems, one message each; empty when valid.
std::vector<std::string> validate(const settings& s);

/// True if `host` is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& host);

/// The names in a comma-separated --auth-methods value ("none" = no names); sets `error` for
/// a name that is not a known method.
std::vector<std::string> parse_auth_methods(std::string_view text, std::string& error);

/// Splits --cluster-seeds ("host:port,host:port", "[v6]:port") into its entries. Sets `error`
/// (naming the bad entry) and returns nullopt when one is not host:port.
std::optional<std::vector<std::string>> parse_seeds(const std::string& seeds, std::string& error);

} // namespace colony::config
