// colony_loadgen - MQTT 3.1.1 load generator for the Colony benchmark.
//
// One epoll event loop per thread (one thread by default), non-blocking
// sockets, and its own minimal MQTT client (mqtt_wire.hpp) that shares no code
// with the broker. A run goes through these phases:
//
//   connect   open every connection (at most --connect-concurrency handshakes
//             in flight), CONNECT/CONNACK, SUBSCRIBE/SUBACK for subscribers;
//   warm-up   publishers publish messages flagged "warm-up" (not counted);
//   measure   publishers publish for --duration seconds;
//   drain     no new messages; wait (at most --drain s) until every expected
//             delivery arrived, or nothing moved for --drain-quiet s;
//   close     DISCONNECT, wait briefly for the broker to close, close.
//
// Flow control: besides the QoS 1 PUBACK window (--inflight), publishers keep
// an end-to-end window: the run has at most --max-pending deliveries in the
// pipeline (published but not yet received), split evenly over the publishers
// by fanout. A publisher does not run more than its share of messages ahead of
// the slowest of its subscribers. Open-loop publishing would only measure how
// deep the socket buffers and broker queues are (seconds of "latency") and
// make the broker drop messages once its queue limit is hit.
//
// Every payload starts with a PayloadHeader (publisher id, sequence number,
// CLOCK_MONOTONIC timestamp), from which subscribers count received / lost /
// duplicate messages and measure end-to-end latency. The result is printed as
// one JSON line on stdout (see README.md for the fields).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "json_line.hpp"
#include "mqtt_wire.hpp"
#include "options.hpp"
#include "stats.hpp"

namespace {

using namespace colony::bench;
namespace wire = colony::bench::mqtt;

std::int64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

constexpr std::int64_t kNsPerSec = 1'000'000'000;
std::int64_t to_ns(double seconds) { return static_cast<std::int64_t>(seconds * 1e9); }

constexpr std::size_t kHighWater = 64 * 1024;      // max unsent bytes a publisher queues
constexpr std::size_t kScratchSize = 256 * 1024;   // per-thread receive buffer
constexpr std::uint32_t kMaxPacket = 64u << 20;     // larger incoming packet = garbage
constexpr int kMaxEvents = 1024;
constexpr int kPublishBatch = 256;                  // messages per publisher per loop turn
constexpr std::int64_t kCloseGraceNs = 2 * kNsPerSec;
// A message not seen by every subscriber this long after it was published is
// presumed lost (QoS 0) and stops holding the end-to-end window.
constexpr std::int64_t kPendingGiveUpNs = 5 * kNsPerSec;
constexpr std::size_t kMinWindow = 4;  // messages; avoids stop-and-wait

// ---- run plan --------------------------------------------------------------------

// A publisher publishes on `topic`; each message is owed to `fanout`
// subscribers, whose progress on this publisher is in Shared::seen[slots[k]].
struct PublisherSpec {
  std::uint32_t id;
  std::string topic;
  std::uint32_t fanout;
  std::vector<std::uint32_t> slots;
};
// A subscriber subscribes to `filter` and expects the publishers
// [first_pub, first_pub + n_pubs); its progress on publisher first_pub + k is
// in Shared::seen[first_slot + k].
struct SubscriberSpec {
  std::string filter;
  std::uint32_t first_pub;
  std::uint32_t n_pubs;
  std::uint32_t first_slot = 0;
};
struct Plan {
  std::vector<PublisherSpec> pubs;
  std::vector<SubscriberSpec> subs;
  std::size_t idle = 0;  // conn scenario
  std::size_t slots = 0; // (subscriber, publisher) pairs
  std::size_t window = 0; // end-to-end window per publisher, messages (0 = open loop)
  std::size_t total() const { return pubs.size() + subs.size() + idle; }
};

Plan make_plan(const Options& o) {
  Plan p;
  const std::string& pre = o.topic_prefix;
  switch (o.scenario) {
    case Scenario::fanin:
      for (int i = 0; i < o.publishers; ++i)
        p.pubs.push_back({static_cast<std::uint32_t>(i), pre + "/in/" + std::to_string(i), 1, {}});
      p.subs.push_back({pre + "/in/#", 0, static_cast<std::uint32_t>(o.publishers), 0});
      break;
    case Scenario::fanout:
      p.pubs.push_back({0, pre + "/out", static_cast<std::uint32_t>(o.subscribers), {}});
      for (int i = 0; i < o.subscribers; ++i) p.subs.push_back({pre + "/out", 0, 1, 0});
      break;
    case Scenario::pairs:
      for (int i = 0; i < o.pairs; ++i) {
        const std::string topic = pre + "/pair/" + std::to_string(i);
        p.pubs.push_back({static_cast<std::uint32_t>(i), topic, 1, {}});
        p.subs.push_back({topic, static_cast<std::uint32_t>(i), 1, 0});
      }
      break;
    case Scenario::conn:
      p.idle = static_cast<std::size_t>(o.connections);
      break;
  }
  if (o.max_pending > 0 && !p.pubs.empty()) {
    std::size_t deliveries_per_round = 0;  // one message from every publisher
    for (const auto& pub : p.pubs) deliveries_per_round += pub.fanout;
    p.window = std::max(kMinWindow, static_cast<std::size_t>(o.max_pending) / deliveries_per_round);
  }
  for (auto& s : p.subs) {
    s.first_slot = static_cast<std::uint32_t>(p.slots);
    for (std::uint32_t k = 0; k < s.n_pubs; ++k)
      p.pubs[s.first_pub + k].slots.push_back(static_cast<std::uint32_t>(p.slots++));
  }
  return p;
}

// ---- state shared between the main thread and the workers ----------------------

struct Shared {
  Shared(const Options& o, std::size_t slots)
      : opt(o), seen(std::make_unique<std::atomic<std::int64_t>[]>(slots)) {}
  const Options& opt;

