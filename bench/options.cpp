// See options.hpp.
#include "options.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>

#include "stats.hpp"

namespace colony::bench {

std::optional<Scenario> parse_scenario(std::string_view s) {
  if (s == "fanin") return Scenario::fanin;
  if (s == "fanout") return Scenario::fanout;
  if (s == "pairs") return Scenario::pairs;
  if (s == "conn") return Scenario::conn;
  return std::nullopt;
}

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::fanin: return "fanin";
    case Scenario::fanout: return "fanout";
    case Scenario::pairs: return "pairs";
    case Scenario::conn: return "conn";
  }
  return "?";
}

double Options::effective_rate() const {
  if (rate >= 0) return rate;
  return scenario == Scenario::pairs ? 20.0 : 0.0;
}

int Options::effective_keepalive() const {
  if (keepalive_s >= 0) return keepalive_s;
  return scenario == Scenario::conn ? 300 : 60;
}

std::optional<std::string> loopback_address(std::string_view host) {
  if (host == "localhost") return std::string("127.0.0.1");
  const std::string h(host);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    const auto* b = reinterpret_cast<const unsigned char*>(&v4.s_addr);
    if (b[0] == 127) return h;
    return std::nullopt;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return h;
    return std::nullopt;
  }
  return std::nullopt;
}

std::string usage() {
  return R"(usage: colony_loadgen --scenario fanin|fanout|pairs|conn [options]

Load generator for MQTT 3.1.1 brokers on this machine (loopback only).
Prints one JSON line with the results on stdout; diagnostics go to stderr.

  --scenario S          fanin | fanout | pairs | conn               (fanin)
  --host H              127.0.0.0/8, ::1 or localhost                (127.0.0.1)
  --port P                                                           (1883)
  --qos 0|1                                                          (0)
  --duration SEC        measured publishing time                     (10)
  --warmup SEC          publishing before measurement, not counted   (1)
  --drain SEC           max wait for deliveries after publishing     (5)
  --drain-quiet SEC     drain ends after SEC without any progress    (1)
  --payload BYTES       payload size, >= 24                          (64)
  --publishers N        fanin: publishers on bench/in/<i>            (16)
  --subscribers N       fanout: subscribers of bench/out             (100)
  --pairs N             pairs: publisher i -> subscriber i           (500)
  --rate R              msgs/s per publisher, 0 = as fast as possible
                        (pairs: 20, other scenarios: 0)
  --inflight N          QoS 1 window of unacknowledged PUBLISHes     (64)
  --max-pending N       end-to-end window: at most N deliveries published but
                        not yet received, split over the publishers by fanout
                        (at least 4 messages each; a message unseen for 5 s
                        stops counting); 0 = open loop                      (4000)
  --connections N       conn: idle connections                       (10000)
  --hold SEC            conn: keep the connections open this long     (5)
  --broker-pid PID      read the broker's VmRSS / CPU time from /proc
  --label TEXT          copied to "broker_label" in the output
  --threads N           event-loop threads, connections split evenly (1)
  --keepalive SEC       MQTT keep alive (conn: 300, otherwise: 60)
  --connect-concurrency N  handshakes in progress at once             (64)
  --connect-timeout SEC all connections must be up within SEC        (60)
  --sockbuf BYTES       SO_SNDBUF/SO_RCVBUF (0 = kernel autotuning)   (0)
  --topic-prefix P      topic prefix                                 (bench)
  --clean-session 0|1   0: persistent sessions, so a broker with persistence
                        stores every QoS 1 delivery                   (1)
  --verbose             progress messages on stderr
  --help
)";
}

namespace {

template <typename T>
bool parse_int(std::string_view s, T& out, T lo, T hi) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  if (v < static_cast<long long>(lo) || v > static_cast<long long>(hi)) return false;
  out = static_cast<T>(v);
  return true;
}

bool parse_double(std::string_view s, double& out, double lo, double hi) {
  const std::string str(s);
  char* end = nullptr;
  const double v = std::strtod(str.c_str(), &end);
  if (str.empty() || end != str.c_str() + str.size() || !std::isfinite(v)) return false;
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

}  // namespace

