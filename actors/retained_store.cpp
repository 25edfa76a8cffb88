#include "actors/retained_store.hpp"

#include "codec/topic.hpp"

namespace colony::actors {

int retained_store::put(const message_ptr& msg) {
  if (msg->payload.empty())
    return by_topic_.erase(msg->topic) > 0 ? -1 : 0;
  auto [it, inserted] = by_topic_.insert_or_assign(msg->topic, msg);
  return inserted ? 1 : 0;
}

void retained_store::match(std::string_view filter, std::int64_t now_ms,
                           std::vector<message_ptr>& out) const {
  bool literal = filter.find_first_of("+#") == std::string_view::npos;
  if (literal) {
    if (auto it = by_topic_.find(std::string{filter}); it != by_topic_.end()) {
      if (it->second->expires_at_ms == 0 || it->second->expires_at_ms > now_ms)
        out.push_back(it->second);
    }
    return;
  }
  for (const auto& [topic, msg] : by_topic_) {
    if (codec::topic_matches(filter, topic)
        && (msg->expires_at_ms == 0 || msg->expires_at_ms > now_ms))
      out.push_back(msg);
  }
}

} // namespace colony::actors