  // Per (subscriber, publisher) slot: timestamp of the newest message of that
  // publisher the subscriber has seen. Written by the subscriber's thread,
  // read by the publisher's (end-to-end window).
  std::unique_ptr<std::atomic<std::int64_t>[]> seen;

  std::atomic<int> ready{0};    // workers whose connections are all up
  std::atomic<bool> go{false};  // the timeline below is valid (release/acquire)
  std::int64_t start_ns = 0;    // publishing (warm-up) starts
  std::int64_t measure_ns = 0;  // measured publishing starts
  std::int64_t pub_end_ns = 0;  // publishing stops, drain starts
  std::atomic<bool> stop{false};   // close connections gracefully and return
  std::atomic<bool> abort{false};  // fatal error somewhere: bail out fast

  // Drain bookkeeping: a publisher that is finished (everything written and,
  // for QoS 1, acknowledged) adds sent * fanout to expected_deliveries.
  std::atomic<std::uint64_t> pubs_done{0};
  std::atomic<std::uint64_t> expected_deliveries{0};
  std::atomic<std::uint64_t> received_unique{0};
  std::atomic<std::int64_t> last_progress_ns{0};

  std::mutex mu;
  std::string error;
  void fail(const std::string& msg) {
    {
      std::lock_guard lock(mu);
      if (error.empty()) error = msg;
    }
    abort.store(true);
  }
};

// ---- per-thread results ---------------------------------------------------------

struct PubResult {
  std::uint32_t id = 0;
  std::uint64_t sent = 0;                // measured messages fully written to the socket
  std::uint64_t acked = 0;               // measured messages PUBACKed (QoS 1)
  std::vector<std::uint64_t> unacked;    // measured seqs still in flight at the end
};
struct SubResult {
  std::uint32_t first_pub = 0;
  std::vector<SeqTracker> trackers;      // one per expected publisher
};
struct WorkerResult {
  std::vector<PubResult> pubs;
  std::vector<SubResult> subs;
  LatencyHistogram hist;
  std::uint64_t unexpected = 0;     // PUBLISHes not from this run's publishers
  std::uint64_t stray_pubacks = 0;  // PUBACKs for unknown packet ids
  std::uint64_t connected = 0;
  std::int64_t first_connect_ns = 0;
  std::int64_t last_connack_ns = 0;
  std::int64_t last_rx_ns = 0;      // last measured delivery
};

// ---- connections ------------------------------------------------------------------

enum class Role : std::uint8_t { publisher, subscriber, idle };
enum class State : std::uint8_t { fresh, tcp_connecting, wait_connack, wait_suback, ready, closing, closed };

struct Conn {
  int fd = -1;
  Role role = Role::idle;
  State state = State::fresh;
  std::uint32_t spec = 0;   // index into Plan::pubs / Plan::subs
  std::string client_id;
  wire::Bytes in;           // unparsed tail of the input (partial packet)
  wire::Bytes out;          // output not yet accepted by the kernel
  std::size_t out_off = 0;  // first unsent byte of `out`
  std::uint64_t written_total = 0;
  bool epollout = false;    // EPOLLOUT currently requested
  std::int64_t last_send_ns = 0;

  // publisher
  struct Inflight {
    std::uint64_t seq;
    bool measured;
  };
  std::uint64_t seq = 0;        // next measured seq
  std::uint64_t warm_seq = 0;   // next warm-up seq
  std::uint64_t issued = 0;     // messages created (rate pacing)
  std::uint64_t sent = 0, acked = 0;
  std::deque<std::pair<std::uint64_t, bool>> ends;  // (stream offset of message end, measured)
  std::unordered_map<std::uint16_t, Inflight> inflight;
  std::uint16_t next_pid = 1;
  std::int64_t phase_ns = 0;    // rate pacing: time of this publisher's first message
  bool done = false;
  std::vector<std::int64_t> ts_ring;  // timestamps of the last Plan::window messages
  std::int64_t seen_min = 0;          // cached min of Shared::seen over its subscribers

  // subscriber
  std::vector<SeqTracker> trackers;

  std::size_t pending() const { return out.size() - out_off; }
};

std::string errno_text(int err) { return std::strerror(err); }

// ---- /proc helpers ------------------------------------------------------------------

std::optional<std::int64_t> read_vmrss_kb(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream is(line.substr(6));
      std::int64_t kb = 0;
      if (is >> kb) return kb;
    }
  }
  return std::nullopt;
}

