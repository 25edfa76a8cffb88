// Unit tests of the socket-free protocol logic of one MQTT session (actors/session_logic.hpp).
// A recording fake session_env stands in for the link and the topic shards: what the logic
// writes is decoded back into packets with the codec, everything else is recorded as called.
#include "actors/session_logic.hpp"

#include "codec/decoder.hpp"
#include "codec/encoder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace colony::codec {
// gtest printers found by ADL.
inline void PrintTo(reason_code rc, std::ostream* os) {
  *os << "0x" << std::hex << static_cast<unsigned>(rc) << std::dec << " (" << to_string(rc) << ")";
}
inline void PrintTo(const packet& p, std::ostream* os) {
  *os << to_string(type_of(p));
}
} // namespace colony::codec

namespace colony::actors {
namespace {

using namespace std::chrono_literals;
using codec::packet;
using codec::protocol_version;
using codec::reason_code;

// -- the fake environment --------------------------------------------------------------

class fake_env final : public session_env {
public:
  /// Version used to decode what the logic writes (set by the fixture on attach).
  protocol_version version = protocol_version::v3_1_1;
  /// False after close_link(): writes are then lost, as with the real link.
  bool attached = true;

  std::vector<packet> packets;         // decoded writes, in order
  std::size_t writes = 0;              // write() calls while attached
  std::size_t lost_writes = 0;         // write() calls while detached
  std::size_t queued = 0;              // what queued_bytes() answers
  std::size_t drain_requests = 0;
  std::vector<std::uint16_t> keepalives;
  std::size_t closes = 0;
  std::vector<message_ptr> routed;
  std::vector<std::vector<subscription>> subscribes;
  std::vector<std::vector<std::pair<std::string, std::string>>> unsubscribes;
  std::vector<bool> online;
  std::vector<std::vector<delivery>> redistributed;
  std::vector<std::pair<timer_kind, std::chrono::milliseconds>> timers_started;
  std::vector<timer_kind> timers_cancelled;
  std::size_t ended = 0;
  std::int64_t now = 1'700'000'000'000; // ms since the epoch, moved by tests
  /// Order of the observable effects: "write", "close", "route", "end".
  std::vector<std::string> events;

  void write(std::vector<std::uint8_t> bytes) override {
    if (!attached) {
      ++lost_writes;
      return;
    }
    ++writes;
    events.push_back("write");
    codec::stream_decoder d;
    d.set_version(version);
    std::span<const std::uint8_t> in{bytes};
    while (!in.empty()) {
      auto r = d.next(in);
      if (r.status != codec::decode_status::packet) {
        ADD_FAILURE() << "the session wrote bytes that do not decode as "
                      << static_cast<int>(version) << ": "
                      << (r.status == codec::decode_status::error ? codec::to_string(r.error)
                                                                   : "incomplete packet");
        return;
      }
      packets.push_back(std::move(r.pkt));
      in = in.subspan(r.used);
    }
  }
  std::size_t queued_bytes() const override { return queued; }
  void notify_when_drained() override { ++drain_requests; }
  void set_keepalive(std::uint16_t seconds) override { keepalives.push_back(seconds); }
  void close_link() override {
    ++closes;
    attached = false;
    events.push_back("close");
  }
  void route(message_ptr msg) override {
    events.push_back("route");
    routed.push_back(std::move(msg));
  }
  void subscribe(std::vector<subscription> subs) override { subscribes.push_back(std::move(subs)); }
  void unsubscribe(std::vector<std::pair<std::string, std::string>> filters) override {
    unsubscribes.push_back(std::move(filters));
  }
  void set_online(bool on) override { online.push_back(on); }
  void redistribute(std::vector<delivery> items) override {
    redistributed.push_back(std::move(items));
  }
  void start_timer(timer_kind kind, std::chrono::milliseconds after) override {
    timers_started.emplace_back(kind, after);
  }
  void cancel_timer(timer_kind kind) override { timers_cancelled.push_back(kind); }
  void end_session() override {
    ++ended;
    events.push_back("end");
  }
  std::int64_t now_ms() const override { return now; }
  /// Answers of the asynchronous ACL hook, as (token, allowed), in the order they came.
  std::vector<std::pair<std::uint64_t, bool>> acl_answers;
  std::function<void(bool)> acl_reply(std::uint64_t token) override {
    return [this, token](bool allowed) { acl_answers.emplace_back(token, allowed); };
  }

  /// Routed messages, without the $SYS connection notices.
  std::vector<message_ptr> app_routed() const {
    std::vector<message_ptr> out;
    for (auto& m : routed)
      if (m->topic.rfind("$SYS/broker/connection/clients/", 0) != 0)
        out.push_back(m);
    return out;
  }
  bool started(timer_kind k, std::chrono::milliseconds after) const {
    return std::find(timers_started.begin(), timers_started.end(), std::make_pair(k, after))
           != timers_started.end();
  }
  bool started_any(timer_kind k) const {
    return std::any_of(timers_started.begin(), timers_started.end(),
                       [&](const auto& t) { return t.first == k; });
  }
  bool cancelled(timer_kind k) const {
    return std::find(timers_cancelled.begin(), timers_cancelled.end(), k)
           != timers_cancelled.end();
  }
};

// -- helpers ----------------------------------------------------------------------------

template <class T>
std::vector<T> of_type(const std::vector<packet>& ps) {
  std::vector<T> out;
  for (const auto& p : ps)
    if (auto* x = std::get_if<T>(&p))
      out.push_back(*x);
  return out;
}

codec::connect v3_connect(bool clean = true, std::uint16_t keep_alive = 60) {
  codec::connect c;
  c.version = protocol_version::v3_1_1;
  c.clean_start = clean;
  c.keep_alive = keep_alive;
  c.client_id = "client-1";
  return c;
}

codec::connect v5_connect(std::uint32_t session_expiry = 0, std::uint16_t keep_alive = 60) {
  codec::connect c;
  c.version = protocol_version::v5;
  c.clean_start = true;
  c.keep_alive = keep_alive;
  c.client_id = "client-1";
  if (session_expiry != 0)
    c.props.session_expiry_interval = session_expiry;
  return c;
}

codec::will make_will(std::uint8_t qos = 1, bool retain = false) {
  codec::will w;
  w.qos = qos;
  w.retain = retain;
  w.topic = "clients/client-1/status";
  w.payload = "gone";
  return w;
}

codec::publish pub(std::string topic, std::string payload, std::uint8_t qos = 0,
                   std::uint16_t packet_id = 0, bool retain = false) {
  codec::publish p;
  p.topic = std::move(topic);
  p.payload = std::move(payload);
  p.qos = qos;
  p.packet_id = packet_id;
  p.retain = retain;
  return p;
}

message_ptr app_msg(std::string topic, std::string payload, std::uint8_t qos,
                    std::int64_t expires_at_ms = 0) {
  auto m = std::make_shared<app_message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = qos;
  m->origin_session = 7;
  m->expires_at_ms = expires_at_ms;
  return m;
}

delivery dlv(std::string topic, std::string payload, std::uint8_t qos,
             std::uint8_t msg_qos = 0xFF) {
  delivery d;
  d.msg = app_msg(std::move(topic), std::move(payload), msg_qos == 0xFF ? qos : msg_qos);
  d.qos = qos;
  return d;
}

codec::subscribe sub(std::uint16_t id, std::vector<std::pair<std::string, std::uint8_t>> filters) {
  codec::subscribe s;
  s.packet_id = id;
  for (auto& [f, q] : filters) {
    codec::topic_subscription ts;
    ts.topic_filter = f;
    ts.options.max_qos = q;
    s.subscriptions.push_back(ts);
  }
  return s;
}

// -- fixture ----------------------------------------------------------------------------

class SessionLogic : public ::testing::Test {
protected:
  SessionLogic() { limits.sys_notices = false; }

  session_logic& logic() {
    if (!logic_)
      logic_ = std::make_unique<session_logic>("client-1", 42, limits, env);
    return *logic_;
  }

  /// A connection with `c` takes over the session; returns what it was sent.
  std::vector<packet> attach(const codec::connect& c, bool session_present = false,
                             connection_facts facts = {}) {
    env.version = c.version;
    env.attached = true;
    logic().attach(c, session_present, facts);
    logic().flush();
    return take();
  }

  /// One batch of packets from the client; returns what the session answered.
  std::vector<packet> in(std::vector<packet> batch) {
    logic().on_packets(batch);
    logic().flush();
    return take();
  }
  std::vector<packet> in(packet p) { return in(std::vector<packet>{std::move(p)}); }

  std::vector<packet> deliver(std::vector<delivery> items) {
    delivery_batch b{std::move(items)};
    logic().on_deliveries(b);
    logic().flush();
    return take();
  }
  std::vector<packet> deliver(delivery d) { return deliver(std::vector<delivery>{std::move(d)}); }

  /// The link dropped (no DISCONNECT).
  void link_lost() {
    env.attached = false;
    logic().on_link_closed(transport::close_info{transport::close_reason::peer_closed, {}});
    logic().flush();
  }

  std::vector<packet> take() {
    auto out = std::move(env.packets);
    env.packets.clear();
    return out;
  }

  session_limits limits;
  fake_env env;
  std::unique_ptr<session_logic> logic_;
};

// -- attach and CONNACK -------------------------------------------------------------------

TEST_F(SessionLogic, AttachSendsConnack) {
  auto out = attach(v3_connect(), false);
  ASSERT_EQ(out.size(), 1u);
  auto* ack = std::get_if<codec::connack>(&out[0]);
  ASSERT_NE(ack, nullptr);
  EXPECT_FALSE(ack->session_present);
  EXPECT_EQ(ack->code, reason_code::success);
  EXPECT_TRUE(logic().connected());
  EXPECT_EQ(logic().version(), protocol_version::v3_1_1);
  EXPECT_EQ(env.keepalives, std::vector<std::uint16_t>{60});
  EXPECT_EQ(logic().keep_alive(), 60);
  EXPECT_EQ(env.writes, 1u); // one write per turn
}

TEST_F(SessionLogic, AttachSessionPresent_MQTT_3_2_2_2) {
  auto out = attach(v3_connect(false), true);
  auto acks = of_type<codec::connack>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks[0].session_present);
}

TEST_F(SessionLogic, AttachCancelsPendingTimers) {
  attach(v3_connect());
  EXPECT_TRUE(env.cancelled(timer_kind::session_expiry));
  EXPECT_TRUE(env.cancelled(timer_kind::will_delay));
}

TEST_F(SessionLogic, AttachKeepsConnectionFacts) {
  connection_facts f{"alice", "10.0.0.1:5000", "10.0.0.1", "mqtt", false};
  attach(v3_connect(), false, f);
  EXPECT_EQ(logic().facts().username, "alice");
  EXPECT_EQ(logic().facts().remote_address, "10.0.0.1:5000");
  EXPECT_EQ(logic().client_id(), "client-1");
  EXPECT_EQ(logic().session_id(), 42u);
}

TEST_F(SessionLogic, V3ConnackHasNoProperties) {
  limits.max_keepalive = 30;
  auto out = attach(v3_connect(true, 120));
  auto acks = of_type<codec::connack>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks[0].props.empty());
  // A 3.1.1 client is held to the maximum without being told.
  EXPECT_EQ(env.keepalives, std::vector<std::uint16_t>{30});
}

TEST_F(SessionLogic, V5ConnackProperties) {
  limits.receive_maximum = 100;
  limits.topic_alias_maximum = 10;
  limits.max_packet_size = 5000;
  auto out = attach(v5_connect());
  auto acks = of_type<codec::connack>(out);
  ASSERT_EQ(acks.size(), 1u);
  const auto& p = acks[0].props;
  EXPECT_EQ(p.receive_maximum, std::optional<std::uint16_t>{100});
  EXPECT_EQ(p.topic_alias_maximum, std::optional<std::uint16_t>{10});
  EXPECT_EQ(p.maximum_packet_size, std::optional<std::uint32_t>{5000});
  EXPECT_FALSE(p.assigned_client_identifier.has_value());
  EXPECT_FALSE(p.server_keep_alive.has_value());
  EXPECT_FALSE(p.maximum_qos.has_value());     // QoS 2 supported: absent
  EXPECT_FALSE(p.retain_available.has_value()); // available: absent
  EXPECT_FALSE(p.session_expiry_interval.has_value()); // as requested
}

