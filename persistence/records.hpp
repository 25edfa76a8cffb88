// The records Colony keeps in its persistent store, and their byte encoding.
//
// Keys (every part after the first byte is raw bytes; client ids and topics are MQTT UTF-8
// strings, which never contain U+0000 (MQTT-1.5.4-2), so 0x00 separates parts):
//   s 0 <client id>               -> session record (expiry, subscriptions, will)
//   q 0 <client id> 0 <seq, BE64> -> one outbound QoS 1/2 message of that session, queued or
//                                    in flight (with its packet id and stage)
//   i 0 <client id> 0 <id, BE16>  -> an inbound QoS 2 packet id awaiting PUBREL
//   r 0 <topic>                   -> the retained message of a topic
//   m 0 alive                     -> wall-clock ms of the last writer heartbeat
// Values start with a format byte; a value that does not decode is dropped on load (and
// counted), never trusted. An application message is kept as an MQTT 5 PUBLISH packet, so
// the codec's validating decoder reads it back.
#pragma once

#include "codec/packets.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony::persistence {

/// An application message as stored (what app_message holds, minus runtime fields).
struct stored_message {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
  codec::properties props;
  std::int64_t expires_at_ms = 0; ///< absolute, ms since the Unix epoch; 0 = never
  friend bool operator==(const stored_message&, const stored_message&) = default;
};

struct stored_subscription {
  std::string topic_filter;
  std::string share_group;
  codec::subscription_options options;
  std::uint32_t subscription_id = 0;
  friend bool operator==(const stored_subscription&, const stored_subscription&) = default;
};

struct stored_session {
  std::string client_id;
  std::uint8_t version = 4;
  std::uint32_t session_expiry = 0;
  /// Tells this session's queue entries from those a replaced session of the same client id
  /// left behind (a stored number, unique per session).
  std::uint64_t incarnation = 0;
  /// Wall-clock ms when the client went offline; 0 = it was online when last written.
  std::int64_t disconnected_at_ms = 0;
  std::vector<stored_subscription> subscriptions;
  std::optional<codec::will> will;
  /// When a delayed will is due (wall-clock ms); 0 = the will waits for the connection to end.
  std::int64_t will_due_ms = 0;
  friend bool operator==(const stored_session&, const stored_session&) = default;
};

/// Stage of an outbound QoS 1/2 message.
enum class entry_stage : std::uint8_t {
  queued = 0,        ///< not sent yet (no packet id)
  await_puback = 1,  ///< QoS 1 sent
  await_pubrec = 2,  ///< QoS 2 sent
  await_pubcomp = 3, ///< QoS 2 PUBREL sent
};

struct stored_entry {
  std::uint64_t seq = 0; ///< from the key
  std::uint64_t incarnation = 0; ///< of the session it was queued for
  std::uint16_t packet_id = 0;
  entry_stage stage = entry_stage::queued;
  std::uint8_t qos = 1;     ///< delivery QoS (min of message and subscription)
  bool retain = false;      ///< RETAIN flag to send
  std::vector<std::uint32_t> subscription_ids;
  std::string shared_key;   ///< "group\x1ffilter" when delivered through a shared subscription
  stored_message msg;
  friend bool operator==(const stored_entry&, const stored_entry&) = default;
};

// -- keys ---------------------------------------------------------------------------

std::string session_key(std::string_view client_id);
std::string entry_key(std::string_view client_id, std::uint64_t seq);
/// [begin, end) of every entry key of one client.
std::pair<std::string, std::string> entry_range(std::string_view client_id);
std::string inbound_key(std::string_view client_id, std::uint16_t packet_id);
std::pair<std::string, std::string> inbound_range(std::string_view client_id);
std::string retained_key(std::string_view topic);
inline constexpr std::string_view alive_key{"m\0alive", 7};

/// Splits an entry or inbound key into client id and its number. False if malformed.
bool parse_entry_key(std::string_view key, std::string& client_id, std::uint64_t& seq);
bool parse_inbound_key(std::string_view key, std::string& client_id, std::uint16_t& packet_id);

// -- values -------------------------------------------------------------------------

std::string encode(const stored_session& s);
std::string encode(const stored_entry& e);
std::string encode(const stored_message& m);
std::string encode_i64(std::int64_t v);

bool decode(std::string_view bytes, stored_session& out);
/// `out.seq` is not touched (it lives in the key).
bool decode(std::string_view bytes, stored_entry& out);
bool decode(std::string_view bytes, stored_message& out);
bool decode_i64(std::string_view bytes, std::int64_t& out);

} // namespace colony::persistence
