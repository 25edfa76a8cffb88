#include "actors/persist.hpp"

#include <chrono>

namespace colony::actors {

persistence::stored_message to_stored(const app_message& m) {
  persistence::stored_message s;
  s.topic = m.topic;
  s.payload = m.payload;
  s.qos = m.qos;
  s.retain = m.retain;
  s.props = m.props;
  s.expires_at_ms = m.expires_at_ms;
  return s;
}

message_ptr from_stored(persistence::stored_message&& s) {
  auto m = std::make_shared<app_message>();
  m->topic = std::move(s.topic);
  m->payload = std::move(s.payload);
  m->qos = s.qos;
  m->retain = s.retain;
  m->props = std::move(s.props);
  m->expires_at_ms = s.expires_at_ms;
  m->received_at_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count();
  return m;
}

persistence::stored_entry to_entry(const delivery& d, std::uint64_t incarnation,
                                   std::uint16_t packet_id, persistence::entry_stage stage) {
  persistence::stored_entry e;
  e.seq = d.seq;
  e.incarnation = incarnation;
  e.packet_id = packet_id;
  e.stage = stage;
  e.qos = d.qos;
  e.retain = d.retain;
  e.subscription_ids = d.subscription_ids;
  e.shared_key = d.shared_key;
  e.msg = to_stored(*d.msg);
  return e;
}

delivery from_entry(persistence::stored_entry&& e) {
  delivery d;
  d.seq = e.seq;
  d.qos = e.qos;
  d.retain = e.retain;
  d.subscription_ids = std::move(e.subscription_ids);
  d.shared_key = std::move(e.shared_key);
  d.msg = from_stored(std::move(e.msg));
  return d;
}

} // namespace colony::actors
