#include "persistence/records.hpp"

#include "codec/decoder.hpp"
#include "codec/encoder.hpp"

#include <cstring>

namespace colony::persistence {

namespace {

constexpr std::uint8_t format_v1 = 1;

// -- a small little-endian writer and a bounds-checked reader ------------------------

class writer {
public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) { fixed(v, 2); }
  void u32(std::uint32_t v) { fixed(v, 4); }
  void u64(std::uint64_t v) { fixed(v, 8); }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  std::string take() { return std::move(out_); }

private:
  void fixed(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
      out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class reader {
public:
  explicit reader(std::string_view in) : in_(in) {}
  bool u8(std::uint8_t& v) {
    std::uint64_t x;
    if (!fixed(x, 1))
      return false;
    v = static_cast<std::uint8_t>(x);
    return true;
  }
  bool u16(std::uint16_t& v) {
    std::uint64_t x;
    if (!fixed(x, 2))
      return false;
    v = static_cast<std::uint16_t>(x);
    return true;
  }
  bool u32(std::uint32_t& v) {
    std::uint64_t x;
    if (!fixed(x, 4))
      return false;
    v = static_cast<std::uint32_t>(x);
    return true;
  }
  bool u64(std::uint64_t& v) { return fixed(v, 8); }
  bool str(std::string& s) {
    std::uint32_t n;
    if (!u32(n) || n > in_.size() - pos_)
      return false;
    s.assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

private:
  bool fixed(std::uint64_t& v, std::size_t n) {
    if (in_.size() - pos_ < n)
      return false;
    v = 0;
    for (std::size_t i = 0; i < n; ++i)
      v |= std::uint64_t{static_cast<unsigned char>(in_[pos_ + i])} << (8 * i);
    pos_ += n;
    return true;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
};

/// A message is an MQTT 5 PUBLISH (packet id 1 when QoS > 0; the real id lives elsewhere).
void put_message(writer& w, std::string_view topic, std::string_view payload, std::uint8_t qos,
                 bool retain, const codec::properties& props, std::int64_t expires_at_ms) {
  std::vector<std::uint8_t> bytes;
  codec::encode_publish(bytes, codec::protocol_version::v5, false, qos, retain, topic,
                        qos > 0 ? 1 : 0, props.empty() ? nullptr : &props, payload);
  w.u64(static_cast<std::uint64_t>(expires_at_ms));
  w.str(std::string_view{reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

bool get_message(reader& r, stored_message& m) {
  std::uint64_t expires;
  std::string bytes;
  if (!r.u64(expires) || !r.str(bytes))
    return false;
  auto span = std::span<const std::uint8_t>{reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                            bytes.size()};
  codec::fixed_header h;
  codec::reason_code rc;
  if (codec::decode_fixed_header(span, codec::absolute_max_packet_size, h, rc)
        != codec::decode_status::packet
      || h.type != codec::packet_type::publish
      || h.header_size + h.remaining_length != span.size())
    return false;
  auto p = codec::decode_packet(h, span.subspan(h.header_size), codec::protocol_version::v5);
  if (!p)
    return false;
  auto* pub = std::get_if<codec::publish>(&*p);
  if (!pub)
    return false;
  m.topic = std::move(pub->topic);
  m.payload = std::move(pub->payload);
  m.qos = pub->qos;
  m.retain = pub->retain;
  m.props = std::move(pub->props);
  m.expires_at_ms = static_cast<std::int64_t>(expires);
  return true;
}

void put_options(writer& w, const codec::subscription_options& o) {
  w.u8(static_cast<std::uint8_t>(o.max_qos | (o.no_local ? 0x04 : 0)
                                 | (o.retain_as_published ? 0x08 : 0)
                                 | (o.retain_handling << 4)));
}

bool get_options(reader& r, codec::subscription_options& o) {
  std::uint8_t b;
  if (!r.u8(b) || (b & 0x03) > 2 || ((b >> 4) & 0x03) > 2 || (b & 0xc0) != 0)
    return false;
  o.max_qos = b & 0x03;
  o.no_local = (b & 0x04) != 0;
  o.retain_as_published = (b & 0x08) != 0;
  o.retain_handling = (b >> 4) & 0x03;
  return true;
}

std::string with_client(char tag, std::string_view client_id) {
  std::string k;
  k.reserve(client_id.size() + 3);
  k.push_back(tag);
  k.push_back('\0');
  k.append(client_id);
  k.push_back('\0');
  return k;
}

void append_be(std::string& k, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    k.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool split_numbered(std::string_view key, char tag, std::size_t bytes, std::string& client_id,
                    std::uint64_t& n) {
  if (key.size() < 3 + bytes || key[0] != tag || key[1] != '\0'
      || key[key.size() - bytes - 1] != '\0')
    return false;
  client_id.assign(key.substr(2, key.size() - bytes - 3));
  n = 0;
  for (std::size_t i = key.size() - bytes; i < key.size(); ++i)
    n = (n << 8) | static_cast<unsigned char>(key[i]);
  return true;
}

} // namespace

// -- keys ---------------------------------------------------------------------------

std::string session_key(std::string_view client_id) {
  std::string k{"s", 1};
  k.push_back('\0');
  k.append(client_id);
  return k;
}

std::string entry_key(std::string_view client_id, std::uint64_t seq) {
  auto k = with_client('q', client_id);
  append_be(k, seq, 8);
  return k;
}

std::pair<std::string, std::string> entry_range(std::string_view client_id) {
  auto begin = with_client('q', client_id);
  auto end = begin;
  end.back() = '\x01';
  return {std::move(begin), std::move(end)};
}

std::string inbound_key(std::string_view client_id, std::uint16_t packet_id) {
  auto k = with_client('i', client_id);
  append_be(k, packet_id, 2);
  return k;
}

std::pair<std::string, std::string> inbound_range(std::string_view client_id) {
  auto begin = with_client('i', client_id);
  auto end = begin;
  end.back() = '\x01';
  return {std::move(begin), std::move(end)};
}

std::string retained_key(std::string_view topic) {
  std::string k{"r", 1};
  k.push_back('\0');
  k.append(topic);
  return k;
}

bool parse_entry_key(std::string_view key, std::string& client_id, std::uint64_t& seq) {
  return split_numbered(key, 'q', 8, client_id, seq);
}

bool parse_inbound_key(std::string_view key, std::string& client_id, std::uint16_t& packet_id) {
  std::uint64_t n = 0;
  if (!split_numbered(key, 'i', 2, client_id, n))
    return false;
  packet_id = static_cast<std::uint16_t>(n);
  return packet_id != 0;
}

// -- values -------------------------------------------------------------------------

std::string encode(const stored_session& s) {
  writer w;
  w.u8(format_v1);
  w.u8(s.version);
  w.u32(s.session_expiry);
  w.u64(s.incarnation);
  w.u64(static_cast<std::uint64_t>(s.disconnected_at_ms));
  w.u32(static_cast<std::uint32_t>(s.subscriptions.size()));
  for (const auto& sub : s.subscriptions) {
    w.str(sub.topic_filter);
    w.str(sub.share_group);
    put_options(w, sub.options);
    w.u32(sub.subscription_id);
  }
  w.u8(s.will ? 1 : 0);
  if (s.will) {
    auto props = s.will->props;
    auto delay = props.will_delay_interval.value_or(0);
    props.will_delay_interval.reset();
    w.u32(delay);
    put_message(w, s.will->topic, s.will->payload, s.will->qos, s.will->retain, props, 0);
    w.u64(static_cast<std::uint64_t>(s.will_due_ms));
  }
  return w.take();
}

bool decode(std::string_view bytes, stored_session& s) {
  reader r{bytes};
  std::uint8_t format;
  std::uint64_t disconnected;
  std::uint32_t n;
  if (!r.u8(format) || format != format_v1 || !r.u8(s.version) || !r.u32(s.session_expiry)
      || !r.u64(s.incarnation) || !r.u64(disconnected) || !r.u32(n))
    return false;
  if (s.version < 3 || s.version > 5 || n > bytes.size())
    return false;
  s.disconnected_at_ms = static_cast<std::int64_t>(disconnected);
  s.subscriptions.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    stored_subscription sub;
    if (!r.str(sub.topic_filter) || !r.str(sub.share_group) || !get_options(r, sub.options)
        || !r.u32(sub.subscription_id))
      return false;
    s.subscriptions.push_back(std::move(sub));
  }
  std::uint8_t has_will;
  if (!r.u8(has_will) || has_will > 1)
    return false;
  s.will.reset();
  s.will_due_ms = 0;
  if (has_will) {
    std::uint32_t delay;
    stored_message m;
    std::uint64_t due;
    if (!r.u32(delay) || !get_message(r, m) || !r.u64(due))
      return false;
    codec::will w;
    w.topic = std::move(m.topic);
    w.payload = std::move(m.payload);
    w.qos = m.qos;
    w.retain = m.retain;
    w.props = std::move(m.props);
    if (delay != 0)
      w.props.will_delay_interval = delay;
    s.will = std::move(w);
    s.will_due_ms = static_cast<std::int64_t>(due);
  }
  return r.done();
}

std::string encode(const stored_entry& e) {
  writer w;
  w.u8(format_v1);
  w.u64(e.incarnation);
  w.u16(e.packet_id);
  w.u8(static_cast<std::uint8_t>(e.stage));
  w.u8(e.qos);
  w.u8(e.retain ? 1 : 0);
  w.u32(static_cast<std::uint32_t>(e.subscription_ids.size()));
  for (auto id : e.subscription_ids)
    w.u32(id);
  w.str(e.shared_key);
  put_message(w, e.msg.topic, e.msg.payload, e.msg.qos, e.msg.retain, e.msg.props,
              e.msg.expires_at_ms);
  return w.take();
}

bool decode(std::string_view bytes, stored_entry& e) {
  reader r{bytes};
  std::uint8_t format, stage, retain;
  std::uint32_t n;
  if (!r.u8(format) || format != format_v1 || !r.u64(e.incarnation) || !r.u16(e.packet_id)
      || !r.u8(stage)
      || !r.u8(e.qos) || !r.u8(retain) || !r.u32(n))
    return false;
  if (stage > 3 || e.qos < 1 || e.qos > 2 || retain > 1 || n > bytes.size() / 4)
    return false;
  if ((stage == 0) != (e.packet_id == 0))
    return false;
  e.stage = static_cast<entry_stage>(stage);
  e.retain = retain == 1;
  e.subscription_ids.resize(n);
  for (auto& id : e.subscription_ids)
    if (!r.u32(id))
      return false;
  return r.str(e.shared_key) && get_message(r, e.msg) && r.done();
}

std::string encode(const stored_message& m) {
  writer w;
  w.u8(format_v1);
  put_message(w, m.topic, m.payload, m.qos, m.retain, m.props, m.expires_at_ms);
  return w.take();
}

bool decode(std::string_view bytes, stored_message& m) {
  reader r{bytes};
  std::uint8_t format;
  return r.u8(format) && format == format_v1 && get_message(r, m) && r.done();
}

std::string encode_i64(std::int64_t v) {
  writer w;
  w.u64(static_cast<std::uint64_t>(v));
  return w.take();
}

bool decode_i64(std::string_view bytes, std::int64_t& v) {
  reader r{bytes};
  std::uint64_t x;
  if (!r.u64(x) || !r.done())
    return false;
  v = static_cast<std::int64_t>(x);
  return true;
}

} // namespace colony::persistence
