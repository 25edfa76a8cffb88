// session_logic: the MQTT protocol state of one client id, without sockets or actors.
//
// It owns what outlives a connection (subscriptions, outbound QoS 1/2 in flight and queued,
// inbound QoS 2 ids awaiting PUBREL, the will) and handles every packet after CONNECT. It acts
// only through a session_env (the "callee" interface), which the session actor implements
// with a link and the topic shards, and unit tests implement with recorders.
#pragma once

#include "actors/access_policy.hpp"
#include "actors/enhanced_auth.hpp"
#include "actors/lazy_deque.hpp"
#include "actors/messages.hpp"
#include "actors/rate_limit.hpp"
#include "codec/packets.hpp"
#include "persistence/store.hpp"
#include "transport/link.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace colony::actors {

/// Limits and capabilities that apply to every session (from configuration).
struct session_limits {
  std::size_t max_inflight = 20;          ///< outbound unacknowledged QoS 1/2 per session
  std::size_t max_queued_messages = 1000; ///< pending QoS 1/2 per session (online or offline)
  /// With persistence: pending messages kept in memory; more stay in the store only.
  std::size_t max_queued_in_memory = 10000;
  std::size_t max_write_buffer = 1024 * 1024; ///< outgoing bytes before QoS 0 is dropped
  std::uint16_t receive_maximum = 1024;   ///< inbound QoS 2 awaiting PUBREL (MQTT 5)
  std::uint16_t topic_alias_maximum = 64; ///< client -> server aliases accepted (MQTT 5)
  std::uint16_t max_keepalive = 0;        ///< 0 = any keepalive accepted
  std::uint32_t max_packet_size = 1024 * 1024;
  std::uint32_t max_session_expiry = 0xFFFFFFFF;
  std::uint8_t max_qos = 2;
  bool retain_available = true;
  bool wildcard_available = true;
  bool shared_available = true;
  bool subscription_ids_available = true;
  bool sys_notices = true;               ///< $SYS/broker/connection/clients/<id>
  /// How many subscriptions of all sessions have a filter under `$SYS/` (kept by the sessions,
  /// which count theirs before their SUBACK). Only such a filter can match a connection
  /// notice (MQTT-4.7.2-1: wildcards at the first level never match `$` topics), so while it is
  /// zero no notice is built or routed. Null: notices are always routed.
  std::shared_ptr<std::atomic<std::int64_t>> sys_watchers;
  std::size_t max_topic_length = 65535;
  std::size_t max_topic_levels = 128;
  std::uint64_t max_publish_rate = 0;       ///< PUBLISH packets/s per connection, 0 = unlimited
  std::uint64_t max_publish_bytes_rate = 0; ///< PUBLISH payload bytes/s, 0 = unlimited
  /// ACL checks; null = everything allowed.
  std::shared_ptr<const access_policy> policy;
  /// The persistent store; null when persistence is off.
  std::shared_ptr<persistence::store> store;
  /// Enhanced authentication methods (MQTT 5 §4.12); null or empty = none offered (0x8C).
  std::shared_ptr<const auth_methods> enhanced_auth;
};

enum class timer_kind : std::uint8_t { will_delay, session_expiry };

/// What the session logic needs from its surroundings.
class session_env {
public:
  virtual ~session_env() = default;
  /// Bytes for the attached link (no-op when detached).
  virtual void write(std::vector<std::uint8_t> bytes) = 0;
  /// The output that follows (a PINGRESP) is sent only once everything this session routed
  /// so far has been handled by the shards, as a single-threaded broker would have it.
  virtual void order_barrier() {}
  virtual std::size_t queued_bytes() const = 0;
  virtual void notify_when_drained() = 0;
  virtual void set_keepalive(std::uint16_t seconds) = 0;
  /// Closes the attached link after what is written; the link is detached at once.
  virtual void close_link() = 0;
  /// Hands one message to the topic shards (batched per turn by the environment).
  virtual void route(message_ptr msg) = 0;
  virtual void subscribe(std::vector<subscription> subs) = 0;
  virtual void unsubscribe(std::vector<std::pair<std::string, std::string>> filters) = 0;
  /// Online/offline for shared-group member choice.
  virtual void set_online(bool online) = 0;
  /// Gives deliveries that came through shared groups back for another member.
  virtual void redistribute(std::vector<delivery> items) = 0;
  virtual void start_timer(timer_kind kind, std::chrono::milliseconds after) = 0;
  virtual void cancel_timer(timer_kind kind) = 0;
  /// The session is over (clean session ended, expiry): the environment asks the registry
  /// and tears down.
  virtual void end_session() = 0;
  virtual std::int64_t now_ms() const = 0;
  /// Where the asynchronous ACL hook's answer for `token` goes: a callable (any thread) that
  /// brings it back as session_logic::on_acl_answer(token, allowed) on the session's turn.
  /// An empty function means answers cannot be received: the check then denies.
  virtual std::function<void(bool)> acl_reply(std::uint64_t /*token*/) { return {}; }
  /// Hands store writes to the store. With `hold_output`, bytes written from now on are
  /// held back until the writes are durable (persistence = sync).
  virtual void persist(persistence::batch writes, bool hold_output) {
    (void)writes;
    (void)hold_output;
  }
  /// Calls session_logic::on_refill() once everything submitted to the store so far is
  /// applied (so the messages this session spilled can be read back).
  virtual void request_refill() {}
};

