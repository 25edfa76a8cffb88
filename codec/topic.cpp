// Topic names and filters (MQTT 5 §4.7, §4.8.2).
#include "topic.hpp"

#include <algorithm>
#include <cstddef>

namespace colony::codec {
namespace {

// MQTT-4.7.3-3: topic names and filters fit in a UTF-8 string, i.e. at most 65,535 bytes.
constexpr std::size_t max_topic_bytes = 65'535;

constexpr std::string_view share_prefix = "$share/";
constexpr std::string_view queue_prefix = "$queue/";

} // namespace

bool is_valid_topic_name(std::string_view topic) noexcept {
  // MQTT-4.7.3-1: at least one character. MQTT-3.3.2-2: no wildcard characters.
  return !topic.empty() && topic.size() <= max_topic_bytes && !has_wildcard(topic);
}

bool is_valid_topic_filter(std::string_view filter) noexcept {
  if (filter.empty() || filter.size() > max_topic_bytes) {
    return false; // MQTT-4.7.3-1
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t end = std::min(filter.find('/', start), filter.size());
    const std::string_view level = filter.substr(start, end - start);
    const bool last = end == filter.size();
    if (has_wildcard(level)) {
      // MQTT-4.7.1-3: '+' occupies an entire level. MQTT-4.7.1-2: '#' occupies an entire level
      // and is the last one.
      if (level.size() != 1 || (level[0] == '#' && !last)) {
        return false;
      }
    }
    if (last) {
      return true;
    }
    start = end + 1;
  }
}

bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
  // MQTT-4.7.2-1: a filter starting with a wildcard does not match a topic starting with '$'.
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#')) {
    return false;
  }
  std::size_t f = 0;
  std::size_t t = 0;
  bool topic_done = false; // all topic levels are consumed
  while (true) {
    const std::size_t f_end = std::min(filter.find('/', f), filter.size());
    const std::string_view f_level = filter.substr(f, f_end - f);
    if (f_level == "#") {
      // '#' matches the remaining levels, including none: "sport/#" matches "sport" (§4.7.1.2).
      return true;
    }
    if (topic_done) {
      return false;
    }
    const std::size_t t_end = std::min(topic.find('/', t), topic.size());
    if (f_level != "+" && f_level != topic.substr(t, t_end - t)) {
      return false;
    }
    const bool f_last = f_end == filter.size();
    const bool t_last = t_end == topic.size();
    if (f_last) {
      return t_last;
    }
    f = f_end + 1;
    if (t_last) {
      topic_done = true;
    } else {
      t = t_end + 1;
    }
  }
}

shared_parse parse_shared(std::string_view filter) {
  shared_parse out;
  if (filter.starts_with(share_prefix)) {
    out.is_shared = true;
    const std::string_view rest = filter.substr(share_prefix.size());
    const std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      out.valid = false; // "$share/group" without a filter (MQTT-4.8.2-2)
      return out;
    }
    const std::string_view group = rest.substr(0, slash);
    const std::string_view sub = rest.substr(slash + 1);
    // MQTT-4.8.2-1: the ShareName is at least one character and has no '/', '+' or '#'.
    if (group.empty() || has_wildcard(group) || !is_valid_topic_filter(sub)) {
      out.valid = false;
      return out;
    }
    out.value.group = group;
    out.value.filter = sub;
    return out;
  }
  if (filter.starts_with(queue_prefix)) {
    // hmq's "$queue/{filter}": one implicit group shared by every "$queue/" subscriber.
    out.is_shared = true;
    const std::string_view sub = filter.substr(queue_prefix.size());
    if (!is_valid_topic_filter(sub)) {
      out.valid = false;
      return out;
    }
    out.value.group = "$queue";
    out.value.filter = sub;
  }
  return out;
}

std::size_t level_count(std::string_view topic) noexcept {
  return static_cast<std::size_t>(std::count(topic.begin(), topic.end(), '/')) + 1;
}

} // namespace colony::codec
