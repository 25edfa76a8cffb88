// Topic names and topic filters (MQTT 5 §4.7): validation, matching, shared subscriptions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace colony::codec {

/// True if `s` contains a wildcard character, '+' or '#' (a plain loop: std::find_first_of with a
/// two-character set calls memchr once per input character).
constexpr bool has_wildcard(std::string_view s) noexcept {
  for (const char c : s) {
    if (c == '+' || c == '#') {
      return true;
    }
  }
  return false;
}

/// A PUBLISH topic: at least one character, no '+' or '#' (MQTT-3.3.2-2, MQTT-4.7.3-1).
/// UTF-8 well-formedness is checked by the decoder, not here.
bool is_valid_topic_name(std::string_view topic) noexcept;

/// A SUBSCRIBE/UNSUBSCRIBE filter: non-empty; '#' only as the whole last level (MQTT-4.7.1-2);
/// '+' only as a whole level (MQTT-4.7.1-3). Shared-subscription syntax is not handled here.
bool is_valid_topic_filter(std::string_view filter) noexcept;

/// MQTT topic matching with wildcards. A filter starting with '+' or '#' does not match a topic
/// starting with '$' (MQTT-4.7.2-1). "a/#" matches "a" (MQTT 5 §4.7.1.2).
bool topic_matches(std::string_view filter, std::string_view topic) noexcept;

/// A parsed shared subscription: "$share/{group}/{filter}" or hmq's "$queue/{filter}"
/// (the latter becomes the group "$queue").
struct shared_filter {
  std::string group;
  std::string filter;
};

/// If `filter` is a shared subscription, its group and filter. `valid` is false when it starts
/// with "$share/" but is malformed (empty group, group with '+'/'#', missing or invalid filter,
/// MQTT-4.8.2-1 / -2); then the caller refuses it.
struct shared_parse {
  bool is_shared = false;
  bool valid = true;
  shared_filter value;
};
shared_parse parse_shared(std::string_view filter);

/// Number of levels of a topic or filter ("a/b/c" = 3, "" = 1, "/" = 2).
std::size_t level_count(std::string_view topic) noexcept;

} // namespace colony::codec