/// What the store kept of a session, for restore() at start.
struct restored_session {
  persistence::stored_session record;
  std::vector<persistence::stored_entry> entries; ///< of this incarnation, in seq order
  std::vector<std::uint16_t> inbound_qos2;
  /// Seqs of entries left in the store (not read at start), in order.
  std::vector<std::uint64_t> spilled;
  /// Milliseconds the client has been offline (downtime included).
  std::int64_t offline_ms = 0;
};

/// Who is attached: facts from the connection, for $SYS notices, logs and the admin API.
struct connection_facts {
  std::string username;
  std::string remote_address;
  std::string remote_ip;
  std::string listener;
  bool assigned_client_id = false;
};

class session_logic {
public:
  session_logic(std::string client_id, std::uint64_t session_id, const session_limits& limits,
                session_env& env);
  /// The same limits shared by every session (one copy for the broker, not one per session).
  session_logic(std::string client_id, std::uint64_t session_id,
                std::shared_ptr<const session_limits> limits, session_env& env);
  ~session_logic();
  session_logic(const session_logic&) = delete;
  session_logic& operator=(const session_logic&) = delete;

  /// A connection with a valid, authorized CONNECT takes over this session. Sends CONNACK,
  /// re-sends what is in flight (DUP), then what is queued.
  void attach(const codec::connect& c, bool session_present, const connection_facts& facts);

  /// The attached connection is being replaced by another one (MQTT-3.1.4-2).
  void take_over();

  void on_packets(transport::packet_batch& batch);
  void on_deliveries(delivery_batch& batch);
  void on_link_closed(const transport::close_info& info);
  void on_drained();
  /// Everything submitted to the store before the last request_refill() is applied: reads
  /// spilled messages back into the in-memory queue and sends what the window allows.
  void on_refill();
  void on_timer(timer_kind kind);
  /// An answer of the asynchronous ACL hook (see session_env::acl_reply). Processes the
  /// packets that waited for it, in order.
  void on_acl_answer(std::uint64_t token, bool allowed);
  /// The broker is shutting down: DISCONNECT 0x8B (MQTT 5) and close.
  void shut_down();
  /// An administrator disconnects the client (0x98 for MQTT 5).
  void kick();

  /// Sends what the last calls encoded (one write per turn), after handing what they
  /// changed to the store.
  void flush();

  /// Rebuilds an offline session from the store (at start). Subscriptions go back to the
  /// shards, queued and in-flight messages wait for the client, timers restart with what
  /// is left of them.
  void restore(restored_session&& r);
  /// Every restored session is back (the registry registered their subscriptions): publishes
  /// a will that fell due while the broker was down, ends a session that expired meanwhile.
  void on_restored();

  /// The number that tags this session's store entries (see persistence::stored_session).
  void set_incarnation(std::uint64_t n) noexcept { incarnation_ = n; }
  std::uint64_t incarnation() const noexcept { return incarnation_; }
  /// True when the store keeps this session (persistence on, session expiry not 0).
  bool persistent() const noexcept { return limits_.store && session_expiry_ != 0; }

  // -- observers --------------------------------------------------------------

  bool connected() const noexcept { return connected_; }
  bool ended() const noexcept { return ended_; }
  const std::string& client_id() const noexcept { return client_id_; }
  std::uint64_t session_id() const noexcept { return session_id_; }
  codec::protocol_version version() const noexcept { return version_; }
  std::size_t inflight_count() const noexcept { return inflight_.size(); }
  std::size_t queued_count() const noexcept { return pending_.size() + spilled_.size(); }
  std::size_t subscription_count() const noexcept { return subs_.size(); }
  /// True if this session ever registered a subscription with the shards.
  bool ever_subscribed() const noexcept { return ever_subscribed_; }
  std::uint16_t keep_alive() const noexcept { return keep_alive_; }
  const connection_facts& facts() const noexcept { return facts_; }
  std::uint64_t dropped_count() const noexcept { return dropped_; }
  /// Packets wait for asynchronous ACL answers (the environment holds back read credit).
  bool holding_packets() const noexcept { return !held_.empty(); }
  /// Calls f(topic_filter, share_group, options, subscription_id) for each subscription.
  template <class F>
  void for_each_subscription(F&& f) const {
    for (const auto& [key, r] : subs_)
      f(r.topic_filter, r.share_group, r.options, r.subscription_id);
  }

private:
  struct inflight_entry {
    delivery d;
    std::uint64_t seq = 0;
    enum class stage : std::uint8_t { await_puback, await_pubrec, await_pubcomp } at;
  };
  struct sub_record {
    std::string topic_filter;
    std::string share_group;
    codec::subscription_options options;
    std::uint32_t subscription_id = 0;
  };