ParseOutcome parse_options(const std::vector<std::string>& args) {
  ParseOutcome r;
  Options o;
  using Setter = std::function<bool(std::string_view)>;
  // Each option: how to apply its value, plus a short description of the
  // accepted range for the error message.
  const std::map<std::string, std::pair<Setter, const char*>, std::less<>> table = {
      {"--scenario", {[&](auto v) { auto s = parse_scenario(v); if (s) o.scenario = *s; return s.has_value(); }, "fanin|fanout|pairs|conn"}},
      {"--host", {[&](auto v) { o.host = std::string(v); return !v.empty(); }, "an address"}},
      {"--port", {[&](auto v) { return parse_int<std::uint16_t>(v, o.port, 1, 65535); }, "1..65535"}},
      {"--qos", {[&](auto v) { return parse_int(v, o.qos, 0, 1); }, "0 or 1"}},
      {"--duration", {[&](auto v) { return parse_double(v, o.duration_s, 0.1, 86400); }, "0.1..86400 s"}},
      {"--warmup", {[&](auto v) { return parse_double(v, o.warmup_s, 0, 3600); }, "0..3600 s"}},
      {"--drain", {[&](auto v) { return parse_double(v, o.drain_s, 0, 3600); }, "0..3600 s"}},
      {"--drain-quiet", {[&](auto v) { return parse_double(v, o.drain_quiet_s, 0.01, 3600); }, "0.01..3600 s"}},
      {"--payload", {[&](auto v) { return parse_int<std::size_t>(v, o.payload, PayloadHeader::kSize, 16u << 20); }, ">= 24 and <= 16 MiB"}},
      {"--publishers", {[&](auto v) { return parse_int(v, o.publishers, 1, 100000); }, "1..100000"}},
      {"--subscribers", {[&](auto v) { return parse_int(v, o.subscribers, 1, 100000); }, "1..100000"}},
      {"--pairs", {[&](auto v) { return parse_int(v, o.pairs, 1, 100000); }, "1..100000"}},
      {"--rate", {[&](auto v) { return parse_double(v, o.rate, 0, 1e9); }, ">= 0"}},
      {"--inflight", {[&](auto v) { return parse_int(v, o.inflight, 1, 65535); }, "1..65535"}},
      {"--max-pending", {[&](auto v) { return parse_int(v, o.max_pending, 0, 10'000'000); }, "0..10000000"}},
      {"--connections", {[&](auto v) { return parse_int(v, o.connections, 1, 1000000); }, "1..1000000"}},
      {"--hold", {[&](auto v) { return parse_double(v, o.hold_s, 0, 86400); }, "0..86400 s"}},
      {"--broker-pid", {[&](auto v) { return parse_int(v, o.broker_pid, 1, 1 << 30); }, "a pid"}},
      {"--label", {[&](auto v) { o.label = std::string(v); return true; }, "text"}},
      {"--threads", {[&](auto v) { return parse_int(v, o.threads, 1, 256); }, "1..256"}},
      {"--keepalive", {[&](auto v) { return parse_int(v, o.keepalive_s, 0, 65535); }, "0..65535"}},
      {"--connect-concurrency", {[&](auto v) { return parse_int(v, o.connect_concurrency, 1, 1000000); }, ">= 1"}},
      {"--connect-timeout", {[&](auto v) { return parse_double(v, o.connect_timeout_s, 0.1, 3600); }, "0.1..3600 s"}},
      {"--sockbuf", {[&](auto v) { return parse_int(v, o.sockbuf, 0, 1 << 30); }, ">= 0"}},
      {"--clean-session", {[&](auto v) { int x = 1; if (!parse_int(v, x, 0, 1)) return false; o.clean_session = x == 1; return true; }, "0 or 1"}},
      {"--topic-prefix", {[&](auto v) { o.topic_prefix = std::string(v); return !v.empty() && v.find_first_of("+#") == std::string_view::npos; }, "a topic level without wildcards"}},
  };

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      r.help = true;
      return r;
    }
    if (a == "--verbose" || a == "-v") {
      o.verbose = true;
      continue;
    }
    std::string_view name = a, value;
    bool have_value = false;
    if (const auto eq = a.find('='); eq != std::string_view::npos) {  // --opt=value
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      have_value = true;
    }
    const auto it = table.find(name);
    if (it == table.end()) {
      r.error = "unknown option: " + std::string(a);
      return r;
    }
    if (!have_value) {
      if (i + 1 >= args.size()) {
        r.error = "option " + std::string(name) + " needs a value";
        return r;
      }
      value = args[++i];
    }
    if (!it->second.first(value)) {
      r.error = "invalid value '" + std::string(value) + "' for " + std::string(name) +
                " (expected " + it->second.second + ")";
      return r;
    }
  }

  if (!loopback_address(o.host)) {
    r.error = "refusing host '" + o.host +
              "': colony_loadgen only targets loopback (127.0.0.0/8, ::1, localhost)";
    return r;
  }
  r.options = o;
  return r;
}

}  // namespace colony::bench
