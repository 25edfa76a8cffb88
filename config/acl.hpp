// ACL files in hmq's syntax, one rule a line:
//
//   allow|deny  clientid|username|ip  VALUE|*  1|2|3  topic1,topic2,...
//
// 1 = subscribe, 2 = publish, 3 = both. Topics are MQTT filters and may contain %c (client id)
// and %u (user name). '#', ';' and '//' start comment lines; blank lines are allowed anywhere.
//
// Semantics (fixing hmq where it differs):
//  - Rules are tried in order; the first rule that matches decides. No rule matches: deny.
//    An ACL with no rules at all allows everything (as if there were no ACL).
//  - A rule applies only to the actions it names: "deny ... 1 ..." (subscribe) says nothing
//    about publishing; the next rules decide that.
//  - PUBLISH: the topic must match one of the rule's filters (MQTT wildcard semantics, so
//    "sensors/#" covers "sensors/a/b" and "sensors"; "+/#" and "#" do not cover "$SYS/...").
//  - SUBSCRIBE to filter F: an allow rule matches when one of its filters covers every topic F
//    can match ("sensors/+" covers "sensors/x" and "sensors/+", not "sensors/#"); a deny rule
//    matches when one of its filters shares any topic with F (so "deny ... secret/#" also
//    refuses a subscription to "#"). Shared subscriptions ("$share/g/F", "$queue/F") are
//    checked with their filter F.
//  - %c and %u: a filter that needs a value the client does not have (no user name), or whose
//    value contains '/', '+' or '#', is skipped (it could otherwise grant other clients' topics).
//  - "ip" values compare textually; an IPv4-mapped IPv6 address ("::ffff:1.2.3.4") also
//    matches its IPv4 form.
#pragma once

#include "config/load_result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace colony::config {

class acl {
public:
  enum class access : std::uint8_t { subscribe = 1, publish = 2 };

  acl() = default;

  /// Reads and parses `path`. On error: the file, the line number and what is wrong.
  static load_result<acl> load(const std::string& path);
  /// Parses file contents; `name` is used in error messages.
  static load_result<acl> parse(std::string_view text, const std::string& name);

  /// May `client_id` / `username` (empty = none) connected from `ip` subscribe to the filter
  /// `topic` (access::subscribe) or publish to the topic name `topic` (access::publish)?
  bool allowed(access a, std::string_view client_id, std::string_view username,
               std::string_view ip, std::string_view topic) const;

  std::size_t rule_count() const noexcept { return rules_.size(); }
  bool empty() const noexcept { return rules_.empty(); }

private:
  enum class subject : std::uint8_t { client_id, username, ip };
  struct rule {
    bool allow = false;
    subject who = subject::client_id;
    std::string value; ///< "*" = anyone
    std::uint8_t actions = 0; ///< bit 1 = subscribe, bit 2 = publish
    std::vector<std::string> filters;
    std::size_t line = 0;
  };
  std::vector<rule> rules_;
};

/// Does every topic that `inner` matches also match `outer`? (Both are MQTT topic filters;
/// a topic name is a filter without wildcards.)
bool filter_covers(std::string_view outer, std::string_view inner) noexcept;

/// Is there a topic that both filters match?
bool filters_intersect(std::string_view a, std::string_view b) noexcept;

} // namespace colony::config