// utime + stime of a process, in seconds.
std::optional<double> read_cpu_s(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto rp = all.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::istringstream is(all.substr(rp + 2));  // fields from #3 (state) on
  std::string tok;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; field <= 15 && (is >> tok); ++field) {
    if (field == 14) utime = std::stoull(tok);
    if (field == 15) stime = std::stoull(tok);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// ---- the event loop -------------------------------------------------------------------

class Worker {
 public:
  Worker(Shared& sh, const Plan& plan, int index, const sockaddr_storage& addr, socklen_t addr_len)
      : sh_(sh), opt_(sh.opt), plan_(plan), index_(index), addr_(addr), addr_len_(addr_len),
        scratch_(kScratchSize) {}

  void run() {
    try {
      loop();
    } catch (const std::exception& e) {
      sh_.fail(std::string("worker: ") + e.what());
    }
    for (auto& c : conns_)
      if (c->fd >= 0) ::close(c->fd);
    if (ep_ >= 0) ::close(ep_);
    collect();
  }

  WorkerResult result;

 private:
  // -- setup ---------------------------------------------------------------------------
  void build() {
    // Connection k of the run (subscribers first, then publishers, then idle
    // connections) belongs to worker k % threads.
    const std::size_t threads = static_cast<std::size_t>(opt_.threads);
    const std::string prefix = "lg" + std::to_string(::getpid()) + "-";
    std::size_t k = 0;
    auto take = [&](Role role, std::uint32_t spec) {
      if (k++ % threads != static_cast<std::size_t>(index_)) return;
      auto c = std::make_unique<Conn>();
      c->role = role;
      c->spec = spec;
      c->client_id = prefix + std::to_string(k - 1);
      if (role == Role::subscriber) {
        const auto& s = plan_.subs[spec];
        c->trackers.assign(s.n_pubs, SeqTracker());
      }
      conns_.push_back(std::move(c));
    };
    for (std::uint32_t i = 0; i < plan_.subs.size(); ++i) take(Role::subscriber, i);
    for (std::uint32_t i = 0; i < plan_.pubs.size(); ++i) take(Role::publisher, i);
    for (std::size_t i = 0; i < plan_.idle; ++i) take(Role::idle, 0);
    for (auto& c : conns_) {
      if (c->role != Role::publisher) continue;
      publishers_.push_back(c.get());
      c->ts_ring.assign(plan_.window, 0);
    }
  }

  void start_connect(Conn& c) {
    c.fd = ::socket(addr_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      sh_.fail("socket(): " + errno_text(errno) +
               (errno == EMFILE ? " (raise ulimit -n / RLIMIT_NOFILE)" : ""));
      return;
    }
    const int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt_.sockbuf > 0) {
      ::setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &opt_.sockbuf, sizeof opt_.sockbuf);
      ::setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &opt_.sockbuf, sizeof opt_.sockbuf);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = &c;
    c.epollout = true;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      sh_.fail("epoll_ctl: " + errno_text(errno));
      return;
    }
    c.state = State::tcp_connecting;
    ++open_;
    if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) != 0 &&
        errno != EINPROGRESS) {
      fail_connect(errno);
    }
  }

  void fail_connect(int err) {
    sh_.fail("connect to " + opt_.host + ":" + std::to_string(opt_.port) + " failed: " +
             errno_text(err) + (err == ECONNREFUSED ? " (is the broker running?)" : "") +
             (err == EADDRNOTAVAIL ? " (out of local ports?)" : ""));
  }

  // -- output ------------------------------------------------------------------------------
  void want_write(Conn& c, bool on) {
    if (c.epollout == on || c.fd < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.ptr = &c;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.epollout = on;
  }

  // Writes as much of c.out as the kernel takes; arms EPOLLOUT for the rest.
  void flush(Conn& c) {
    if (c.fd < 0) return;
    bool wrote = false;
    while (c.out_off < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<std::size_t>(n);
        c.written_total += static_cast<std::uint64_t>(n);
        wrote = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      on_socket_error(c, n < 0 ? errno : EPIPE);
      return;
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    } else if (c.out_off > (1u << 20)) {  // compact a long-stuck buffer
      c.out.erase(c.out.begin(), c.out.begin() + static_cast<std::ptrdiff_t>(c.out_off));
      c.out_off = 0;
    }
    if (wrote) {
      c.last_send_ns = now_;
      progress_ = true;
      // A message counts as sent once its last byte was accepted by the kernel.
      while (!c.ends.empty() && c.ends.front().first <= c.written_total) {
        if (c.ends.front().second) ++c.sent;
        c.ends.pop_front();
      }
    }
    want_write(c, c.out_off < c.out.size());
  }

  // -- publishing ----------------------------------------------------------------------------
  std::uint16_t alloc_packet_id(Conn& c) {
    for (;;) {
      const std::uint16_t id = c.next_pid;
      c.next_pid = static_cast<std::uint16_t>(c.next_pid == 65535 ? 1 : c.next_pid + 1);
      if (!c.inflight.contains(id)) return id;
    }
  }

  void publish_one(Conn& c, bool measured) {
    const auto& spec = plan_.pubs[c.spec];
    PayloadHeader h;
    h.flags = measured ? 0 : PayloadHeader::kFlagWarmup;
    h.publisher_id = spec.id;
    h.seq = measured ? c.seq++ : c.warm_seq++;
    const std::int64_t ts = mono_ns();
    h.timestamp_ns = static_cast<std::uint64_t>(ts);
    if (!c.ts_ring.empty()) c.ts_ring[c.issued % c.ts_ring.size()] = ts;
    const auto head = h.encode();
    std::uint16_t pid = 0;
    if (opt_.qos > 0) {
      pid = alloc_packet_id(c);
      c.inflight.emplace(pid, Conn::Inflight{h.seq, measured});
    }
    wire::append_publish(c.out, spec.topic, static_cast<std::uint8_t>(opt_.qos), pid, head,
                         opt_.payload - PayloadHeader::kSize);
    c.ends.emplace_back(c.written_total + c.pending(), measured);
    ++c.issued;
  }

  // End-to-end window: may publisher `c` issue another message? Only if the
  // message max_pending back has been seen (or overtaken) by every subscriber,
  // or is older than kPendingGiveUpNs.
  bool window_open(Conn& c) {
    const std::size_t w = c.ts_ring.size();
    if (w == 0 || c.issued < w) return true;
    const std::int64_t oldest = c.ts_ring[c.issued % w];
    if (c.seen_min >= oldest || now_ - oldest > kPendingGiveUpNs) return true;
    std::int64_t m = INT64_MAX;  // refresh the cached minimum once
    for (std::uint32_t slot : plan_.pubs[c.spec].slots)
      m = std::min(m, sh_.seen[slot].load(std::memory_order_relaxed));
    c.seen_min = m;
    return c.seen_min >= oldest;
  }

  // Publishes what is due on one publisher. Returns true if it could have
  // published more right away (unlimited rate, not blocked): the loop then
  // polls without sleeping.
  bool pump(Conn& c) {
    if (c.state != State::ready || c.done) return false;
    if (now_ >= sh_.pub_end_ns) {
      // Publishing is over; the publisher is finished once everything is
      // written and (QoS 1) acknowledged.
      if (c.pending() == 0 && c.inflight.empty()) {
        c.done = true;
        sh_.expected_deliveries.fetch_add(c.sent * plan_.pubs[c.spec].fanout);
        sh_.pubs_done.fetch_add(1);
      }
      return false;
    }
    if (now_ < sh_.start_ns) return false;
    const bool measured = now_ >= sh_.measure_ns;
    const double rate = opt_.effective_rate();
    std::uint64_t due = UINT64_MAX;
    if (rate > 0) {
      if (now_ < c.phase_ns) return false;
      due = static_cast<std::uint64_t>(static_cast<double>(now_ - c.phase_ns) * rate / 1e9) + 1;
    }
    int n = 0;
    bool more = false;
    while (true) {
      if (opt_.qos > 0 && c.inflight.size() >= static_cast<std::size_t>(opt_.inflight)) break;
      if (c.pending() >= kHighWater) break;
      if (c.issued >= due) break;
      if (!window_open(c)) {
        window_blocked_ = true;
        break;
      }
      if (n++ == kPublishBatch) {
        more = true;
        break;
      }
      publish_one(c, measured);
    }
    if (n > 0) flush(c);
    return more || (rate == 0 && n > 0 && c.pending() < kHighWater &&
                    (opt_.qos == 0 || c.inflight.size() < static_cast<std::size_t>(opt_.inflight)));
  }

  // -- input ---------------------------------------------------------------------------------
  void on_readable(Conn& c) {
    for (int round = 0; round < 4 && c.fd >= 0; ++round) {
      const ssize_t n = ::recv(c.fd, scratch_.data(), scratch_.size(), 0);
      if (n > 0) {
        now_ = mono_ns();  // receive timestamp for latency
        progress_ = true;
        feed(c, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < scratch_.size()) break;
        continue;
      }
      if (n == 0) {
        on_eof(c);
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      on_socket_error(c, errno);
      return;
    }
    if (c.fd >= 0 && c.pending() > 0) flush(c);  // PUBACKs, SUBSCRIBE
  }

  // Parses every complete packet in (c.in + the n fresh bytes in scratch_).
  void feed(Conn& c, std::size_t n) {
    wire::ByteView data;
    if (c.in.empty()) {
      data = wire::ByteView(scratch_.data(), n);
    } else {
      c.in.insert(c.in.end(), scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(n));
      data = wire::ByteView(c.in);
    }
    std::size_t used = 0;
    while (c.fd >= 0 && !sh_.abort.load(std::memory_order_relaxed)) {
      const auto r = wire::parse_frame(data.subspan(used), kMaxPacket);
      if (r.status == wire::ParseStatus::need_more) break;
      if (r.status == wire::ParseStatus::malformed) {
        sh_.fail("malformed packet from broker on " + c.client_id);
        return;
      }
      used += r.frame.total_size;
      on_packet(c, r.frame);
    }
    if (c.in.empty()) {
      if (used < n) c.in.assign(scratch_.begin() + static_cast<std::ptrdiff_t>(used),
                                scratch_.begin() + static_cast<std::ptrdiff_t>(n));
    } else {
      c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(used));
    }
  }

  void on_packet(Conn& c, const wire::Frame& f) {
    using wire::PacketType;
    // After our DISCONNECT nothing may be sent any more (not even PUBACKs), and
    // late packets are not counted: the run is over.
    if (c.state == State::closing) return;
    switch (f.type()) {
      case PacketType::connack: {
        const auto ack = wire::decode_connack(f.body);
        if (c.state != State::wait_connack || !ack) {
          sh_.fail("unexpected or malformed CONNACK on " + c.client_id);
          return;
        }
        if (ack->return_code != 0) {
          sh_.fail("broker refused connection " + c.client_id + ": CONNACK return code " +
                   std::to_string(ack->return_code) + " (" + wire::connack_reason(ack->return_code) + ")");
          return;
        }
        ++result.connected;
        --connecting_;
        result.last_connack_ns = now_;
        if (c.role == Role::subscriber) {
          wire::append_subscribe(c.out, 1, plan_.subs[c.spec].filter, static_cast<std::uint8_t>(opt_.qos));
          c.state = State::wait_suback;
        } else {
          c.state = State::ready;
          ++ready_;
        }
        return;
      }
      case PacketType::suback: {
        const auto ack = wire::decode_suback(f.body);
        if (c.state != State::wait_suback || !ack || ack->return_codes.size() != 1) {
          sh_.fail("unexpected or malformed SUBACK on " + c.client_id);
          return;
        }
        if (ack->return_codes[0] == 0x80) {
          sh_.fail("broker refused subscription to '" + plan_.subs[c.spec].filter + "'");
          return;
        }
        c.state = State::ready;
        ++ready_;
        return;
      }
      case PacketType::publish:
        on_publish(c, f);
        return;
      case PacketType::puback: {
        const auto id = wire::decode_puback(f.body);
        if (!id) {
          sh_.fail("malformed PUBACK on " + c.client_id);
          return;
        }
        const auto it = c.inflight.find(*id);
        if (it == c.inflight.end()) {
          ++result.stray_pubacks;
          return;
        }
        if (it->second.measured) ++c.acked;
        c.inflight.erase(it);
        return;
      }
      case PacketType::pingresp:
        return;
      default:
        sh_.fail("unexpected packet type " + std::to_string(static_cast<int>(f.type())) + " on " +
                 c.client_id);
    }
  }

  void on_publish(Conn& c, const wire::Frame& f) {
    const auto p = wire::decode_publish(f.flags(), f.body);
    if (!p) {
      sh_.fail("malformed PUBLISH on " + c.client_id);
      return;
    }
    if (p->qos == 1) wire::append_puback(c.out, p->packet_id);  // always acknowledge
    if (p->qos > 1) {
      sh_.fail("broker sent a QoS 2 PUBLISH to " + c.client_id);
      return;
    }
    if (c.role != Role::subscriber) {
      ++result.unexpected;
      return;
    }
    const auto h = PayloadHeader::decode(p->payload);
    if (!h) {
      ++result.unexpected;
      return;
    }
    const auto& spec = plan_.subs[c.spec];
    if (h->publisher_id < spec.first_pub || h->publisher_id - spec.first_pub >= spec.n_pubs) {
      ++result.unexpected;
      return;
    }
    // Progress for the publisher's end-to-end window (warm-up messages too).
    auto& seen = sh_.seen[spec.first_slot + (h->publisher_id - spec.first_pub)];
    const auto ts = static_cast<std::int64_t>(h->timestamp_ns);
    if (ts > seen.load(std::memory_order_relaxed)) seen.store(ts, std::memory_order_relaxed);
    if (h->warmup()) return;
    const auto outcome = c.trackers[h->publisher_id - spec.first_pub].on_receive(h->seq);
    if (outcome == SeqTracker::Outcome::fresh || outcome == SeqTracker::Outcome::late) {
      result.hist.record(now_ > ts ? static_cast<std::uint64_t>(now_ - ts) : 0);
      result.last_rx_ns = now_;
      ++rx_delta_;
    } else if (outcome == SeqTracker::Outcome::rejected) {
      ++result.unexpected;
    }
  }

  // -- connection end ------------------------------------------------------------------------
  void close_conn(Conn& c) {
    if (c.fd < 0) return;
    ::close(c.fd);  // also removes it from the epoll set
    c.fd = -1;
    c.state = State::closed;
    --open_;
  }

  void on_eof(Conn& c) {
    if (c.state == State::closing || sh_.stop.load()) {
      close_conn(c);
      return;
    }
    sh_.fail("broker closed the connection of " + c.client_id +
             (c.state == State::wait_connack ? " before CONNACK" : ""));
    close_conn(c);
  }

  void on_socket_error(Conn& c, int err) {
    if (c.state == State::tcp_connecting) {
      fail_connect(err);
    } else if (c.state != State::closing && !sh_.stop.load()) {
      sh_.fail("socket error on " + c.client_id + ": " + errno_text(err));
    }
    close_conn(c);
  }

  void on_event(Conn& c, std::uint32_t events) {
    if (c.state == State::tcp_connecting) {
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        fail_connect(err);
        close_conn(c);
        return;
      }
      c.state = State::wait_connack;
      wire::ConnectOptions co;
      co.client_id = c.client_id;
      co.keep_alive_s = static_cast<std::uint16_t>(opt_.effective_keepalive());
      co.clean_session = opt_.clean_session;
      wire::append_connect(c.out, co);
      flush(c);
      return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    if (c.fd >= 0 && (events & EPOLLOUT)) flush(c);
  }

  void begin_close() {
    closing_ = true;
    close_deadline_ = now_ + kCloseGraceNs;
    for (auto& cp : conns_) {
      Conn& c = *cp;
      if (c.fd < 0) continue;
      if (c.state == State::tcp_connecting) {
        close_conn(c);
        continue;
      }
      // Send DISCONNECT and wait for the broker to close its side first, so
      // that TIME_WAIT sockets pile up on the broker side, not on ours (a
      // 10k-connection run would otherwise tie up 10k local ports for 60 s).
      c.state = State::closing;
      wire::append_disconnect(c.out);
      flush(c);
    }
  }

  void send_pings() {
    const int ka = opt_.effective_keepalive();
    if (ka == 0) return;
    const std::int64_t idle_limit = static_cast<std::int64_t>(ka) * kNsPerSec / 2;
    for (auto& cp : conns_) {
      Conn& c = *cp;
      if (c.state == State::ready && c.pending() == 0 && now_ - c.last_send_ns >= idle_limit) {
        wire::append_pingreq(c.out);
        flush(c);
      }
    }
  }

  // -- main loop ---------------------------------------------------------------------------------
  void loop() {
    build();
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) throw std::runtime_error("epoll_create1: " + errno_text(errno));
    const std::size_t per_thread_cap =
        std::max<std::size_t>(1, static_cast<std::size_t>(opt_.connect_concurrency / opt_.threads));
    std::size_t next_connect = 0;
    bool signalled_ready = false;
    bool timeline_known = false;
    std::int64_t next_ping_check = 0;
    std::vector<epoll_event> events(kMaxEvents);
    now_ = mono_ns();
    result.first_connect_ns = now_;

    while (true) {
      now_ = mono_ns();
      if (sh_.abort.load(std::memory_order_relaxed)) return;

      // Connect phase: keep at most per_thread_cap handshakes in progress.
      while (!closing_ && next_connect < conns_.size() && connecting_ < per_thread_cap) {
        Conn& c = *conns_[next_connect++];
        ++connecting_;
        start_connect(c);
        if (sh_.abort.load()) return;
      }
      if (!signalled_ready && ready_ == conns_.size()) {
        signalled_ready = true;
        sh_.ready.fetch_add(1);
      }
      if (!timeline_known && sh_.go.load(std::memory_order_acquire)) {
        timeline_known = true;
        // Spread rate-paced publishers evenly over one send interval.
        const double rate = opt_.effective_rate();
        for (Conn* p : publishers_) {
          const auto& spec = plan_.pubs[p->spec];
          p->phase_ns = sh_.start_ns;
          if (rate > 0)
            p->phase_ns += static_cast<std::int64_t>(1e9 / rate * spec.id /
                                                     static_cast<double>(plan_.pubs.size()));
        }
      }
      if (!closing_ && sh_.stop.load()) begin_close();
      if (closing_ && (open_ == 0 || now_ >= close_deadline_)) return;

      // Publishing.
      bool busy = false;
      window_blocked_ = false;
      if (timeline_known && !closing_) {
        for (Conn* p : publishers_) busy |= pump(*p);
      }
      if (!closing_ && now_ >= next_ping_check) {
        send_pings();
        next_ping_check = now_ + kNsPerSec / 10;
      }

      // Wait for I/O. Rate-paced publishing needs ~1 ms ticks; otherwise
      // wake up every 10 ms to follow the phases.
      int timeout_ms = 10;
      if (busy) timeout_ms = 0;
      else if (window_blocked_ && opt_.threads > 1) timeout_ms = 1;  // progress may come from another thread
      else if (timeline_known && opt_.effective_rate() > 0 && now_ < sh_.pub_end_ns) timeout_ms = 1;
      const int n = ::epoll_wait(ep_, events.data(), kMaxEvents, timeout_ms);
      if (n < 0 && errno != EINTR) throw std::runtime_error("epoll_wait: " + errno_text(errno));
      now_ = mono_ns();
      for (int i = 0; i < n; ++i) on_event(*static_cast<Conn*>(events[static_cast<std::size_t>(i)].data.ptr),
                                           events[static_cast<std::size_t>(i)].events);

      if (rx_delta_ > 0) {
        sh_.received_unique.fetch_add(rx_delta_, std::memory_order_relaxed);
        rx_delta_ = 0;
      }
      if (progress_) {
        sh_.last_progress_ns.store(now_, std::memory_order_relaxed);
        progress_ = false;
      }
    }
  }

  void collect() {
    for (auto& cp : conns_) {
      Conn& c = *cp;
      if (c.role == Role::publisher) {
        PubResult r;
        r.id = plan_.pubs[c.spec].id;
        r.sent = c.sent;
        r.acked = c.acked;
        for (const auto& [pid, e] : c.inflight)
          if (e.measured) r.unacked.push_back(e.seq);
        std::sort(r.unacked.begin(), r.unacked.end());
        result.pubs.push_back(std::move(r));
      } else if (c.role == Role::subscriber) {
        result.subs.push_back({plan_.subs[c.spec].first_pub, std::move(c.trackers)});
      }
    }
  }

  Shared& sh_;
  const Options& opt_;
  const Plan& plan_;
  int index_;
  sockaddr_storage addr_;
  socklen_t addr_len_;
  std::vector<std::uint8_t> scratch_;
  int ep_ = -1;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> publishers_;
  std::size_t connecting_ = 0;  // handshakes in progress
  std::size_t ready_ = 0;       // connections fully set up
  std::size_t open_ = 0;        // open sockets
  bool closing_ = false;
  std::int64_t close_deadline_ = 0;
  std::int64_t now_ = 0;
  std::uint64_t rx_delta_ = 0;
  bool progress_ = false;
  bool window_blocked_ = false;  // some publisher waits for its subscribers
};