  // -- inbound packets (one function per packet, in packet order) ---------------
  void dispatch(codec::packet& pkt);
  /// True when the publish rate limits allow `p`; otherwise closes (MQTT 5: 0x96).
  bool admit_publish(const codec::publish& p);
  void handle_publish(codec::publish& p);
  void handle_puback(const codec::puback& p);
  void handle_pubrec(const codec::pubrec& p);
  void handle_pubrel(const codec::pubrel& p);
  void handle_pubcomp(const codec::pubcomp& p);
  void handle_subscribe(codec::subscribe& p);
  void handle_unsubscribe(const codec::unsubscribe& p);
  void handle_disconnect(const codec::disconnect& p);
  void handle_auth(const codec::auth& p);
  void send_auth(codec::reason_code rc, std::string data);

  // -- outbound -------------------------------------------------------------------
  void send(const codec::packet& p);
  /// MQTT 5 DISCONNECT with a reason code and its Reason String.
  void send_disconnect(codec::reason_code rc);
  /// Sends or queues one delivery (QoS 0 may be dropped by the write-buffer cap).
  void offer(delivery d);
  /// Sends queued deliveries while the window and the write buffer allow.
  void pump();
  bool window_open() const noexcept;
  bool write_buffer_full() const;
  /// Encodes a PUBLISH for `d` (packet id 0 for QoS 0). Returns false if it was dropped
  /// because the client's Maximum Packet Size is smaller (MQTT-3.1.2-25).
  bool send_publish(const delivery& d, std::uint16_t packet_id, bool dup);
  std::uint16_t next_packet_id();
  void resend_inflight();
  void enqueue(delivery d);

  void drop(const char* why);
  /// Drops `d` and its store entry.
  void drop(const delivery& d, const char* why);

  // -- persistence ----------------------------------------------------------------
  /// The session record (subscriptions, expiry, will) changed: flush() writes it if the
  /// session is persistent.
  void save_session() { session_dirty_ = limits_.store != nullptr; }
  /// Forgets the store entry of a delivery that leaves this session unacknowledged or done.
  void forget(const delivery& d);
  /// Records the packet id and stage of an outbound QoS 2 message (held until durable).
  void save_stage(const delivery& d, std::uint16_t packet_id, persistence::entry_stage stage);
  /// In sync mode, what is sent from now on waits for the pending writes.
  void hold_until_durable() {
    if (limits_.store && limits_.store->mode() == persistence::durability::sync)
      hold_ = true;
  }

  // -- connection lifecycle -----------------------------------------------------
  /// Closes with a reason: MQTT 5 DISCONNECT first; then as an abnormal loss (will published).
  void close_with(codec::reason_code rc, const char* why = "protocol violation");
  /// The connection is gone. Publishes or schedules the will; starts session expiry.
  void lost_connection(bool publish_will, const char* reason);
  void publish_will();
  void end_now();
  void reset_state();
  void sys_notice(bool online);
  message_ptr make_message(codec::publish& p);
  /// True when an ACL is configured and must be consulted.
  bool acl_active() const { return limits_.policy && limits_.policy->active(); }

  // -- asynchronous ACL hook (see access_policy.hpp) ------------------------------
  const async_access_hook* hook() const {
    return limits_.policy ? limits_.policy->async_hook() : nullptr;
  }
  using acl_key = std::pair<access_kind, std::string>;
  /// True when every hook answer `pkt` needs is in acl_->answers; otherwise asks for the
  /// missing ones (once each) and returns false.
  bool acl_ready(const codec::packet& pkt);
  /// Records a known answer or asks for it; true if known.
  bool acl_known(access_kind kind, const std::string& topic);
  /// The hook's verdict for the packet being handled (true when there is no hook).
  bool hook_allows(access_kind kind, const std::string& topic) const;
  std::uint64_t ask_hook(access_kind kind, const std::string& topic);
  /// Processes held packets whose answers are all known, in order.
  void drain_held();
  void forget_held();
  client_identity identity() const {
    return client_identity{client_id_, facts_.username, facts_.remote_ip};
  }