// MQTT-3.2.2-16: the server assigned the id -> Assigned Client Identifier in CONNACK.
TEST_F(SessionLogic, V5AssignedClientIdentifier) {
  connection_facts f;
  f.assigned_client_id = true;
  auto out = attach(v5_connect(), false, f);
  auto acks = of_type<codec::connack>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].props.assigned_client_identifier, std::optional<std::string>{"client-1"});
}

// MQTT 5 §3.2.2.3.14 Server Keep Alive.
TEST_F(SessionLogic, V5ServerKeepAliveWhenMaximumIsLower) {
  limits.max_keepalive = 30;
  auto out = attach(v5_connect(0, 120));
  auto acks = of_type<codec::connack>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].props.server_keep_alive, std::optional<std::uint16_t>{30});
  EXPECT_EQ(env.keepalives.back(), 30);
  EXPECT_EQ(logic().keep_alive(), 30);
}

TEST_F(SessionLogic, V5ServerKeepAliveWhenClientAsksForNone) {
  limits.max_keepalive = 30;
  auto out = attach(v5_connect(0, 0));
  auto acks = of_type<codec::connack>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].props.server_keep_alive, std::optional<std::uint16_t>{30});
}

TEST_F(SessionLogic, V5NoServerKeepAliveWhenClientIsWithinMaximum) {
  limits.max_keepalive = 30;
  auto out = attach(v5_connect(0, 20));
  auto acks = of_type<codec::connack>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_FALSE(acks[0].props.server_keep_alive.has_value());
  EXPECT_EQ(env.keepalives.back(), 20);
}

TEST_F(SessionLogic, V5ConnackAdvertisesMissingFeatures) {
  limits.max_qos = 1;
  limits.retain_available = false;
  limits.wildcard_available = false;
  limits.subscription_ids_available = false;
  limits.shared_available = false;
  auto out = attach(v5_connect());
  auto acks = of_type<codec::connack>(out);
  ASSERT_EQ(acks.size(), 1u);
  const auto& p = acks[0].props;
  EXPECT_EQ(p.maximum_qos, std::optional<std::uint8_t>{1});
  EXPECT_EQ(p.retain_available, std::optional<std::uint8_t>{0});
  EXPECT_EQ(p.wildcard_subscription_available, std::optional<std::uint8_t>{0});
  EXPECT_EQ(p.subscription_identifier_available, std::optional<std::uint8_t>{0});
  EXPECT_EQ(p.shared_subscription_available, std::optional<std::uint8_t>{0});
}

// MQTT 5 §3.2.2.3.2: the server tells the client the session expiry it uses if it differs.
TEST_F(SessionLogic, V5SessionExpiryCappedAndAnnounced) {
  limits.max_session_expiry = 100;
  auto out = attach(v5_connect(1000));
  auto acks = of_type<codec::connack>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].props.session_expiry_interval, std::optional<std::uint32_t>{100});
  link_lost();
  EXPECT_TRUE(env.started(timer_kind::session_expiry, 100s));
}

TEST_F(SessionLogic, V5ResponseInformationOnRequest) {
  auto c = v5_connect();
  c.props.request_response_information = 1;
  auto acks = of_type<codec::connack>(attach(c));
  ASSERT_EQ(acks.size(), 1u);
  ASSERT_TRUE(acks[0].props.response_information.has_value());
  EXPECT_NE(acks[0].props.response_information->find("client-1"), std::string::npos);
}

TEST_F(SessionLogic, SysNoticesOnConnectAndDisconnect) {
  limits.sys_notices = true;
  connection_facts f{"alice", "10.0.0.1:5000", "10.0.0.1", "mqtt", false};
  auto c = v3_connect();
  c.username = "alice";
  c.password = "secret-password";
  attach(c, false, f);
  ASSERT_EQ(env.routed.size(), 1u);
  EXPECT_EQ(env.routed[0]->topic, "$SYS/broker/connection/clients/client-1");
  EXPECT_NE(env.routed[0]->payload.find("\"online\":true"), std::string::npos);
  EXPECT_NE(env.routed[0]->payload.find("\"username\":\"alice\""), std::string::npos);
  EXPECT_EQ(env.routed[0]->payload.find("secret-password"), std::string::npos);
  EXPECT_EQ(env.routed[0]->origin_session, 0u);
  link_lost();
  ASSERT_EQ(env.routed.size(), 2u);
  EXPECT_NE(env.routed[1]->payload.find("\"online\":false"), std::string::npos);
}

TEST_F(SessionLogic, NoSysNoticeWhileNobodyWatchesSys) {
  // Only a filter whose first level is $SYS can match a notice (MQTT-4.7.2-1): with no such
  // subscription anywhere, the notice is not built (sys_watchers counts them).
  limits.sys_notices = true;
  limits.sys_watchers = std::make_shared<std::atomic<std::int64_t>>(0);
  attach(v3_connect());
  EXPECT_TRUE(env.routed.empty());
  link_lost();
  EXPECT_TRUE(env.routed.empty());
  limits.sys_watchers->store(1); // another session watches $SYS/#
  attach(v3_connect());
  ASSERT_EQ(env.routed.size(), 1u);
  EXPECT_EQ(env.routed[0]->topic, "$SYS/broker/connection/clients/client-1");
}

TEST_F(SessionLogic, SysSubscriptionsAreCountedUntilUnsubscribedOrGone) {
  limits.sys_watchers = std::make_shared<std::atomic<std::int64_t>>(0);
  attach(v5_connect());
  // Counted before the SUBACK; wildcards at the first level do not match $SYS (not counted);
  // a shared subscription counts by its filter.
  in(sub(1, {{"$SYS/broker/#", 0}, {"#", 0}, {"+/broker", 0}, {"$SYSX/a", 0}, {"$SYS", 0},
             {"$share/g/$SYS/broker/connection/#", 0}}));
  EXPECT_EQ(limits.sys_watchers->load(), 3);
  in(sub(2, {{"$SYS/broker/#", 1}})); // replaces: still one
  EXPECT_EQ(limits.sys_watchers->load(), 3);
  in(codec::unsubscribe{3, {}, {"$SYS/broker/#", "#"}});
  EXPECT_EQ(limits.sys_watchers->load(), 2);
  logic_.reset(); // the session ends
  EXPECT_EQ(limits.sys_watchers->load(), 0);
}

TEST_F(SessionLogic, AnEndedSessionStartingAfreshForgetsSysSubscriptions) {
  limits.sys_watchers = std::make_shared<std::atomic<std::int64_t>>(0);
  attach(v3_connect(true));
  in(sub(1, {{"$SYS/#", 0}}));
  EXPECT_EQ(limits.sys_watchers->load(), 1);
  link_lost(); // a clean session ends with its connection
  attach(v3_connect(true)); // attached before the registry tore it down: starts afresh
  EXPECT_EQ(limits.sys_watchers->load(), 0);
}

// -- inbound PUBLISH ------------------------------------------------------------------------

TEST_F(SessionLogic, InboundQos0IsRoutedWithoutAck) {
  attach(v3_connect());
  auto out = in(pub("a/b", "hello", 0, 0, true));
  EXPECT_TRUE(out.empty());
  ASSERT_EQ(env.app_routed().size(), 1u);
  const auto& m = *env.app_routed()[0];
  EXPECT_EQ(m.topic, "a/b");
  EXPECT_EQ(m.payload, "hello");
  EXPECT_EQ(m.qos, 0);
  EXPECT_TRUE(m.retain);
  EXPECT_EQ(m.origin_session, 42u); // for No Local
  EXPECT_EQ(m.expires_at_ms, 0);
}

TEST_F(SessionLogic, InboundQos1IsAcked_MQTT_4_3_2_2) {
  attach(v3_connect());
  auto out = in(pub("a/b", "x", 1, 17));
  auto acks = of_type<codec::puback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].packet_id, 17);
  EXPECT_EQ(env.app_routed().size(), 1u);
  EXPECT_EQ(env.app_routed()[0]->qos, 1);
}

TEST_F(SessionLogic, InboundQos2Flow_MQTT_4_3_3) {
  attach(v3_connect());
  auto out = in(pub("a/b", "x", 2, 5));
  auto recs = of_type<codec::pubrec>(out);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].packet_id, 5);
  EXPECT_EQ(env.app_routed().size(), 1u); // routed on PUBLISH (method B)
  out = in(codec::pubrel{5, reason_code::success, {}});
  auto comps = of_type<codec::pubcomp>(out);
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_EQ(comps[0].packet_id, 5);
  EXPECT_EQ(comps[0].code, reason_code::success);
  EXPECT_EQ(env.app_routed().size(), 1u);
}

// MQTT-4.3.3-9 (3.1.1: MQTT-4.3.3-2): a re-sent QoS 2 PUBLISH before PUBREL is not delivered
// again.
TEST_F(SessionLogic, InboundQos2DuplicateNotRoutedTwice_MQTT_4_3_3_9) {
  attach(v3_connect());
  in(pub("a/b", "x", 2, 5));
  auto dup = pub("a/b", "x", 2, 5);
  dup.dup = true;
  auto out = in(dup);
  auto recs = of_type<codec::pubrec>(out);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].packet_id, 5);
  EXPECT_EQ(env.app_routed().size(), 1u);
  // After PUBREL the id is free again: a new message with it is a new message.
  in(codec::pubrel{5, reason_code::success, {}});
  in(pub("a/b", "y", 2, 5));
  EXPECT_EQ(env.app_routed().size(), 2u);
}

TEST_F(SessionLogic, InboundQos2SurvivesReconnect) {
  attach(v3_connect(false));
  in(pub("a/b", "x", 2, 9));
  link_lost();
  attach(v3_connect(false), true);
  in(pub("a/b", "x", 2, 9)); // client re-sends after reconnect
  EXPECT_EQ(env.app_routed().size(), 1u);
  auto out = in(codec::pubrel{9, reason_code::success, {}});
  ASSERT_EQ(of_type<codec::pubcomp>(out).size(), 1u);
}

TEST_F(SessionLogic, PubrelForUnknownIdV5) {
  attach(v5_connect());
  auto comps = of_type<codec::pubcomp>(in(codec::pubrel{77, reason_code::success, {}}));
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_EQ(comps[0].code, reason_code::packet_identifier_not_found);
}

TEST_F(SessionLogic, PubrelForUnknownIdV3) {
  attach(v3_connect());
  auto comps = of_type<codec::pubcomp>(in(codec::pubrel{77, reason_code::success, {}}));
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_EQ(comps[0].packet_id, 77);
}

TEST_F(SessionLogic, PingreqGetsPingresp_MQTT_3_12_4_1) {
  attach(v3_connect());
  auto out = in(codec::pingreq{});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<codec::pingresp>(out[0]));
}

TEST_F(SessionLogic, BatchIsAnsweredInOneWrite) {
  attach(v3_connect());
  auto before = env.writes;
  auto out = in({pub("a", "1", 1, 1), pub("a", "2", 1, 2), codec::pingreq{}});
  EXPECT_EQ(env.writes, before + 1);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(std::get<codec::puback>(out[0]).packet_id, 1);
  EXPECT_EQ(std::get<codec::puback>(out[1]).packet_id, 2);
  EXPECT_TRUE(std::holds_alternative<codec::pingresp>(out[2]));
}

// MQTT 5 §4.7.2: clients cannot publish into the broker's $SYS tree.
TEST_F(SessionLogic, PublishToSysIsNotRouted) {
  attach(v3_connect());
  auto out = in(pub("$SYS/x", "fake", 1, 3));
  EXPECT_EQ(of_type<codec::puback>(out).size(), 1u); // accepted and dropped
  EXPECT_TRUE(env.app_routed().empty());
  EXPECT_TRUE(env.routed.empty());
  EXPECT_TRUE(logic().connected());
  // Other '$' topics are ordinary.
  in(pub("$other/x", "ok", 0));
  EXPECT_EQ(env.app_routed().size(), 1u);
}

