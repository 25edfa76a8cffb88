// Retained messages of one topic shard (MQTT-3.3.1-5 .. -11): one per topic, replaced by a
// newer one, removed by an empty payload.
#pragma once

#include "actors/messages.hpp"

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace colony::actors {

class retained_store {
public:
  /// Stores `msg` as the retained message of its topic, or removes it if the payload is
  /// empty (MQTT-3.3.1-10). Returns the change in count (-1, 0 or +1).
  int put(const message_ptr& msg);

  /// Appends every retained message whose topic matches `filter` and has not expired.
  void match(std::string_view filter, std::int64_t now_ms, std::vector<message_ptr>& out) const;

  std::size_t size() const noexcept { return by_topic_.size(); }

private:
  std::unordered_map<std::string, message_ptr> by_topic_;
};

} // namespace colony::actors