// ---- main --------------------------------------------------------------------------------

void raise_nofile_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

bool resolve(const std::string& host, std::uint16_t port, sockaddr_storage& out, socklen_t& len) {
  std::memset(&out, 0, sizeof out);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

void sleep_until_ns(std::int64_t t) {
  const std::int64_t d = t - mono_ns();
  if (d > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(d));
}

int run(const Options& opt) {
  raise_nofile_limit();
  ::signal(SIGPIPE, SIG_IGN);

  const Plan plan = make_plan(opt);
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur != RLIM_INFINITY && plan.total() + 64 > rl.rlim_cur) {
    std::cerr << "colony_loadgen: " << plan.total() << " connections need more file descriptors than "
              << "RLIMIT_NOFILE allows (" << rl.rlim_cur << "); raise the hard limit (ulimit -Hn)\n";
    return 2;
  }
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  const std::string host = *loopback_address(opt.host);
  if (!resolve(host, opt.port, addr, addr_len)) {
    std::cerr << "colony_loadgen: cannot parse address " << host << "\n";
    return 2;
  }
  auto log = [&](const std::string& msg) {
    if (opt.verbose) std::cerr << "colony_loadgen: " << msg << "\n";
  };

  Shared sh(opt, plan.slots);
  const auto rss_before = opt.broker_pid ? read_vmrss_kb(opt.broker_pid) : std::nullopt;
  if (opt.broker_pid && !rss_before)
    std::cerr << "colony_loadgen: warning: cannot read /proc/" << opt.broker_pid << "/status\n";

  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < opt.threads; ++i)
    workers.push_back(std::make_unique<Worker>(sh, plan, i, addr, addr_len));
  const std::int64_t t_connect = mono_ns();
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });

  // Wait for every connection (and subscription) to be up.
  const std::int64_t connect_deadline = t_connect + to_ns(opt.connect_timeout_s);
  while (sh.ready.load() < opt.threads && !sh.abort.load()) {
    if (mono_ns() > connect_deadline) {
      sh.fail("timed out after " + std::to_string(opt.connect_timeout_s) + " s waiting for " +
              std::to_string(plan.total()) + " connections/subscriptions to be acknowledged");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const std::int64_t t_connected = mono_ns();
  log("connected " + std::to_string(plan.total()) + " clients in " +
      std::to_string(static_cast<double>(t_connected - t_connect) / 1e9) + " s");

  std::optional<std::int64_t> rss_after;
  std::optional<double> cpu_pct;
  bool complete = false;
  double drain_used_s = 0;
  if (!sh.abort.load()) {
    if (opt.scenario == Scenario::conn) {
      // Hold the idle connections, then sample the broker's RSS.
      const std::int64_t until = mono_ns() + to_ns(opt.hold_s);
      while (mono_ns() < until && !sh.abort.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (opt.broker_pid) rss_after = read_vmrss_kb(opt.broker_pid);
    } else {
      sh.start_ns = mono_ns() + 20'000'000;  // give every thread time to see the timeline
      sh.measure_ns = sh.start_ns + to_ns(opt.warmup_s);
      sh.pub_end_ns = sh.measure_ns + to_ns(opt.duration_s);
      sh.go.store(true, std::memory_order_release);
      log("publishing");
      sleep_until_ns(sh.measure_ns);
      const auto cpu0 = opt.broker_pid ? read_cpu_s(opt.broker_pid) : std::nullopt;
      while (mono_ns() < sh.pub_end_ns && !sh.abort.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      const auto cpu1 = opt.broker_pid ? read_cpu_s(opt.broker_pid) : std::nullopt;
      if (cpu0 && cpu1) cpu_pct = 100.0 * (*cpu1 - *cpu0) / opt.duration_s;
      if (opt.broker_pid) rss_after = read_vmrss_kb(opt.broker_pid);
      log("draining");
      // Drain: stop when all expected deliveries arrived, when nothing has
      // moved for --drain-quiet seconds, or after --drain seconds.
      const std::int64_t drain_deadline = sh.pub_end_ns + to_ns(opt.drain_s);
      const auto n_pubs = static_cast<std::uint64_t>(plan.pubs.size());
      while (!sh.abort.load()) {
        const std::int64_t now = mono_ns();
        if (sh.pubs_done.load() == n_pubs &&
            sh.received_unique.load() >= sh.expected_deliveries.load()) {
          complete = true;
          break;
        }
        if (now >= drain_deadline) break;
        const std::int64_t last = std::max(sh.last_progress_ns.load(), sh.pub_end_ns);
        if (now - last >= to_ns(opt.drain_quiet_s)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      drain_used_s = static_cast<double>(mono_ns() - sh.pub_end_ns) / 1e9;
    }
  }
  sh.stop.store(true);
  for (auto& t : threads) t.join();

  if (sh.abort.load()) {
    std::cerr << "colony_loadgen: error: " << sh.error << "\n";
    JsonLine j;
    j.add("scenario", scenario_name(opt.scenario)).add("qos", opt.qos).add("broker_label", opt.label)
        .add("error", sh.error);
    std::cout << j.str() << std::endl;
    return 3;
  }

  // ---- aggregate ----
  LatencyHistogram hist;
  std::uint64_t sent = 0, acked = 0, expected = 0, received = 0, lost = 0, dups = 0, unexpected = 0,
                stray = 0, connected = 0;
  std::int64_t first_connect = INT64_MAX, last_connack = 0, last_rx = 0;
  std::vector<const PubResult*> pub_by_id(plan.pubs.size(), nullptr);
  for (auto& w : workers) {
    const auto& r = w->result;
    hist.merge(r.hist);
    unexpected += r.unexpected;
    stray += r.stray_pubacks;
    connected += r.connected;
    first_connect = std::min(first_connect, r.first_connect_ns);
    last_connack = std::max(last_connack, r.last_connack_ns);
    last_rx = std::max(last_rx, r.last_rx_ns);
    for (const auto& p : r.pubs) {
      pub_by_id[p.id] = &p;
      sent += p.sent;
      acked += p.acked;
    }
  }
  bool missing_ranges_overflowed = false;
  for (auto& w : workers) {
    for (const auto& s : w->result.subs) {
      for (std::size_t k = 0; k < s.trackers.size(); ++k) {
        const PubResult& p = *pub_by_id[s.first_pub + k];
        const SeqTracker& t = s.trackers[k];
        if (opt.qos == 0) {
          // QoS 0: every message written to the socket is expected (loss is allowed, but counted).
          expected += p.sent;
          lost += t.lost(p.sent);
        } else {
          // QoS 1: every message whose PUBACK arrived is owed to each subscriber.
          const auto unacked_sent = static_cast<std::uint64_t>(
              std::count_if(p.unacked.begin(), p.unacked.end(), [&](std::uint64_t q) { return q < p.sent; }));
          expected += p.sent - unacked_sent;
          lost += t.lost(p.sent, p.unacked);
        }
        received += t.unique();
        dups += t.duplicates();
        missing_ranges_overflowed |= t.missing_ranges_overflowed();
        if (opt.verbose && t.lost(p.sent) > 0) {
          std::cerr << "colony_loadgen: publisher " << p.id << " -> a subscriber: sent " << p.sent
                    << ", received " << t.unique() << ", contiguous up to " << t.base() << ", gaps:";
          const auto& gaps = t.missing_ranges();
          for (std::size_t g = 0; g < std::min<std::size_t>(gaps.size(), 5); ++g)
            std::cerr << " [" << gaps[g].first << "," << gaps[g].second << ")";
          std::cerr << (gaps.size() > 5 ? " ..." : "") << "\n";
        }
      }
    }
  }

  const double duration = opt.scenario == Scenario::conn ? 0 : opt.duration_s;
  const double connect_s = static_cast<double>(last_connack - first_connect) / 1e9;
  auto us = [&](std::uint64_t ns) -> std::optional<double> {
    if (hist.count() == 0) return std::nullopt;
    return static_cast<double>(ns) / 1e3;
  };
  std::optional<double> msgs_per_s, pub_per_s, rss_per_conn;
  if (opt.scenario != Scenario::conn) {
    // Deliveries per second over the measured window, stretched to the last
    // delivery if the broker was still catching up after publishing stopped.
    const double rx_window = std::max(duration, static_cast<double>(last_rx - sh.measure_ns) / 1e9);
    msgs_per_s = static_cast<double>(received) / rx_window;
    pub_per_s = static_cast<double>(sent) / duration;
  }
  if (opt.scenario == Scenario::conn && rss_before && rss_after)
    rss_per_conn = static_cast<double>(*rss_after - *rss_before) / static_cast<double>(connected);

  JsonLine j;
  j.add("scenario", scenario_name(opt.scenario))
      .add("qos", opt.qos)
      .add("broker_label", opt.label)
      .add("duration_s", duration)
      .add("warmup_s", opt.scenario == Scenario::conn ? 0.0 : opt.warmup_s)
      .add("drain_s", drain_used_s)
      .add("complete", opt.scenario == Scenario::conn ? true : complete)
      .add("publishers", static_cast<std::uint64_t>(plan.pubs.size()))
      .add("subscribers", static_cast<std::uint64_t>(plan.subs.size()))
      .add("connections", static_cast<std::uint64_t>(plan.total()))
      .add("payload", static_cast<std::uint64_t>(opt.payload))
      .add("rate", opt.effective_rate())
      .add("inflight", opt.qos > 0 ? std::optional<int>(opt.inflight) : std::nullopt)
      .add("max_pending", opt.max_pending)
      .add("window_msgs", static_cast<std::uint64_t>(plan.window))
      .add("threads", opt.threads)
      .add("sent", sent)
      .add("acked", opt.qos > 0 ? std::optional<std::uint64_t>(acked) : std::nullopt)
      .add("expected", expected)
      .add("received", received)
      .add("lost", lost)
      .add("duplicates", dups)
      .add("unexpected", unexpected)
      .add("stray_pubacks", stray)
      .add("msgs_per_s", msgs_per_s, 1)
      .add("pub_per_s", pub_per_s, 1)
      .add("lat_p50_us", us(hist.percentile(0.50)), 1)
      .add("lat_p99_us", us(hist.percentile(0.99)), 1)
      .add("lat_max_us", us(hist.max()), 1)
      .add("lat_mean_us", us(static_cast<std::uint64_t>(hist.mean())), 1)
      .add("connects_per_s", connect_s > 0 ? static_cast<double>(connected) / connect_s : 0.0, 1)
      .add("connect_s", connect_s)
      .add("rss_before_kb", rss_before)
      .add("rss_after_kb", rss_after)
      .add("rss_kb_per_conn", rss_per_conn, 3)
      .add("broker_cpu_pct", cpu_pct, 1);
  if (missing_ranges_overflowed)
    j.add("note", "missing-range list overflowed; lost is exact, QoS 1 exclusions approximate");
  std::cout << j.str() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const ParseOutcome parsed = parse_options(args);
  if (parsed.help) {
    std::cout << usage();
    return 0;
  }
  if (!parsed.options) {
    std::cerr << "colony_loadgen: " << parsed.error << " (see --help)\n";
    return 2;
  }
  try {
    return run(*parsed.options);
  } catch (const std::exception& e) {
    std::cerr << "colony_loadgen: error: " << e.what() << "\n";
    return 3;
  }
}