TEST_F(SessionLogic, PublishWithWildcardTopicClosesV5_MQTT_3_3_2_2) {
  attach(v5_connect());
  auto out = in(pub("a/+", "x", 0));
  auto d = of_type<codec::disconnect>(out);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::topic_name_invalid);
  EXPECT_EQ(env.closes, 1u);
  EXPECT_FALSE(logic().connected());
  EXPECT_TRUE(env.app_routed().empty());
}

TEST_F(SessionLogic, PublishWithWildcardTopicClosesV3) {
  attach(v3_connect());
  auto out = in(pub("a/#", "x", 0));
  EXPECT_TRUE(out.empty()); // 3.1.1 has no server DISCONNECT
  EXPECT_EQ(env.closes, 1u);
  EXPECT_FALSE(logic().connected());
}

// MQTT-3.2.2-11 (v5): a QoS above Maximum QoS -> DISCONNECT 0x9B.
TEST_F(SessionLogic, PublishAboveMaximumQos) {
  limits.max_qos = 1;
  attach(v5_connect());
  auto d = of_type<codec::disconnect>(in(pub("a", "x", 2, 1)));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::qos_not_supported);
  EXPECT_TRUE(env.app_routed().empty());
}

// MQTT-3.2.2-14: RETAIN=1 when Retain Available is 0 -> DISCONNECT 0x9A.
TEST_F(SessionLogic, RetainedPublishWhenRetainUnavailable) {
  limits.retain_available = false;
  attach(v5_connect());
  auto d = of_type<codec::disconnect>(in(pub("a", "x", 0, 0, true)));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::retain_not_supported);
}

// MQTT-3.3.4-6: a client must not send Subscription Identifiers.
TEST_F(SessionLogic, PublishWithSubscriptionIdentifierIsProtocolError) {
  attach(v5_connect());
  auto p = pub("a", "x", 0);
  p.props.subscription_identifiers = {3};
  auto d = of_type<codec::disconnect>(in(p));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::protocol_error);
}

TEST_F(SessionLogic, InvalidUtf8PayloadWithFormatIndicator) {
  attach(v5_connect());
  auto p = pub("a", std::string{"\xff\xfe", 2}, 1, 4);
  p.props.payload_format_indicator = 1;
  auto acks = of_type<codec::puback>(in(p));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].code, reason_code::payload_format_invalid);
  EXPECT_TRUE(env.app_routed().empty());
  EXPECT_TRUE(logic().connected());
}

TEST_F(SessionLogic, ForwardedPropertiesKept) {
  attach(v5_connect());
  auto p = pub("a", "x", 0);
  p.props.content_type = "text/plain";
  p.props.response_topic = "r/1";
  p.props.correlation_data = "c";
  p.props.payload_format_indicator = 1;
  p.props.user_properties = {{"k", "v"}, {"k", "w"}};
  p.props.topic_alias = 1;
  in(p);
  ASSERT_EQ(env.app_routed().size(), 1u);
  const auto& m = *env.app_routed()[0];
  EXPECT_EQ(m.props.content_type, std::optional<std::string>{"text/plain"});
  EXPECT_EQ(m.props.response_topic, std::optional<std::string>{"r/1"});
  EXPECT_EQ(m.props.correlation_data, std::optional<std::string>{"c"});
  EXPECT_EQ(m.props.payload_format_indicator, std::optional<std::uint8_t>{1});
  EXPECT_EQ(m.props.user_properties, (std::vector<codec::user_property>{{"k", "v"}, {"k", "w"}}));
  EXPECT_FALSE(m.props.topic_alias.has_value()); // not forwarded (MQTT-3.3.2-?: per connection)
}

// MQTT 5 §3.3.2.3.3: the expiry becomes an absolute deadline.
TEST_F(SessionLogic, InboundMessageExpiryBecomesDeadline) {
  attach(v5_connect());
  auto p = pub("a", "x", 1, 1);
  p.props.message_expiry_interval = 10;
  in(p);
  ASSERT_EQ(env.app_routed().size(), 1u);
  EXPECT_EQ(env.app_routed()[0]->expires_at_ms, env.now + 10'000);
  EXPECT_FALSE(env.app_routed()[0]->props.message_expiry_interval.has_value());
}

// -- topic aliases (MQTT 5 §3.3.2.3.4) -------------------------------------------------------

TEST_F(SessionLogic, TopicAliasSetThenUsed) {
  limits.topic_alias_maximum = 5;
  attach(v5_connect());
  auto p = pub("long/topic/name", "1", 0);
  p.props.topic_alias = 3;
  in(p);
  auto q = pub("", "2", 0);
  q.props.topic_alias = 3;
  in(q);
  auto r = env.app_routed();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]->topic, "long/topic/name");
  EXPECT_EQ(r[1]->topic, "long/topic/name");
  EXPECT_EQ(r[1]->payload, "2");
  // Re-mapping an alias to another topic.
  auto s = pub("other", "3", 0);
  s.props.topic_alias = 3;
  in(s);
  auto t = pub("", "4", 0);
  t.props.topic_alias = 3;
  in(t);
  r = env.app_routed();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[3]->topic, "other");
  EXPECT_TRUE(logic().connected());
}

// MQTT-3.3.2-8: alias 0 is a protocol error -> DISCONNECT 0x94 Topic Alias invalid.
TEST_F(SessionLogic, TopicAliasZeroIsInvalid) {
  attach(v5_connect());
  auto p = pub("a", "1", 0);
  p.props.topic_alias = 0;
  auto d = of_type<codec::disconnect>(in(p));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::topic_alias_invalid);
  EXPECT_EQ(env.closes, 1u);
}

// MQTT-3.3.2-9: alias greater than the Topic Alias Maximum sent in CONNACK.
TEST_F(SessionLogic, TopicAliasAboveMaximumIsInvalid) {
  limits.topic_alias_maximum = 5;
  attach(v5_connect());
  auto p = pub("a", "1", 0);
  p.props.topic_alias = 6;
  auto d = of_type<codec::disconnect>(in(p));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::topic_alias_invalid);
  EXPECT_TRUE(env.app_routed().empty());
}

TEST_F(SessionLogic, UnknownTopicAliasWithEmptyTopicIsProtocolError) {
  attach(v5_connect());
  auto p = pub("", "1", 0);
  p.props.topic_alias = 2;
  auto d = of_type<codec::disconnect>(in(p));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::protocol_error);
}

// MQTT-3.3.2-7: aliases belong to one network connection.
TEST_F(SessionLogic, TopicAliasesDoNotSurviveReconnect) {
  attach(v5_connect(100));
  auto p = pub("a", "1", 0);
  p.props.topic_alias = 1;
  in(p);
  link_lost();
  attach(v5_connect(100), true);
  auto q = pub("", "2", 0);
  q.props.topic_alias = 1;
  auto d = of_type<codec::disconnect>(in(q));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::protocol_error);
}

// MQTT-3.3.4-8 / §4.9: more unreleased QoS 2 publishes than Receive Maximum -> 0x93.
TEST_F(SessionLogic, ReceiveMaximumExceeded) {
  limits.receive_maximum = 2;
  attach(v5_connect());
  in(pub("a", "1", 2, 1));
  in(pub("a", "2", 2, 2));
  EXPECT_TRUE(logic().connected());
  auto out = in(pub("a", "3", 2, 3));
  auto d = of_type<codec::disconnect>(out);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::receive_maximum_exceeded);
  EXPECT_EQ(env.closes, 1u);
  EXPECT_EQ(env.app_routed().size(), 2u);
}

TEST_F(SessionLogic, ReceiveMaximumFreedByPubrel) {
  limits.receive_maximum = 2;
  attach(v5_connect());
  in(pub("a", "1", 2, 1));
  in(pub("a", "2", 2, 2));
  in(codec::pubrel{1, reason_code::success, {}});
  auto out = in(pub("a", "3", 2, 3));
  EXPECT_EQ(of_type<codec::pubrec>(out).size(), 1u);
  EXPECT_TRUE(logic().connected());
  // QoS 1 publishes do not count.
  for (std::uint16_t i = 10; i < 20; ++i)
    in(pub("a", "q1", 1, i));
  EXPECT_TRUE(logic().connected());
}

// -- SUBSCRIBE / UNSUBSCRIBE -------------------------------------------------------------

TEST_F(SessionLogic, SubscribeV3GrantsAndRejects_MQTT_3_9_3) {
  attach(v3_connect());
  auto out = in(sub(10, {{"a/b", 0}, {"a/#/b", 1}, {"c/+", 2}, {"d", 1}}));
  auto acks = of_type<codec::suback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].packet_id, 10);
  ASSERT_EQ(acks[0].codes.size(), 4u); // MQTT-3.8.4-5 / -6: one per filter, in order
  EXPECT_EQ(acks[0].codes[0], reason_code::success);
  EXPECT_EQ(acks[0].codes[1], reason_code::unspecified_error); // 0x80 failure in 3.1.1
  EXPECT_EQ(acks[0].codes[2], reason_code::granted_qos_2);
  EXPECT_EQ(acks[0].codes[3], reason_code::granted_qos_1);
  ASSERT_EQ(env.subscribes.size(), 1u);
  const auto& s = env.subscribes[0];
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].topic_filter, "a/b");
  EXPECT_EQ(s[1].topic_filter, "c/+");
  EXPECT_EQ(s[1].options.max_qos, 2);
  EXPECT_EQ(s[2].topic_filter, "d");
  for (const auto& x : s) {
    EXPECT_TRUE(x.share_group.empty());
    EXPECT_TRUE(x.send_retained); // MQTT-3.3.1-6
  }
  EXPECT_EQ(logic().subscription_count(), 3u);
}

TEST_F(SessionLogic, SubscribeV5InvalidFilterIs0x8F) {
  attach(v5_connect());
  auto acks = of_type<codec::suback>(in(sub(1, {{"a/b#", 1}, {"ok", 1}})));
  ASSERT_EQ(acks.size(), 1u);
  ASSERT_EQ(acks[0].codes.size(), 2u);
  EXPECT_EQ(acks[0].codes[0], reason_code::topic_filter_invalid);
  EXPECT_EQ(acks[0].codes[1], reason_code::granted_qos_1);
  ASSERT_EQ(env.subscribes.size(), 1u);
  EXPECT_EQ(env.subscribes[0].size(), 1u);
}

TEST_F(SessionLogic, SubscribeAllInvalidDoesNotCallEnv) {
  attach(v3_connect());
  auto acks = of_type<codec::suback>(in(sub(1, {{"a+", 1}})));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(env.subscribes.empty());
  EXPECT_EQ(logic().subscription_count(), 0u);
}

// MQTT-3.9.3 / 3.2.2.3.4: granted QoS never above the server maximum.
TEST_F(SessionLogic, GrantedQosCappedByMaximum) {
  limits.max_qos = 1;
  attach(v3_connect());
  auto acks = of_type<codec::suback>(in(sub(1, {{"a", 2}, {"b", 0}})));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].codes, (std::vector<reason_code>{reason_code::granted_qos_1,
                                                     reason_code::success}));
  ASSERT_EQ(env.subscribes.size(), 1u);
  EXPECT_EQ(env.subscribes[0][0].options.max_qos, 1);
}

