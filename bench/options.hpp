// Command-line options of colony_loadgen, parsed without any dependency so the
// parser (and the loopback-only host check) can be unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony::bench {

enum class Scenario { fanin, fanout, pairs, conn };

std::optional<Scenario> parse_scenario(std::string_view s);
const char* scenario_name(Scenario s);

struct Options {
  Scenario scenario = Scenario::fanin;
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  int qos = 0;
  double duration_s = 10;     // measured publishing time
  double warmup_s = 1;        // publishing before measurement (not counted)
  double drain_s = 5;         // max wait for in-flight deliveries after publishing
  double drain_quiet_s = 1;   // drain ends early after this long without progress
  std::size_t payload = 64;   // bytes, >= PayloadHeader::kSize
  int publishers = 16;        // fanin
  int subscribers = 100;      // fanout
  int pairs = 500;            // pairs
  double rate = -1;           // msgs/s per publisher; -1 = scenario default (pairs 20, else 0 = unlimited)
  int connections = 10000;    // conn
  int broker_pid = 0;         // for /proc/PID/status VmRSS and /proc/PID/stat CPU
  double hold_s = 5;          // conn: how long to keep the idle connections open
  std::string label;          // copied to "broker_label"
  int inflight = 64;          // QoS 1 publisher window (<= broker receive maximum)
  int max_pending = 4000;     // end-to-end window: deliveries published but not yet received,
                              // for the whole run (split over publishers); 0 = open loop
  int threads = 1;
  int keepalive_s = -1;       // -1 = scenario default (conn 300, else 60)
  int connect_concurrency = 64;   // max TCP/MQTT handshakes in progress per process
                                  // (more overflows small listen backlogs: 1 s SYN retries)
  double connect_timeout_s = 60;  // all connections must be up within this
  int sockbuf = 0;            // SO_SNDBUF/SO_RCVBUF; 0 = kernel default (autotuning)
  std::string topic_prefix = "bench";
  bool clean_session = true;  // false: persistent sessions (the broker may store messages)
  bool verbose = false;

  double effective_rate() const;
  int effective_keepalive() const;
};

// Result of parsing: either options, or an error message (or help requested).
struct ParseOutcome {
  std::optional<Options> options;
  std::string error;  // non-empty on failure
  bool help = false;
};

ParseOutcome parse_options(const std::vector<std::string>& args);
std::string usage();

// The load generator must never be pointed at a remote machine: only literal
// loopback addresses (127.0.0.0/8, ::1) and "localhost" are accepted.
// Returns the address to connect to (localhost -> 127.0.0.1), or nullopt.
std::optional<std::string> loopback_address(std::string_view host);

}  // namespace colony::bench