  std::string client_id_;
  std::uint64_t session_id_;
  std::shared_ptr<const session_limits> limits_holder_;
  const session_limits& limits_;
  session_env& env_;

  // Connection-scoped state.
  bool connected_ = false;
  bool ended_ = false;
  codec::protocol_version version_ = codec::protocol_version::v3_1_1;
  std::uint16_t keep_alive_ = 0;
  std::uint32_t session_expiry_ = 0; // seconds; 0xFFFFFFFF = never
  bool session_expiry_was_zero_ = true;
  std::uint16_t client_receive_maximum_ = 65535;
  std::uint32_t client_max_packet_size_ = 0; // 0 = no limit
  bool request_problem_information_ = true;
  std::unique_ptr<codec::will> will_; // boxed: a will is ~560 bytes and most clients have none
  std::uint16_t client_topic_alias_maximum_ = 0;
  connection_facts facts_;
  std::vector<std::uint8_t> out_;
  lazy_deque<codec::packet> held_; // packets waiting for ACL hook answers, in order
  std::optional<transport::close_info> close_after_held_;

  // Connection-scoped state of features most clients never use, each allocated on first use:
  // an idle client pays a pointer for each (10,000 idle clients: ~3.5 MB less).
  /// Topic aliases (MQTT 5 §3.3.2.3.4) both ways; server-to-client ones are assigned by the
  /// broker while the client's Topic Alias Maximum allows.
  struct alias_state {
    std::unordered_map<std::uint16_t, std::string> inbound;
    std::unordered_map<std::string, std::uint16_t> outbound;
  };
  std::unique_ptr<alias_state> aliases_;
  alias_state& aliases();
  const std::string* inbound_alias(std::uint16_t alias) const;
  /// --max-publish-rate / --max-publish-bytes-rate (null when neither is set).
  struct publish_rate {
    token_bucket messages;
    token_bucket bytes;
  };
  std::unique_ptr<publish_rate> rate_;
  /// The asynchronous ACL hook: the answers for the packet being handled, the questions in
  /// flight (token -> what was asked), and the will waiting for its answer.
  struct hook_state {
    std::map<acl_key, bool> answers;
    std::unordered_map<std::uint64_t, acl_key> asked;
    std::uint64_t will_token = 0;                ///< question about the will's topic in flight
    std::optional<bool> will_allowed;            ///< the hook's answer for the will topic
    std::unique_ptr<codec::publish> will_waiting; ///< a will to publish once the answer arrives
    bool end_after_will = false; ///< the session ends once the waiting will is decided
  };
  std::unique_ptr<hook_state> acl_;
  std::uint64_t acl_token_ = 0; ///< never reset: a late answer never matches a newer question
  hook_state& acl();
  /// Enhanced authentication: the CONNECT's method, and a re-authentication in progress.
  struct auth_state {
    std::string method;
    std::shared_ptr<auth_exchange> reauth;
  };
  std::unique_ptr<auth_state> auth_;

  // Session state (survives reconnects).
  std::map<std::string, sub_record> subs_; // key: share_group + '\x1f' + filter
  /// Adds or removes one subscription from the count of `$SYS/` watchers (sys_watchers).
  void count_watcher(const std::string& filter, int delta);
  std::uint32_t sys_subs_ = 0; ///< this session's share of limits_.sys_watchers
  bool ever_subscribed_ = false;
  std::unordered_map<std::uint16_t, inflight_entry> inflight_;
  lazy_deque<delivery> pending_;
  std::unordered_set<std::uint16_t> inbound_qos2_;
  std::uint16_t last_packet_id_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t dropped_ = 0;
  bool drop_logged_ = false;
  bool waiting_for_drain_ = false;
  bool has_shared_ = false;

  // Persistence.
  std::uint64_t incarnation_ = 0;
  persistence::batch writes_;
  bool hold_ = false;
  bool session_dirty_ = false;
  std::int64_t disconnected_at_ms_ = 0;
  /// The persistence flag the shards have for this session's subscriptions.
  bool shards_persistent_ = false;
  /// Wall-clock ms when the will is due (a delayed will), 0 = none pending.
  std::int64_t will_due_ms_ = 0;
  /// Seqs of queued messages that are only in the store (beyond max_queued_in_memory), in
  /// order: read back by on_refill() as the queue drains (8 bytes each in memory).
  std::vector<std::uint64_t> spilled_; // (a vector: allocates nothing while empty)
  bool refill_requested_ = false;
  /// Set by restore(): what on_restored() has to do.
  bool will_due_at_restore_ = false;
  bool expired_at_restore_ = false;
};

} // namespace colony::actors