// MQTT 5 §3.8.3.1 Retain Handling: 0 always, 1 only for a new subscription, 2 never.
TEST_F(SessionLogic, RetainHandlingDecidesSendRetained) {
  attach(v5_connect());
  auto make = [](std::uint16_t id, std::uint8_t rh) {
    auto s = sub(id, {{"t/" + std::to_string(rh), 1}});
    s.subscriptions[0].options.retain_handling = rh;
    return s;
  };
  in(make(1, 0));
  in(make(2, 1));
  in(make(3, 2));
  ASSERT_EQ(env.subscribes.size(), 3u);
  EXPECT_TRUE(env.subscribes[0][0].send_retained);
  EXPECT_TRUE(env.subscribes[1][0].send_retained);
  EXPECT_FALSE(env.subscribes[2][0].send_retained);
  // Again: the subscriptions exist now (MQTT-3.8.4-3 replaces them).
  in(make(4, 0));
  in(make(5, 1));
  in(make(6, 2));
  ASSERT_EQ(env.subscribes.size(), 6u);
  EXPECT_TRUE(env.subscribes[3][0].send_retained);
  EXPECT_FALSE(env.subscribes[4][0].send_retained);
  EXPECT_FALSE(env.subscribes[5][0].send_retained);
  EXPECT_EQ(logic().subscription_count(), 3u);
}

TEST_F(SessionLogic, V3SubscriptionOptionsBeyondQosIgnored) {
  attach(v3_connect());
  auto s = sub(1, {{"a", 1}});
  s.subscriptions[0].options.no_local = true;
  s.subscriptions[0].options.retain_as_published = true;
  s.subscriptions[0].options.retain_handling = 2;
  in(s);
  ASSERT_EQ(env.subscribes.size(), 1u);
  const auto& o = env.subscribes[0][0].options;
  EXPECT_EQ(o.max_qos, 1);
  EXPECT_FALSE(o.no_local);
  EXPECT_FALSE(o.retain_as_published);
  EXPECT_EQ(o.retain_handling, 0);
  EXPECT_TRUE(env.subscribes[0][0].send_retained);
}

TEST_F(SessionLogic, V5SubscriptionOptionsAndIdentifierPassed) {
  attach(v5_connect());
  auto s = sub(1, {{"a/+", 2}, {"b", 0}});
  s.props.subscription_identifiers = {77};
  s.subscriptions[0].options.no_local = true;
  s.subscriptions[0].options.retain_as_published = true;
  in(s);
  ASSERT_EQ(env.subscribes.size(), 1u);
  const auto& v = env.subscribes[0];
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(v[0].options.no_local);
  EXPECT_TRUE(v[0].options.retain_as_published);
  EXPECT_EQ(v[0].subscription_id, 77u);
  EXPECT_EQ(v[1].subscription_id, 77u);
}

TEST_F(SessionLogic, SubscriptionIdentifiersUnsupported) {
  limits.subscription_ids_available = false;
  attach(v5_connect());
  auto s = sub(1, {{"a", 0}});
  s.props.subscription_identifiers = {1};
  auto d = of_type<codec::disconnect>(in(s));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::subscription_identifiers_not_supported);
}

TEST_F(SessionLogic, SharedSubscription_MQTT5_4_8_2) {
  attach(v5_connect());
  auto acks = of_type<codec::suback>(in(sub(1, {{"$share/g1/a/+", 1}})));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].codes[0], reason_code::granted_qos_1);
  ASSERT_EQ(env.subscribes.size(), 1u);
  const auto& s = env.subscribes[0][0];
  EXPECT_EQ(s.share_group, "g1");
  EXPECT_EQ(s.topic_filter, "a/+");
  EXPECT_FALSE(s.send_retained); // no retained messages for shared subscriptions
}

TEST_F(SessionLogic, SharedSubscriptionWithNoLocalIsProtocolError_MQTT_3_8_3_4) {
  attach(v5_connect());
  auto s = sub(1, {{"$share/g/a", 1}});
  s.subscriptions[0].options.no_local = true;
  auto d = of_type<codec::disconnect>(in(s));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::protocol_error);
  EXPECT_TRUE(env.subscribes.empty());
}

TEST_F(SessionLogic, InvalidSharedFilterRejected) {
  attach(v5_connect());
  auto acks = of_type<codec::suback>(in(sub(1, {{"$share/g+/a", 1}, {"$share//a", 1}})));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].codes, (std::vector<reason_code>{reason_code::topic_filter_invalid,
                                                     reason_code::topic_filter_invalid}));
}

TEST_F(SessionLogic, WildcardAndSharedUnavailable) {
  limits.wildcard_available = false;
  limits.shared_available = false;
  attach(v5_connect());
  auto acks = of_type<codec::suback>(in(sub(1, {{"a/#", 1}, {"$share/g/a", 1}, {"a", 1}})));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].codes,
            (std::vector<reason_code>{reason_code::wildcard_subscriptions_not_supported,
                                      reason_code::shared_subscriptions_not_supported,
                                      reason_code::granted_qos_1}));
}

TEST_F(SessionLogic, FilterTooLongOrTooDeepRejected) {
  limits.max_topic_length = 8;
  limits.max_topic_levels = 3;
  attach(v5_connect());
  auto acks = of_type<codec::suback>(in(sub(1, {{"abcdefghi", 0}, {"a/b/c/d", 0}, {"a/b/c", 0}})));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].codes, (std::vector<reason_code>{reason_code::topic_filter_invalid,
                                                     reason_code::topic_filter_invalid,
                                                     reason_code::success}));
}

// MQTT 5 §3.11.3: 0x00 Success, 0x11 No subscription existed; MQTT-3.10.4-4: always UNSUBACK.
TEST_F(SessionLogic, UnsubscribeV5Codes) {
  attach(v5_connect());
  in(sub(1, {{"a", 1}, {"$share/g/b", 1}}));
  auto out = in(codec::unsubscribe{2, {}, {"a", "nope", "$share/g/b"}});
  auto acks = of_type<codec::unsuback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].packet_id, 2);
  EXPECT_EQ(acks[0].codes,
            (std::vector<reason_code>{reason_code::success, reason_code::no_subscription_existed,
                                      reason_code::success}));
  ASSERT_EQ(env.unsubscribes.size(), 1u);
  EXPECT_EQ(env.unsubscribes[0],
            (std::vector<std::pair<std::string, std::string>>{{"", "a"}, {"g", "b"}}));
  EXPECT_EQ(logic().subscription_count(), 0u);
}

TEST_F(SessionLogic, UnsubscribeNothingStillAcked_MQTT_3_10_4_4) {
  attach(v3_connect());
  auto acks = of_type<codec::unsuback>(in(codec::unsubscribe{5, {}, {"x"}}));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].packet_id, 5);
  EXPECT_TRUE(env.unsubscribes.empty());
}

// -- outbound deliveries ------------------------------------------------------------------

TEST_F(SessionLogic, DeliverQos0) {
  attach(v3_connect());
  auto d = dlv("a/b", "hello", 0, 2);
  d.retain = true;
  auto pubs = of_type<codec::publish>(deliver(d));
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].topic, "a/b");
  EXPECT_EQ(pubs[0].payload, "hello");
  EXPECT_EQ(pubs[0].qos, 0); // downgraded by the shard (delivery.qos), not msg->qos
  EXPECT_EQ(pubs[0].packet_id, 0);
  EXPECT_TRUE(pubs[0].retain);
  EXPECT_FALSE(pubs[0].dup);
  EXPECT_EQ(logic().inflight_count(), 0u);
}

TEST_F(SessionLogic, DeliverUsesDeliveryQos_MQTT_3_8_4_6) {
  attach(v3_connect());
  auto pubs = of_type<codec::publish>(deliver(dlv("a", "x", 1, /*msg qos=*/2)));
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].qos, 1);
  EXPECT_NE(pubs[0].packet_id, 0);
  EXPECT_EQ(logic().inflight_count(), 1u);
}

// MQTT-2.2.1-3: a new packet id for each new QoS > 0 PUBLISH, unused while in flight.
TEST_F(SessionLogic, PacketIdsAreUniqueAndNonZero) {
  limits.max_inflight = 100;
  attach(v3_connect());
  std::vector<delivery> ds;
  for (int i = 0; i < 50; ++i)
    ds.push_back(dlv("a", std::to_string(i), i % 2 == 0 ? 1 : 2));
  auto pubs = of_type<codec::publish>(deliver(ds));
  ASSERT_EQ(pubs.size(), 50u);
  std::set<std::uint16_t> ids;
  for (std::size_t i = 0; i < pubs.size(); ++i) {
    EXPECT_NE(pubs[i].packet_id, 0);
    ids.insert(pubs[i].packet_id);
    EXPECT_EQ(pubs[i].payload, std::to_string(i)); // in order
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(logic().inflight_count(), 50u);
}

TEST_F(SessionLogic, PacketIdsSkipThoseInFlightAfterWrap) {
  limits.max_inflight = 65535;
  limits.max_queued_messages = 70000;
  attach(v3_connect());
  // Keep id 1 in flight, then cycle through all others and wrap around.
  auto first = of_type<codec::publish>(deliver(dlv("a", "keep", 1)));
  ASSERT_EQ(first.size(), 1u);
  const auto kept = first[0].packet_id;
  for (int i = 0; i < 65534 + 3; ++i) {
    auto pubs = of_type<codec::publish>(deliver(dlv("a", "x", 1)));
    ASSERT_EQ(pubs.size(), 1u) << "at " << i;
    ASSERT_NE(pubs[0].packet_id, kept);
    ASSERT_NE(pubs[0].packet_id, 0);
    in(codec::puback{pubs[0].packet_id, reason_code::success, {}});
  }
  EXPECT_EQ(logic().inflight_count(), 1u);
}

TEST_F(SessionLogic, InflightWindowQueuesExcessAndPumpsOnPuback) {
  limits.max_inflight = 2;
  attach(v3_connect());
  std::vector<delivery> ds;
  for (int i = 0; i < 5; ++i)
    ds.push_back(dlv("a", std::to_string(i), 1));
  auto pubs = of_type<codec::publish>(deliver(ds));
  ASSERT_EQ(pubs.size(), 2u);
  EXPECT_EQ(logic().inflight_count(), 2u);
  EXPECT_EQ(logic().queued_count(), 3u);
  auto out = of_type<codec::publish>(in(codec::puback{pubs[0].packet_id, reason_code::success, {}}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, "2"); // in order
  EXPECT_EQ(logic().inflight_count(), 2u);
  EXPECT_EQ(logic().queued_count(), 2u);
  // A PUBACK for an unknown id changes nothing.
  EXPECT_TRUE(of_type<codec::publish>(in(codec::puback{999, reason_code::success, {}})).empty());
  // QoS 0 is not subject to the window.
  EXPECT_EQ(of_type<codec::publish>(deliver(dlv("a", "q0", 0))).size(), 1u);
  // New QoS 1 goes behind the queue.
  EXPECT_TRUE(of_type<codec::publish>(deliver(dlv("a", "5", 1))).empty());
  EXPECT_EQ(logic().queued_count(), 3u);
  out = of_type<codec::publish>(in(codec::puback{pubs[1].packet_id, reason_code::success, {}}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, "3");
}

// MQTT-3.3.4-9: no more unacknowledged QoS 1/2 PUBLISHes than the client's Receive Maximum.
TEST_F(SessionLogic, ClientReceiveMaximumLimitsWindow) {
  limits.max_inflight = 10;
  auto c = v5_connect();
  c.props.receive_maximum = 1;
  attach(c);
  auto pubs = of_type<codec::publish>(deliver({dlv("a", "1", 1), dlv("a", "2", 2)}));
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(logic().queued_count(), 1u);
  auto out = of_type<codec::publish>(in(codec::puback{pubs[0].packet_id, reason_code::success, {}}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, "2");
  EXPECT_EQ(out[0].qos, 2);
}

TEST_F(SessionLogic, OutboundQos2Flow_MQTT_4_3_3) {
  limits.max_inflight = 1;
  attach(v3_connect());
  auto pubs = of_type<codec::publish>(deliver({dlv("a", "1", 2), dlv("a", "2", 1)}));
  ASSERT_EQ(pubs.size(), 1u);
  const auto id = pubs[0].packet_id;
  // A PUBACK does not release a QoS 2 message.
  EXPECT_TRUE(in(codec::puback{id, reason_code::success, {}}).empty());
  EXPECT_EQ(logic().inflight_count(), 1u);
  auto rels = of_type<codec::pubrel>(in(codec::pubrec{id, reason_code::success, {}}));
  ASSERT_EQ(rels.size(), 1u);
  EXPECT_EQ(rels[0].packet_id, id);
  EXPECT_EQ(logic().inflight_count(), 1u); // still holds the slot until PUBCOMP
  auto out = of_type<codec::publish>(in(codec::pubcomp{id, reason_code::success, {}}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, "2");
}

TEST_F(SessionLogic, PubrecForUnknownIdV5) {
  attach(v5_connect());
  auto rels = of_type<codec::pubrel>(in(codec::pubrec{33, reason_code::success, {}}));
  ASSERT_EQ(rels.size(), 1u);
  EXPECT_EQ(rels[0].code, reason_code::packet_identifier_not_found);
}

// MQTT 5 §4.3.3: a PUBREC with a reason code >= 0x80 ends the exchange.
TEST_F(SessionLogic, PubrecWithErrorEndsExchange) {
  limits.max_inflight = 1;
  attach(v5_connect());
  auto pubs = of_type<codec::publish>(deliver({dlv("a", "1", 2), dlv("a", "2", 2)}));
  ASSERT_EQ(pubs.size(), 1u);
  auto out = in(codec::pubrec{pubs[0].packet_id, reason_code::quota_exceeded, {}});
  EXPECT_TRUE(of_type<codec::pubrel>(out).empty());
  auto next = of_type<codec::publish>(out);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].payload, "2");
}

// MQTT 5 §3.3.4: every matching Subscription Identifier goes with the PUBLISH.
TEST_F(SessionLogic, SubscriptionIdentifiersForwardedV5) {
  attach(v5_connect());
  auto d = dlv("a", "x", 1);
  d.subscription_ids = {3, 9};
  auto pubs = of_type<codec::publish>(deliver(d));
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].props.subscription_identifiers, (std::vector<std::uint32_t>{3, 9}));
}

TEST_F(SessionLogic, SubscriptionIdentifiersNotSentToV3) {
  attach(v3_connect());
  auto d = dlv("a", "x", 0);
  d.subscription_ids = {3};
  auto pubs = of_type<codec::publish>(deliver(d));
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_TRUE(pubs[0].props.empty());
}

TEST_F(SessionLogic, MessagePropertiesForwardedV5_MQTT_3_3_2_18) {
  attach(v5_connect());
  auto m = std::make_shared<app_message>();
  m->topic = "a";
  m->payload = "x";
  m->props.user_properties = {{"b", "2"}, {"a", "1"}};
  m->props.content_type = "ct";
  delivery d;
  d.msg = m;
  auto pubs = of_type<codec::publish>(deliver(d));
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].props.user_properties,
            (std::vector<codec::user_property>{{"b", "2"}, {"a", "1"}}));
  EXPECT_EQ(pubs[0].props.content_type, std::optional<std::string>{"ct"});
  EXPECT_FALSE(pubs[0].props.message_expiry_interval.has_value());
}

