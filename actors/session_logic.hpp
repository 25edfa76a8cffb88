// session_logic: the MQTT protocol state of one client id, without sockets or actors.
//
// It owns what outlives a connection (subscriptions, outbound QoS 1/2 in flight and queued,
// inbound QoS 2 ids awaiting PUBREL, the will) and handles every packet after CONNECT. It acts
// only through a session_env (the "callee" interface), which the session actor implements
// with a link and the topic shards, and unit tests implement with recorders.
#pragma once

#include "actors/access_policy.hpp"
#include "actors/lazy_deque.hpp"
#include "actors/messages.hpp"
#include "codec/packets.hpp"
#include "transport/link.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
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
  std::size_t max_topic_length = 65535;
  std::size_t max_topic_levels = 128;
  /// ACL checks; null = everything allowed.
  std::shared_ptr<const access_policy> policy;
};

enum class timer_kind : std::uint8_t { will_delay, session_expiry };

/// What the session logic needs from its surroundings.
class session_env {
public:
  virtual ~session_env() = default;
  /// Bytes for the attached link (no-op when detached).
  virtual void write(std::vector<std::uint8_t> bytes) = 0;
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

  /// A connection with a valid, authorized CONNECT takes over this session. Sends CONNACK,
  /// re-sends what is in flight (DUP), then what is queued.
  void attach(const codec::connect& c, bool session_present, const connection_facts& facts);

  /// The attached connection is being replaced by another one (MQTT-3.1.4-2).
  void take_over();

  void on_packets(transport::packet_batch& batch);
  void on_deliveries(delivery_batch& batch);
  void on_link_closed(const transport::close_info& info);
  void on_drained();
  void on_timer(timer_kind kind);
  /// The broker is shutting down: DISCONNECT 0x8B (MQTT 5) and close.
  void shut_down();
  /// An administrator disconnects the client (0x98 for MQTT 5).
  void kick();

  /// Sends what the last calls encoded (one write per turn).
  void flush();

  // -- observers --------------------------------------------------------------

  bool connected() const noexcept { return connected_; }
  bool ended() const noexcept { return ended_; }
  const std::string& client_id() const noexcept { return client_id_; }
  std::uint64_t session_id() const noexcept { return session_id_; }
  codec::protocol_version version() const noexcept { return version_; }
  std::size_t inflight_count() const noexcept { return inflight_.size(); }
  std::size_t queued_count() const noexcept { return pending_.size(); }
  std::size_t subscription_count() const noexcept { return subs_.size(); }
  std::uint16_t keep_alive() const noexcept { return keep_alive_; }
  const connection_facts& facts() const noexcept { return facts_; }
  std::uint64_t dropped_count() const noexcept { return dropped_; }
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
  void handle_publish(codec::publish& p);
  void handle_puback(const codec::puback& p);
  void handle_pubrec(const codec::pubrec& p);
  void handle_pubrel(const codec::pubrel& p);
  void handle_pubcomp(const codec::pubcomp& p);
  void handle_subscribe(codec::subscribe& p);
  void handle_unsubscribe(const codec::unsubscribe& p);
  void handle_disconnect(const codec::disconnect& p);
  void handle_auth(const codec::auth& p);

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

  // -- connection lifecycle -----------------------------------------------------
  /// Closes with a reason: MQTT 5 DISCONNECT first; then as an abnormal loss (will published).
  void close_with(codec::reason_code rc);
  /// The connection is gone. Publishes or schedules the will; starts session expiry.
  void lost_connection(bool publish_will, const char* reason);
  void publish_will();
  void end_now();
  void reset_state();
  void sys_notice(bool online);
  message_ptr make_message(codec::publish& p);
  /// True when an ACL is configured and must be consulted.
  bool acl_active() const { return limits_.policy && limits_.policy->active(); }
  client_identity identity() const {
    return client_identity{client_id_, facts_.username, facts_.remote_ip};
  }

  std::string client_id_;
  std::uint64_t session_id_;
  session_limits limits_;
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
  std::unordered_map<std::uint16_t, std::string> inbound_aliases_;
  /// Server-to-client topic aliases (MQTT 5 §3.3.2.3.4), assigned by the broker while the
  /// client's Topic Alias Maximum allows; per connection.
  std::unordered_map<std::string, std::uint16_t> outbound_aliases_;
  std::uint16_t client_topic_alias_maximum_ = 0;
  connection_facts facts_;
  std::vector<std::uint8_t> out_;

  // Session state (survives reconnects).
  std::map<std::string, sub_record> subs_; // key: share_group + '\x1f' + filter
  std::unordered_map<std::uint16_t, inflight_entry> inflight_;
  lazy_deque<delivery> pending_;
  std::unordered_set<std::uint16_t> inbound_qos2_;
  std::uint16_t last_packet_id_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t dropped_ = 0;
  bool drop_logged_ = false;
  bool waiting_for_drain_ = false;
  bool has_shared_ = false;
};

} // namespace colony::actors
