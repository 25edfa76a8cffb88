// The values actors exchange: application messages, deliveries, subscription requests, and the
// atoms that name each message. Payloads travel as one immutable, reference-counted
// app_message per publish, never copied per subscriber.
#pragma once

#include "codec/packets.hpp"
#include "transport/link.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace colony::actors {

/// An application message as routed inside the broker (immutable once routed).
struct app_message {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
  /// Forwarded MQTT 5 properties (payload format, content type, response topic, correlation
  /// data, user properties). Message expiry is kept as an absolute deadline instead.
  codec::properties props;
  /// Session that published it (for No Local), 0 for the broker itself.
  std::uint64_t origin_session = 0;
  /// Absolute expiry in ms since the Unix epoch; 0 = never (MQTT 5 §3.3.2.3.3).
  std::int64_t expires_at_ms = 0;
  /// steady_clock nanoseconds when the broker received it (latency metrics).
  std::int64_t received_at_ns = 0;
};

using message_ptr = std::shared_ptr<const app_message>;

/// One message for one session, with what that session's subscriptions decided.
struct delivery {
  message_ptr msg;
  std::uint8_t qos = 0;  ///< min(message QoS, granted QoS)
  bool retain = false;   ///< RETAIN flag to send
  std::vector<std::uint32_t> subscription_ids;
  /// Shared subscription it came through ("group\x1ffilter"), empty if none.
  std::string shared_key;
  /// Its entry in the persistent store (persistence::entry_key), 0 if it is not stored.
  std::uint64_t seq = 0;
};

/// Deliveries for one session from one shard turn (one actor message for many deliveries).
struct delivery_batch {
  std::vector<delivery> items;
};

/// Publishes from one session turn to one shard.
struct publish_batch {
  std::vector<message_ptr> msgs;
};

/// One subscription of one session, as a shard stores it.
struct subscription {
  std::string topic_filter;  ///< without any $share/group/ prefix
  std::string share_group;   ///< empty if not shared
  codec::subscription_options options;
  std::uint32_t subscription_id = 0; ///< 0 = none
  bool send_retained = false;        ///< deliver matching retained messages now
};

struct subscribe_request {
  std::uint64_t session_id = 0;
  caf::actor session;
  std::vector<subscription> subs;
  /// For the persistent store: the shard writes QoS 1/2 deliveries of a persistent session
  /// to its queue (keyed by client id, tagged with the session's incarnation).
  std::string client_id;
  std::uint64_t incarnation = 0;
  bool persistent = false;
};

struct unsubscribe_request {
  std::uint64_t session_id = 0;
  /// (share group, topic filter) pairs.
  std::vector<std::pair<std::string, std::string>> filters;
};

/// What a connection asks the registry for after a valid CONNECT. After an enhanced
/// authentication (MQTT 5 §4.12), packet.props.authentication_data holds the server's final
/// data for CONNACK (the client's data is used up) and packet.username the authenticated user.
struct connect_request {
  /// Behind a pointer: a CONNECT is ~1.2 KB (two property sets), and the request travels in two
  /// actor messages (to the registry, then to the session), each of which would copy it in.
  std::shared_ptr<codec::connect> packet;
  transport::link_ptr link;
  std::shared_ptr<class link_bridge> bridge;
  std::string username; ///< authenticated identity (may differ from packet.username)
};

using shard_list = std::shared_ptr<const std::vector<caf::actor>>;

// -- atoms ------------------------------------------------------------------------

using packets_atom = caf::atom_constant<caf::atom("packets")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using drained_atom = caf::atom_constant<caf::atom("drained")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using route_atom = caf::atom_constant<caf::atom("route")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsub_atom = caf::atom_constant<caf::atom("unsub")>;
using unsub_all_atom = caf::atom_constant<caf::atom("unsuball")>;
using online_atom = caf::atom_constant<caf::atom("online")>;
using connect_atom = caf::atom_constant<caf::atom("connect")>;
using expired_atom = caf::atom_constant<caf::atom("expired")>;
using ended_atom = caf::atom_constant<caf::atom("ended")>;
using terminate_atom = caf::atom_constant<caf::atom("terminate")>;
using timer_atom = caf::atom_constant<caf::atom("timer")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using kick_atom = caf::atom_constant<caf::atom("kick")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using count_atom = caf::atom_constant<caf::atom("count")>;
using auth_atom = caf::atom_constant<caf::atom("auth")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using refill_atom = caf::atom_constant<caf::atom("refill")>;
using restored_atom = caf::atom_constant<caf::atom("restored")>;
using acl_atom = caf::atom_constant<caf::atom("acl")>;

} // namespace colony::actors

// In-process message types. They hold shared pointers and actor handles; the cluster layer
// converts to value types before anything crosses a node boundary.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::actors::message_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::actors::delivery_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::actors::publish_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::actors::subscribe_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::actors::unsubscribe_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::actors::connect_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::transport::packet_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::transport::close_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::actors::shard_list)