// MQTT-3.3.2-5: an expired message is not delivered.
TEST_F(SessionLogic, ExpiredDeliveryIsDropped) {
  attach(v5_connect());
  auto d = dlv("a", "x", 1);
  d.msg = app_msg("a", "x", 1, env.now - 1);
  EXPECT_TRUE(deliver(d).empty());
  EXPECT_EQ(logic().dropped_count(), 1u);
  d.msg = app_msg("a", "x", 1, env.now); // deadline reached
  EXPECT_TRUE(deliver(d).empty());
  EXPECT_EQ(logic().dropped_count(), 2u);
  EXPECT_EQ(logic().inflight_count(), 0u);
}

// MQTT-3.3.2-6: the forwarded Message Expiry Interval is what is left of it.
TEST_F(SessionLogic, ForwardedExpiryIsDecremented_MQTT_3_3_2_6) {
  attach(v5_connect());
  const auto deadline = env.now + 10'000;
  env.now += 3'000;
  delivery d;
  d.msg = app_msg("a", "x", 1, deadline);
  d.qos = 1;
  auto pubs = of_type<codec::publish>(deliver(d));
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].props.message_expiry_interval, std::optional<std::uint32_t>{7});
}

TEST_F(SessionLogic, ExpiryEndToEnd) {
  attach(v5_connect());
  auto p = pub("a", "x", 0);
  p.props.message_expiry_interval = 60;
  in(p);
  ASSERT_EQ(env.app_routed().size(), 1u);
  env.now += 20'500;
  delivery d;
  d.msg = env.app_routed()[0];
  d.qos = 0;
  auto pubs = of_type<codec::publish>(deliver(d));
  ASSERT_EQ(pubs.size(), 1u);
  // 39.5 s left: rounded up, never more than what was left plus one second.
  ASSERT_TRUE(pubs[0].props.message_expiry_interval.has_value());
  EXPECT_GE(*pubs[0].props.message_expiry_interval, 39u);
  EXPECT_LE(*pubs[0].props.message_expiry_interval, 40u);
}

TEST_F(SessionLogic, ExpiredWhileQueuedIsDropped) {
  limits.max_inflight = 1;
  attach(v5_connect());
  auto first = of_type<codec::publish>(deliver(dlv("a", "1", 1)));
  ASSERT_EQ(first.size(), 1u);
  delivery d;
  d.msg = app_msg("a", "2", 1, env.now + 1'000);
  d.qos = 1;
  deliver(d);
  deliver(dlv("a", "3", 1));
  EXPECT_EQ(logic().queued_count(), 2u);
  env.now += 2'000;
  auto out = of_type<codec::publish>(in(codec::puback{first[0].packet_id, reason_code::success, {}}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, "3");
  EXPECT_EQ(logic().dropped_count(), 1u);
}

// MQTT-3.1.2-25: nothing larger than the client's Maximum Packet Size is sent.
TEST_F(SessionLogic, DeliveryLargerThanClientMaximumPacketSizeDropped) {
  auto c = v5_connect();
  c.props.maximum_packet_size = 64;
  attach(c);
  auto pubs = of_type<codec::publish>(deliver({dlv("a", std::string(100, 'x'), 1),
                                               dlv("a", "small", 1)}));
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].payload, "small");
  EXPECT_EQ(logic().dropped_count(), 1u);
  EXPECT_EQ(logic().inflight_count(), 1u);
}

// MQTT-3.1.2-25: a packet too large for the client is discarded "as if it had completed
// sending" — also when it is an in-flight message re-sent to a new connection whose Maximum
// Packet Size is smaller. It must not keep its in-flight slot forever.
TEST_F(SessionLogic, TooLargeResendReleasesInflightSlot_MQTT_3_1_2_25) {
  limits.max_inflight = 1;
  attach(v5_connect(100));
  auto pubs = of_type<codec::publish>(deliver(dlv("a", std::string(100, 'x'), 1)));
  ASSERT_EQ(pubs.size(), 1u);
  link_lost();
  auto c = v5_connect(100);
  c.props.maximum_packet_size = 64;
  auto out = attach(c, true);
  EXPECT_TRUE(of_type<codec::publish>(out).empty()); // not sent: too large
  EXPECT_EQ(logic().dropped_count(), 1u);
  EXPECT_EQ(logic().inflight_count(), 0u) << "a message the client never got holds the window";
  auto next = of_type<codec::publish>(deliver(dlv("a", "small", 1)));
  EXPECT_EQ(next.size(), 1u) << "the window of 1 is blocked for good";
}

// -- server-to-client topic aliases (MQTT 5 §3.3.2.3.4) -------------------------------------

codec::connect v5_connect_with_aliases(std::uint16_t alias_max, std::uint32_t expiry = 100) {
  auto c = v5_connect(expiry);
  c.props.topic_alias_maximum = alias_max;
  return c;
}

TEST_F(SessionLogic, OutboundTopicAliasesAssignedAndReused) {
  attach(v5_connect_with_aliases(2));
  auto pubs = of_type<codec::publish>(deliver({dlv("t/one", "1", 0), dlv("t/one", "2", 1),
                                               dlv("t/two", "3", 0), dlv("t/three", "4", 0),
                                               dlv("t/two", "5", 0)}));
  ASSERT_EQ(pubs.size(), 5u);
  // First use: topic and alias (MQTT-3.3.2-12: alias never 0).
  EXPECT_EQ(pubs[0].topic, "t/one");
  ASSERT_TRUE(pubs[0].props.topic_alias.has_value());
  const auto one = *pubs[0].props.topic_alias;
  EXPECT_GE(one, 1);
  EXPECT_LE(one, 2);
  // Later: the alias alone.
  EXPECT_EQ(pubs[1].topic, "");
  EXPECT_EQ(pubs[1].props.topic_alias, std::optional<std::uint16_t>{one});
  EXPECT_EQ(pubs[2].topic, "t/two");
  ASSERT_TRUE(pubs[2].props.topic_alias.has_value());
  const auto two = *pubs[2].props.topic_alias;
  EXPECT_NE(two, one);
  EXPECT_GE(two, 1);
  EXPECT_LE(two, 2); // MQTT-3.3.2-11: not above the client's Topic Alias Maximum
  // No alias left for a third topic: sent in full.
  EXPECT_EQ(pubs[3].topic, "t/three");
  EXPECT_FALSE(pubs[3].props.topic_alias.has_value());
  EXPECT_EQ(pubs[4].topic, "");
  EXPECT_EQ(pubs[4].props.topic_alias, std::optional<std::uint16_t>{two});
}

// MQTT-3.2.2-17 / §3.1.2.11.5: without a Topic Alias Maximum from the client, no aliases.
TEST_F(SessionLogic, NoOutboundAliasesWithoutClientMaximum) {
  attach(v5_connect(100));
  auto pubs = of_type<codec::publish>(deliver({dlv("t", "1", 0), dlv("t", "2", 0)}));
  ASSERT_EQ(pubs.size(), 2u);
  for (const auto& p : pubs) {
    EXPECT_EQ(p.topic, "t");
    EXPECT_FALSE(p.props.topic_alias.has_value());
  }
}

// Aliases belong to one network connection (MQTT-3.3.2-7): after a reconnect the first
// PUBLISH of a topic, including a DUP re-send, carries the topic again.
TEST_F(SessionLogic, OutboundAliasesResetOnReconnect) {
  attach(v5_connect_with_aliases(5));
  auto first = of_type<codec::publish>(deliver({dlv("t", "1", 0), dlv("t", "2", 1)}));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[1].topic, "");
  link_lost();
  auto out = of_type<codec::publish>(attach(v5_connect_with_aliases(5), true));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].dup);
  EXPECT_EQ(out[0].topic, "t");
  auto again = of_type<codec::publish>(deliver(dlv("t", "3", 0)));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].topic, "");
  // Reconnecting without aliases: topics in full.
  link_lost();
  attach(v5_connect(100), true);
  auto plain = of_type<codec::publish>(deliver(dlv("t", "4", 0)));
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].topic, "t");
  EXPECT_FALSE(plain[0].props.topic_alias.has_value());
}

TEST_F(SessionLogic, DroppedTooLargePublishDoesNotEstablishAlias) {
  auto c = v5_connect_with_aliases(5);
  c.props.maximum_packet_size = 64;
  attach(c);
  auto pubs = of_type<codec::publish>(deliver({dlv("t", std::string(100, 'x'), 0),
                                               dlv("t", "small", 0)}));
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].topic, "t"); // the client never saw the alias being set
  EXPECT_TRUE(pubs[0].props.topic_alias.has_value());
}

TEST_F(SessionLogic, NoOutboundAliasesForV3) {
  attach(v3_connect());
  auto pubs = of_type<codec::publish>(deliver({dlv("t", "1", 0), dlv("t", "2", 0)}));
  ASSERT_EQ(pubs.size(), 2u);
  EXPECT_EQ(pubs[1].topic, "t");
}

// -- slow consumer -------------------------------------------------------------------------

TEST_F(SessionLogic, WriteBufferFullDropsQos0AndQueuesQos1) {
  limits.max_write_buffer = 1000;
  attach(v3_connect());
  env.queued = 5000;
  EXPECT_TRUE(deliver(dlv("a", "q0", 0)).empty());
  EXPECT_EQ(logic().dropped_count(), 1u);
  EXPECT_TRUE(deliver(dlv("a", "q1", 1)).empty());
  EXPECT_EQ(logic().queued_count(), 1u);
  EXPECT_EQ(env.drain_requests, 1u);
  EXPECT_TRUE(deliver(dlv("a", "q1b", 1)).empty());
  EXPECT_EQ(env.drain_requests, 1u); // asked once until drained
  env.queued = 0;
  logic().on_drained();
  logic().flush();
  auto pubs = of_type<codec::publish>(take());
  ASSERT_EQ(pubs.size(), 2u);
  EXPECT_EQ(pubs[0].payload, "q1");
  EXPECT_EQ(pubs[1].payload, "q1b");
  EXPECT_EQ(logic().dropped_count(), 1u);
}

TEST_F(SessionLogic, WriteBufferCountsWhatThisTurnEncoded) {
  limits.max_write_buffer = 200;
  attach(v3_connect());
  std::vector<delivery> ds;
  for (int i = 0; i < 10; ++i)
    ds.push_back(dlv("a", std::string(50, 'x'), 0));
  auto pubs = of_type<codec::publish>(deliver(ds));
  EXPECT_LT(pubs.size(), 10u);
  EXPECT_GE(pubs.size(), 3u);
  EXPECT_EQ(logic().dropped_count(), 10u - pubs.size());
}

// A drain request belongs to one link; the next link needs its own (the old link's
// on_drained never arrives: the session actor drops it by link id).
TEST_F(SessionLogic, DrainRequestRenewedForNewConnection) {
  limits.max_write_buffer = 1000;
  limits.max_inflight = 1;
  attach(v3_connect(false));
  env.queued = 5000;
  deliver(dlv("a", "1", 1));
  EXPECT_EQ(env.drain_requests, 1u);
  link_lost();
  // New connection, whose socket is immediately backed up as well.
  env.queued = 5000;
  attach(v3_connect(false), true);
  EXPECT_EQ(logic().queued_count(), 1u);
  EXPECT_EQ(env.drain_requests, 2u) << "pending messages wait for an on_drained that never comes";
}

// -- offline and reconnect ----------------------------------------------------------------

TEST_F(SessionLogic, OfflineQueuesQos1And2DropsQos0) {
  limits.max_queued_messages = 2;
  attach(v3_connect(false));
  link_lost();
  EXPECT_FALSE(logic().connected());
  EXPECT_EQ(env.ended, 0u);
  deliver(dlv("a", "q0", 0));
  deliver(dlv("a", "q1", 1));
  deliver(dlv("a", "q2", 2));
  EXPECT_EQ(logic().queued_count(), 2u);
  deliver(dlv("a", "over", 1)); // queue full
  EXPECT_EQ(logic().queued_count(), 2u);
  EXPECT_EQ(logic().dropped_count(), 1u);
  EXPECT_EQ(env.lost_writes, 0u);
  // Reconnect: CONNACK first, then the queue in order.
  auto out = attach(v3_connect(false), true);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<codec::connack>(out[0]));
  auto pubs = of_type<codec::publish>(out);
  ASSERT_EQ(pubs.size(), 2u);
  EXPECT_EQ(pubs[0].payload, "q1");
  EXPECT_EQ(pubs[0].qos, 1);
  EXPECT_FALSE(pubs[0].dup);
  EXPECT_EQ(pubs[1].payload, "q2");
  EXPECT_EQ(pubs[1].qos, 2);
  EXPECT_EQ(logic().queued_count(), 0u);
}

// MQTT-4.4.0-1: on reconnect (clean=0) unacknowledged PUBLISHes are re-sent with DUP=1
// (MQTT-3.3.1-1) and PUBRELs re-sent, in the original order.
TEST_F(SessionLogic, ReconnectResendsInflight_MQTT_4_4_0_1) {
  attach(v3_connect(false));
  auto pubs = of_type<codec::publish>(
    deliver({dlv("a", "1", 1), dlv("a", "2", 2), dlv("a", "3", 2), dlv("a", "4", 1)}));
  ASSERT_EQ(pubs.size(), 4u);
  // "2" reached PUBREC -> awaiting PUBCOMP; "4" is acknowledged.
  in(codec::pubrec{pubs[1].packet_id, reason_code::success, {}});
  in(codec::puback{pubs[3].packet_id, reason_code::success, {}});
  EXPECT_EQ(logic().inflight_count(), 3u);
  link_lost();
  auto out = attach(v3_connect(false), true);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_TRUE(std::holds_alternative<codec::connack>(out[0]));
  ASSERT_TRUE(std::holds_alternative<codec::publish>(out[1]));
  ASSERT_TRUE(std::holds_alternative<codec::pubrel>(out[2]));
  ASSERT_TRUE(std::holds_alternative<codec::publish>(out[3]));
  const auto& p1 = std::get<codec::publish>(out[1]);
  EXPECT_TRUE(p1.dup);
  EXPECT_EQ(p1.packet_id, pubs[0].packet_id);
  EXPECT_EQ(p1.payload, "1");
  EXPECT_EQ(p1.qos, 1);
  EXPECT_EQ(std::get<codec::pubrel>(out[2]).packet_id, pubs[1].packet_id);
  const auto& p3 = std::get<codec::publish>(out[3]);
  EXPECT_TRUE(p3.dup);
  EXPECT_EQ(p3.packet_id, pubs[2].packet_id);
  EXPECT_EQ(p3.qos, 2);
  // The exchange continues with the same ids.
  in(codec::pubcomp{pubs[1].packet_id, reason_code::success, {}});
  in(codec::puback{pubs[0].packet_id, reason_code::success, {}});
  in(codec::pubrec{pubs[2].packet_id, reason_code::success, {}});
  in(codec::pubcomp{pubs[2].packet_id, reason_code::success, {}});
  EXPECT_EQ(logic().inflight_count(), 0u);
}

TEST_F(SessionLogic, ReconnectResendsInflightThenQueued) {
  limits.max_inflight = 1;
  attach(v3_connect(false));
  auto pubs = of_type<codec::publish>(deliver({dlv("a", "1", 1), dlv("a", "2", 1)}));
  ASSERT_EQ(pubs.size(), 1u);
  link_lost();
  auto out = attach(v3_connect(false), true);
  auto again = of_type<codec::publish>(out);
  ASSERT_EQ(again.size(), 1u); // window of 1 is taken by the re-sent one
  EXPECT_TRUE(again[0].dup);
  EXPECT_EQ(again[0].payload, "1");
  auto next = of_type<codec::publish>(in(codec::puback{again[0].packet_id, reason_code::success, {}}));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].payload, "2");
  EXPECT_FALSE(next[0].dup);
}

// -- will and session end ----------------------------------------------------------------

TEST_F(SessionLogic, WillPublishedOnLinkLoss_MQTT_3_1_2_8) {
  auto c = v3_connect();
  c.will_message = make_will(1, true);
  attach(c);
  link_lost();
  auto r = env.app_routed();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]->topic, "clients/client-1/status");
  EXPECT_EQ(r[0]->payload, "gone");
  EXPECT_EQ(r[0]->qos, 1);
  EXPECT_TRUE(r[0]->retain);
  EXPECT_EQ(r[0]->origin_session, 42u);
}

TEST_F(SessionLogic, WillRetainClearedWhenRetainUnavailable) {
  limits.retain_available = false;
  auto c = v3_connect();
  c.will_message = make_will(0, true);
  attach(c);
  link_lost();
  ASSERT_EQ(env.app_routed().size(), 1u);
  EXPECT_FALSE(env.app_routed()[0]->retain);
}

// MQTT-3.14.4-3: a DISCONNECT discards the will without publishing it.
TEST_F(SessionLogic, WillDiscardedAfterDisconnect_MQTT_3_14_4_3) {
  auto c = v3_connect();
  c.will_message = make_will();
  attach(c);
  in(codec::disconnect{});
  EXPECT_EQ(env.closes, 1u);
  EXPECT_FALSE(logic().connected());
  logic().on_link_closed({});
  EXPECT_TRUE(env.app_routed().empty());
}

TEST_F(SessionLogic, V5DisconnectWithWillMessage) {
  auto c = v5_connect();
  c.will_message = make_will();
  attach(c);
  in(codec::disconnect{reason_code::disconnect_with_will_message, {}});
  EXPECT_EQ(env.app_routed().size(), 1u);
}

TEST_F(SessionLogic, WillPublishedOnlyOnce) {
  auto c = v5_connect(100);
  c.will_message = make_will();
  attach(c);
  link_lost();
  logic().on_link_closed({});
  logic().on_timer(timer_kind::will_delay);
  logic().on_timer(timer_kind::session_expiry);
  EXPECT_EQ(env.app_routed().size(), 1u);
}

// MQTT 5 §3.1.3.2.2 Will Delay Interval.
TEST_F(SessionLogic, V5WillDelayStartsTimer) {
  auto c = v5_connect(100);
  c.will_message = make_will();
  c.will_message->props.will_delay_interval = 10;
  attach(c);
  link_lost();
  EXPECT_TRUE(env.app_routed().empty());
  EXPECT_TRUE(env.started(timer_kind::will_delay, 10s));
  EXPECT_TRUE(env.started(timer_kind::session_expiry, 100s));
  logic().on_timer(timer_kind::will_delay);
  auto r = env.app_routed();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0]->props.will_delay_interval.has_value());
  EXPECT_EQ(env.ended, 0u);
}

TEST_F(SessionLogic, V5WillDelayCancelledByReattach) {
  auto c = v5_connect(100);
  c.will_message = make_will();
  c.will_message->props.will_delay_interval = 10;
  attach(c);
  link_lost();
  env.timers_cancelled.clear();
  attach(v5_connect(100), true);
  EXPECT_TRUE(env.cancelled(timer_kind::will_delay));
  EXPECT_TRUE(env.cancelled(timer_kind::session_expiry));
  // A late timer (the cancellation raced) does nothing while connected.
  logic().on_timer(timer_kind::will_delay);
  EXPECT_TRUE(env.app_routed().empty());
  // And the old will is gone for good: the new connection had none.
  link_lost();
  EXPECT_TRUE(env.app_routed().empty());
}

// The will is published at the earlier of the will delay and the session end.
TEST_F(SessionLogic, V5WillDelayLongerThanSessionExpiry) {
  auto c = v5_connect(5);
  c.will_message = make_will();
  c.will_message->props.will_delay_interval = 60;
  attach(c);
  link_lost();
  EXPECT_TRUE(env.started(timer_kind::will_delay, 5s));
  EXPECT_FALSE(env.started(timer_kind::will_delay, 60s));
  logic().on_timer(timer_kind::session_expiry);
  EXPECT_EQ(env.app_routed().size(), 1u);
  EXPECT_EQ(env.ended, 1u);
}

TEST_F(SessionLogic, V5WillDelayWithSessionExpiryZeroIsImmediate) {
  auto c = v5_connect(0);
  c.will_message = make_will();
  c.will_message->props.will_delay_interval = 30;
  attach(c);
  link_lost();
  EXPECT_EQ(env.app_routed().size(), 1u);
  EXPECT_FALSE(env.started_any(timer_kind::will_delay));
  EXPECT_EQ(env.ended, 1u);
  // The will is published before the session ends.
  auto route = std::find(env.events.begin(), env.events.end(), "route");
  auto end = std::find(env.events.begin(), env.events.end(), "end");
  EXPECT_LT(route, end);
}

TEST_F(SessionLogic, V5SessionExpiryZeroEndsSessionOnClose) {
  attach(v5_connect(0));
  link_lost();
  EXPECT_EQ(env.ended, 1u);
  EXPECT_TRUE(logic().ended());
  EXPECT_FALSE(env.started_any(timer_kind::session_expiry));
}

TEST_F(SessionLogic, V5SessionExpiryStartsTimer) {
  attach(v5_connect(60));
  link_lost();
  EXPECT_EQ(env.ended, 0u);
  EXPECT_TRUE(env.started(timer_kind::session_expiry, 60s));
  logic().on_timer(timer_kind::session_expiry);
  EXPECT_EQ(env.ended, 1u);
  EXPECT_TRUE(logic().ended());
}

TEST_F(SessionLogic, V5SessionExpiryForeverHasNoTimer) {
  attach(v5_connect(0xFFFFFFFF));
  link_lost();
  EXPECT_EQ(env.ended, 0u);
  EXPECT_FALSE(env.started_any(timer_kind::session_expiry));
}

// MQTT-3.1.2-6 (3.1.1): a clean session ends with the network connection.
TEST_F(SessionLogic, V3CleanSessionEndsOnClose) {
  attach(v3_connect(true));
  link_lost();
  EXPECT_EQ(env.ended, 1u);
}

// MQTT-3.1.2-4 (3.1.1): clean session 0 keeps the session after the connection closes.
TEST_F(SessionLogic, V3PersistentSessionKept) {
  attach(v3_connect(false));
  link_lost();
  EXPECT_EQ(env.ended, 0u);
  EXPECT_FALSE(env.started_any(timer_kind::session_expiry));
  EXPECT_FALSE(logic().ended());
}

TEST_F(SessionLogic, ReattachAfterEndStartsAfresh) {
  attach(v3_connect(true));
  in(sub(1, {{"a", 1}}));
  link_lost();
  ASSERT_TRUE(logic().ended());
  env.unsubscribes.clear();
  auto acks = of_type<codec::connack>(attach(v3_connect(true), /*session_present=*/true));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_FALSE(acks[0].session_present);
  EXPECT_FALSE(logic().ended());
  EXPECT_EQ(logic().subscription_count(), 0u);
  ASSERT_EQ(env.unsubscribes.size(), 1u);
  EXPECT_EQ(env.unsubscribes[0], (std::vector<std::pair<std::string, std::string>>{{"", "a"}}));
}

// MQTT-3.14.2-2: DISCONNECT must not set a non-zero Session Expiry when CONNECT had zero.
TEST_F(SessionLogic, DisconnectSessionExpiryFromZeroIsProtocolError_MQTT_3_14_2_2) {
  auto c = v5_connect(0);
  c.will_message = make_will();
  attach(c);
  codec::disconnect d;
  d.props.session_expiry_interval = 100;
  auto out = in(d);
  auto ds = of_type<codec::disconnect>(out);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::protocol_error);
  EXPECT_EQ(env.closes, 1u);
  EXPECT_EQ(env.app_routed().size(), 1u); // not a normal disconnect: the will applies
  EXPECT_EQ(env.ended, 1u);               // still expiry 0
}

// MQTT-3.14.2-2 speaks of the value in the CONNECT packet: a client that asked for a non-zero
// Session Expiry (capped to 0 by the server's maximum) may repeat it in DISCONNECT without a
// Protocol Error.
TEST_F(SessionLogic, DisconnectSessionExpiryAfterServerCappedToZero_MQTT_3_14_2_2) {
  limits.max_session_expiry = 0;
  auto c = v5_connect(100);
  c.will_message = make_will();
  attach(c);
  codec::disconnect d;
  d.props.session_expiry_interval = 100;
  auto out = in(d);
  EXPECT_TRUE(of_type<codec::disconnect>(out).empty()) << "answered with DISCONNECT 0x82";
  EXPECT_TRUE(env.app_routed().empty()) << "normal disconnect: the will must be discarded";
  EXPECT_EQ(env.ended, 1u); // the session still ends (capped expiry 0)
}

TEST_F(SessionLogic, DisconnectChangesSessionExpiry) {
  attach(v5_connect(100));
  codec::disconnect d;
  d.props.session_expiry_interval = 0;
  in(d);
  EXPECT_EQ(env.ended, 1u);
}

TEST_F(SessionLogic, DisconnectExtendsSessionExpiry) {
  attach(v5_connect(100));
  codec::disconnect d;
  d.props.session_expiry_interval = 500;
  in(d);
  EXPECT_EQ(env.ended, 0u);
  EXPECT_TRUE(env.started(timer_kind::session_expiry, 500s));
}

// MQTT-3.1.0-2: a second CONNECT is a protocol violation; the connection is closed.
TEST_F(SessionLogic, SecondConnectClosesLink_MQTT_3_1_0_2) {
  attach(v3_connect(false));
  auto out = in({v3_connect(false), codec::pingreq{}});
  EXPECT_EQ(env.closes, 1u);
  EXPECT_FALSE(logic().connected());
  EXPECT_TRUE(out.empty()); // no PINGRESP: packets after the violation are ignored
}

TEST_F(SessionLogic, SecondConnectV5SendsProtocolError) {
  attach(v5_connect());
  auto out = in(v5_connect());
  auto ds = of_type<codec::disconnect>(out);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::protocol_error);
  EXPECT_EQ(env.closes, 1u);
  // The DISCONNECT is written before the link is closed.
  ASSERT_GE(env.events.size(), 2u);
  auto close = std::find(env.events.begin(), env.events.end(), "close");
  ASSERT_NE(close, env.events.end());
  EXPECT_EQ(*(close - 1), "write");
}

TEST_F(SessionLogic, ServerOnlyPacketFromClientClosesLink) {
  attach(v5_connect());
  in(codec::connack{});
  EXPECT_EQ(env.closes, 1u);
}

TEST_F(SessionLogic, AuthWithoutMethodIsProtocolError) {
  attach(v5_connect());
  auto ds = of_type<codec::disconnect>(in(codec::auth{}));
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::protocol_error);
}

// -- take-over, kick, shutdown ---------------------------------------------------------------

// MQTT-3.1.4-2: a new connection with the same client id takes the session over.
TEST_F(SessionLogic, TakeOverV5) {
  auto c = v5_connect(100);
  c.will_message = make_will();
  attach(c);
  logic().take_over();
  auto ds = of_type<codec::disconnect>(take());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::session_taken_over);
  EXPECT_EQ(env.closes, 1u);
  EXPECT_FALSE(logic().connected());
  EXPECT_EQ(env.app_routed().size(), 1u); // the old connection did not DISCONNECT
  EXPECT_EQ(env.ended, 0u);
  auto acks = of_type<codec::connack>(attach(v5_connect(100), true));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks[0].session_present);
}

TEST_F(SessionLogic, KickSendsAdministrativeAction) {
  auto c = v5_connect(100);
  c.will_message = make_will();
  attach(c);
  logic().kick();
  auto ds = of_type<codec::disconnect>(take());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::administrative_action);
  EXPECT_EQ(env.closes, 1u);
  EXPECT_EQ(env.app_routed().size(), 1u);
}

TEST_F(SessionLogic, ShutdownSendsServerShuttingDownWithoutWill) {
  auto c = v5_connect(100);
  c.will_message = make_will();
  attach(c);
  logic().shut_down();
  auto ds = of_type<codec::disconnect>(take());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::server_shutting_down);
  EXPECT_EQ(env.closes, 1u);
  EXPECT_FALSE(logic().connected());
  EXPECT_TRUE(env.app_routed().empty());
}

// -- shared subscriptions and the session lifecycle -----------------------------------------

TEST_F(SessionLogic, SharedDeliveriesRedistributedWhenConnectionLost) {
  limits.max_inflight = 1;
  attach(v5_connect(100));
  in(sub(1, {{"$share/g/a", 1}}));
  auto d1 = dlv("a", "1", 1);
  d1.shared_key = std::string{"g\x1f" "a"};
  auto d2 = dlv("a", "2", 1);
  d2.shared_key = d1.shared_key;
  auto d3 = dlv("a", "3", 1); // not shared
  deliver({d1, d2, d3});
  EXPECT_EQ(logic().inflight_count(), 1u);
  EXPECT_EQ(logic().queued_count(), 2u);
  link_lost();
  ASSERT_FALSE(env.online.empty());
  EXPECT_FALSE(env.online.back());
  ASSERT_EQ(env.redistributed.size(), 1u);
  ASSERT_EQ(env.redistributed[0].size(), 2u);
  EXPECT_EQ(env.redistributed[0][0].msg->payload, "1");
  EXPECT_EQ(env.redistributed[0][1].msg->payload, "2");
  EXPECT_EQ(logic().inflight_count(), 0u);
  EXPECT_EQ(logic().queued_count(), 1u); // the normal one waits for this client
  attach(v5_connect(100), true);
  EXPECT_TRUE(env.online.back());
}

// -- asynchronous ACL hook (HTTP) ---------------------------------------------------------

/// A hook whose answers the test gives by hand; `cache` answers at once.
class fake_hook final : public access_policy, public async_access_hook {
public:
  struct question {
    access_kind kind;
    std::string topic;
    std::string client_id;
    std::function<void(bool)> done;
  };
  mutable std::vector<question> asked;
  std::map<std::string, bool> cache;
  /// Synchronous (file) rules: topics starting with "file-deny/" are refused.
  bool file_rules = false;

  bool active() const override { return file_rules; }
  bool may_publish(const client_identity&, std::string_view t) const override {
    return t.rfind("file-deny/", 0) != 0;
  }
  bool may_subscribe(const client_identity&, std::string_view t) const override {
    return t.rfind("file-deny/", 0) != 0;
  }
  bool may_read(const client_identity&, std::string_view) const override { return true; }
  const async_access_hook* async_hook() const override { return this; }
  std::optional<bool> cached(const client_identity&, access_kind,
                             std::string_view topic) const override {
    auto it = cache.find(std::string{topic});
    return it == cache.end() ? std::nullopt : std::optional<bool>{it->second};
  }
  void ask(const client_identity& who, access_kind kind, std::string_view topic,
           std::function<void(bool)> done) const override {
    asked.push_back(question{kind, std::string{topic}, std::string{who.client_id}, std::move(done)});
  }
};

class SessionLogicAclHook : public SessionLogic {
protected:
  SessionLogicAclHook() {
    hook = std::make_shared<fake_hook>();
    limits.policy = hook;
  }
  /// The hook answers question `i`; the answer reaches the session as the actor would pass it.
  std::vector<packet> answer(std::size_t i, bool allowed) {
    hook->asked.at(i).done(allowed);
    auto answers = std::move(env.acl_answers);
    env.acl_answers.clear();
    for (auto [token, ok] : answers)
      logic().on_acl_answer(token, ok);
    logic().flush();
    return take();
  }
  std::shared_ptr<fake_hook> hook;
};

TEST_F(SessionLogicAclHook, PublishWaitsForTheAnswerAndLaterPacketsKeepTheirOrder) {
  attach(v5_connect());
  auto out = in({pub("a/1", "x", 1, 1), pub("b/2", "y", 1, 2), codec::pingreq{}});
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(logic().holding_packets());
  ASSERT_EQ(hook->asked.size(), 1u); // only the packet at the head asks
  EXPECT_EQ(hook->asked[0].topic, "a/1");
  EXPECT_EQ(hook->asked[0].kind, access_kind::publish);
  EXPECT_EQ(hook->asked[0].client_id, "client-1");
  // A later batch waits behind the held packets.
  EXPECT_TRUE(in(pub("c/3", "z", 1, 3)).empty());
  out = answer(0, true);
  auto acks = of_type<codec::puback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].packet_id, 1);
  ASSERT_EQ(hook->asked.size(), 2u);
  EXPECT_EQ(hook->asked[1].topic, "b/2");
  out = answer(1, false);
  // PUBACK 2 with 0x87, then PINGRESP, then c/3 waits for its own answer.
  ASSERT_EQ(out.size(), 2u);
  ASSERT_TRUE(std::holds_alternative<codec::puback>(out[0]));
  EXPECT_EQ(std::get<codec::puback>(out[0]).code, reason_code::not_authorized);
  EXPECT_TRUE(std::holds_alternative<codec::pingresp>(out[1]));
  ASSERT_EQ(hook->asked.size(), 3u);
  out = answer(2, true);
  ASSERT_EQ(of_type<codec::puback>(out).size(), 1u);
  EXPECT_FALSE(logic().holding_packets());
  auto routed = env.app_routed();
  ASSERT_EQ(routed.size(), 2u);
  EXPECT_EQ(routed[0]->topic, "a/1");
  EXPECT_EQ(routed[1]->topic, "c/3");
}

TEST_F(SessionLogicAclHook, Mqtt311PublishDeniedIsAcknowledgedAndDropped) {
  attach(v3_connect());
  in(pub("t", "x", 1, 5));
  auto out = answer(0, false);
  auto acks = of_type<codec::puback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].packet_id, 5);
  EXPECT_TRUE(env.app_routed().empty());
}

TEST_F(SessionLogicAclHook, SubscribeAsksEveryFilterAtOnce) {
  attach(v3_connect());
  EXPECT_TRUE(in(sub(3, {{"ok/#", 1}, {"no/#", 1}})).empty());
  ASSERT_EQ(hook->asked.size(), 2u);
  EXPECT_EQ(hook->asked[0].kind, access_kind::subscribe);
  EXPECT_TRUE(answer(1, false).empty()); // still waiting for the first filter
  auto out = answer(0, true);
  auto acks = of_type<codec::suback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].codes,
            (std::vector<reason_code>{reason_code::granted_qos_1, reason_code::unspecified_error}));
  ASSERT_EQ(env.subscribes.size(), 1u);
  EXPECT_EQ(env.subscribes[0].size(), 1u);
}

TEST_F(SessionLogicAclHook, CachedAnswersNeedNoWait) {
  hook->cache["a"] = true;
  hook->cache["b"] = false;
  attach(v5_connect());
  auto out = in({pub("a", "x", 1, 1), pub("b", "x", 1, 2)});
  auto acks = of_type<codec::puback>(out);
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[0].code, reason_code::success);
  EXPECT_EQ(acks[1].code, reason_code::not_authorized);
  EXPECT_TRUE(hook->asked.empty());
  EXPECT_FALSE(logic().holding_packets());
}

TEST_F(SessionLogicAclHook, FileDenialIsFinalAndTheHookIsNotAsked) {
  hook->file_rules = true;
  attach(v5_connect());
  auto out = in(pub("file-deny/x", "x", 1, 1));
  auto acks = of_type<codec::puback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].code, reason_code::not_authorized);
  EXPECT_TRUE(hook->asked.empty());
}

TEST_F(SessionLogicAclHook, HeldDisconnectStillCountsWhenTheLinkClosesFirst) {
  auto c = v3_connect();
  c.will_message = make_will(0);
  hook->cache[c.will_message->topic] = true;
  attach(c);
  in({pub("a", "x", 0), codec::disconnect{}});
  link_lost(); // the client closed right after its DISCONNECT
  EXPECT_TRUE(logic().connected()); // the held packets come first
  answer(0, true);
  EXPECT_FALSE(logic().connected());
  auto routed = env.app_routed();
  ASSERT_EQ(routed.size(), 1u); // the publish, and no will (normal disconnect, MQTT-3.14.4-3)
  EXPECT_EQ(routed[0]->topic, "a");
}

TEST_F(SessionLogicAclHook, WillWaitsForItsAnswer) {
  auto c = v3_connect();
  c.will_message = make_will(0);
  attach(c);
  ASSERT_EQ(hook->asked.size(), 1u); // asked at CONNECT time
  EXPECT_EQ(hook->asked[0].topic, c.will_message->topic);
  link_lost();
  EXPECT_TRUE(env.app_routed().empty()); // no answer yet
  EXPECT_EQ(env.ended, 0u);              // the clean session ends after the will is decided
  answer(0, true);
  ASSERT_EQ(env.app_routed().size(), 1u);
  EXPECT_EQ(env.app_routed()[0]->topic, c.will_message->topic);
  EXPECT_EQ(env.ended, 1u);
}

TEST_F(SessionLogicAclHook, DeniedWillIsNotPublished) {
  auto c = v3_connect();
  c.will_message = make_will(0);
  attach(c);
  answer(0, false);
  link_lost();
  EXPECT_TRUE(env.app_routed().empty());
}

// -- publish rate limits --------------------------------------------------------------------

TEST_F(SessionLogic, PublishRateBeyondTheBurstDisconnectsWith0x96) {
  limits.max_publish_rate = 2;
  attach(v5_connect());
  auto out = in({pub("t", "1"), pub("t", "2"), pub("t", "3"), pub("t", "4")});
  auto d = of_type<codec::disconnect>(out);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::message_rate_too_high);
  EXPECT_EQ(env.closes, 1u);
  EXPECT_EQ(env.app_routed().size(), 2u);
}

TEST_F(SessionLogic, PublishRateRefillsOverTime) {
  limits.max_publish_rate = 2;
  attach(v3_connect());
  in({pub("t", "1"), pub("t", "2")});
  env.now += 500; // one more token
  in(pub("t", "3"));
  EXPECT_TRUE(logic().connected());
  in(pub("t", "4"));
  EXPECT_FALSE(logic().connected()); // 3.1.1: closed without a DISCONNECT
  EXPECT_TRUE(of_type<codec::disconnect>(take()).empty());
}

TEST_F(SessionLogic, PublishBytesRateCountsPayloadBytes) {
  limits.max_publish_bytes_rate = 100;
  attach(v5_connect());
  in({pub("t", std::string(60, 'x')), pub("t", std::string(30, 'x'))});
  EXPECT_TRUE(logic().connected());
  auto out = in(pub("t", std::string(20, 'x')));
  auto d = of_type<codec::disconnect>(out);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, reason_code::message_rate_too_high);
}

// -- re-authentication (MQTT 5 §4.12.1) -------------------------------------------------------

/// A two-step test method: start("alice") -> proceed "challenge"; next("answer") -> success as
/// alice with "done"; anything else fails.
class token_exchange final : public auth_exchange {
public:
  auth_step start(std::string_view data) override {
    user_ = std::string{data};
    if (data.empty())
      return {auth_step::outcome::failure, {}, {}, "no data"};
    return {auth_step::outcome::proceed, "challenge", {}, {}};
  }
  auth_step next(std::string_view data) override {
    if (data != "answer")
      return {auth_step::outcome::failure, {}, {}, "wrong answer"};
    return {auth_step::outcome::success, "done", user_, {}};
  }

private:
  std::string user_;
};

class SessionReauth : public SessionLogic {
protected:
  SessionReauth() {
    auto methods = std::make_shared<auth_methods>();
    methods->add("TOKEN", [] { return std::make_unique<token_exchange>(); });
    limits.enhanced_auth = methods;
  }

  /// Attaches after a successful TOKEN exchange as alice; returns the CONNACK.
  codec::connack attach_with_token() {
    auto c = v5_connect();
    c.props.authentication_method = "TOKEN";
    c.props.authentication_data = "server-final";
    connection_facts facts;
    facts.username = "alice";
    auto acks = of_type<codec::connack>(attach(c, false, facts));
    EXPECT_EQ(acks.size(), 1u);
    return acks.empty() ? codec::connack{} : acks[0];
  }

  static codec::auth auth_packet(reason_code rc, std::string method, std::string data) {
    codec::auth a{rc, {}};
    a.props.authentication_method = std::move(method);
    a.props.authentication_data = std::move(data);
    return a;
  }
};

// MQTT-4.12.0-5: the CONNACK after an exchange carries the method and the server's data.
TEST_F(SessionReauth, ConnackCarriesMethodAndServerData) {
  auto ack = attach_with_token();
  EXPECT_EQ(ack.code, reason_code::success);
  EXPECT_EQ(ack.props.authentication_method, "TOKEN");
  EXPECT_EQ(ack.props.authentication_data, "server-final");
}

// MQTT-4.12.0-6: no method in CONNECT, none in CONNACK.
TEST_F(SessionReauth, PlainConnackHasNoMethod) {
  auto acks = of_type<codec::connack>(attach(v5_connect()));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_FALSE(acks[0].props.authentication_method);
  EXPECT_FALSE(acks[0].props.authentication_data);
}

// MQTT-4.12.1-1: AUTH 0x19 with the same method runs the exchange; success -> AUTH 0x00.
TEST_F(SessionReauth, SuccessAnswersAuthSuccess) {
  attach_with_token();
  auto first = of_type<codec::auth>(in(auth_packet(reason_code::re_authenticate, "TOKEN", "alice")));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].code, reason_code::continue_authentication);
  EXPECT_EQ(first[0].props.authentication_method, "TOKEN");
  EXPECT_EQ(first[0].props.authentication_data, "challenge");
  auto done =
    of_type<codec::auth>(in(auth_packet(reason_code::continue_authentication, "TOKEN", "answer")));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].code, reason_code::success);
  EXPECT_EQ(done[0].props.authentication_method, "TOKEN");
  EXPECT_EQ(done[0].props.authentication_data, "done");
  EXPECT_EQ(env.closes, 0u);
  EXPECT_TRUE(logic().connected());
  // Repeatable.
  in(auth_packet(reason_code::re_authenticate, "TOKEN", "alice"));
  done =
    of_type<codec::auth>(in(auth_packet(reason_code::continue_authentication, "TOKEN", "answer")));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].code, reason_code::success);
}

// MQTT-4.12.1-2: a failed re-authentication -> DISCONNECT (0x87) and close.
TEST_F(SessionReauth, FailureDisconnectsNotAuthorized) {
  attach_with_token();
  in(auth_packet(reason_code::re_authenticate, "TOKEN", "alice"));
  auto ds = of_type<codec::disconnect>(
    in(auth_packet(reason_code::continue_authentication, "TOKEN", "wrong")));
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::not_authorized);
  EXPECT_EQ(env.closes, 1u);
}

TEST_F(SessionReauth, AnotherUserIsRefused) {
  attach_with_token();
  in(auth_packet(reason_code::re_authenticate, "TOKEN", "mallory"));
  auto ds = of_type<codec::disconnect>(
    in(auth_packet(reason_code::continue_authentication, "TOKEN", "answer")));
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::not_authorized);
}

// MQTT-4.12.1-1 / MQTT-4.12.0-5: another method is a protocol error.
TEST_F(SessionReauth, AnotherMethodIsProtocolError) {
  attach_with_token();
  auto ds =
    of_type<codec::disconnect>(in(auth_packet(reason_code::re_authenticate, "OTHER", "alice")));
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::protocol_error);
}

// 0x18 outside an exchange, or 0x19 inside one: protocol error (MQTT-3.15.2-1 reason codes).
TEST_F(SessionReauth, OutOfOrderReasonCodesAreProtocolErrors) {
  attach_with_token();
  auto ds = of_type<codec::disconnect>(
    in(auth_packet(reason_code::continue_authentication, "TOKEN", "answer")));
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::protocol_error);

  env.packets.clear();
  attach_with_token();
  in(auth_packet(reason_code::re_authenticate, "TOKEN", "alice"));
  ds = of_type<codec::disconnect>(in(auth_packet(reason_code::re_authenticate, "TOKEN", "alice")));
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::protocol_error);
}

// MQTT-4.12.0-7: no method in CONNECT -> AUTH is a protocol error, even with methods offered.
TEST_F(SessionReauth, AuthAfterPlainConnectIsProtocolError) {
  attach(v5_connect());
  auto ds =
    of_type<codec::disconnect>(in(auth_packet(reason_code::re_authenticate, "TOKEN", "alice")));
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::protocol_error);
}

// A reconnect drops a re-authentication that was in progress on the old connection.
TEST_F(SessionReauth, ReattachForgetsExchangeInProgress) {
  attach_with_token();
  in(auth_packet(reason_code::re_authenticate, "TOKEN", "alice"));
  attach_with_token();
  auto ds = of_type<codec::disconnect>(
    in(auth_packet(reason_code::continue_authentication, "TOKEN", "answer")));
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, reason_code::protocol_error);
}

} // namespace
} // namespace colony::actors
