// The subscription index of one topic shard: a trie over topic levels with '+' and '#'
// children, plus shared-subscription groups. Plain data structure: no CAF, no I/O.
// A publish costs O(topic depth + matching subscribers).
#pragma once

#include "codec/packets.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace colony::actors {

struct sub_entry {
  std::uint64_t subscriber = 0;
  codec::subscription_options options;
  std::uint32_t subscription_id = 0;
};

/// One subscriber that a topic matched, after merging its overlapping subscriptions.
struct sub_match {
  std::uint64_t subscriber = 0;
  std::uint8_t max_qos = 0;          ///< highest granted QoS among the matching subscriptions
  bool retain_as_published = false;
  std::vector<std::uint32_t> subscription_ids;
  std::string shared_key;            ///< "group\x1f" + filter for a shared-group pick
};

class subscription_tree {
public:
  subscription_tree();
  ~subscription_tree();
  subscription_tree(subscription_tree&&) noexcept;
  subscription_tree& operator=(subscription_tree&&) noexcept;

  /// Adds or replaces the subscription of `e.subscriber` to `filter` (in `group`, empty for a
  /// normal subscription). Returns true if one existed and was replaced (MQTT-3.8.4-3).
  bool subscribe(std::string_view filter, std::string_view group, const sub_entry& e);

  /// Removes one subscription. Returns false if it did not exist.
  bool unsubscribe(std::string_view filter, std::string_view group, std::uint64_t subscriber);

  /// Removes every subscription of `subscriber`; returns how many.
  std::size_t remove_subscriber(std::uint64_t subscriber);

  /// Offline members of a shared group are skipped while an online member exists.
  void set_online(std::uint64_t subscriber, bool online);

  /// Appends to `out` one entry per subscriber with matching normal subscriptions (merged:
  /// MQTT-3.3.5-1), skipping No Local ones of `origin` (MQTT-3.8.3-3), and one entry per
  /// matching shared group (one member chosen round-robin; `exclude` is never chosen unless
  /// it is the only member).
  void match(std::string_view topic, std::uint64_t origin, std::vector<sub_match>& out,
             std::uint64_t exclude = 0);

  /// Picks a member of shared group `group`/`filter` other than `exclude` (for redelivery
  /// when a member leaves). Returns false if there is none.
  bool pick_shared(std::string_view group, std::string_view filter, std::uint64_t exclude,
                   sub_match& out);

  /// Number of subscriptions stored.
  std::size_t size() const noexcept { return count_; }

private:
  struct node;
  struct group;
  node* find_node(std::string_view filter) const;
  void collect(const node& n, std::vector<sub_match>& normal, std::vector<const group*>& groups);
  void prune(std::string_view filter);
  sub_match pick(const group& g, std::uint64_t exclude);

  std::unique_ptr<node> root_;
  std::vector<sub_match> scratch_normal_;
  std::vector<const group*> scratch_groups_;
  std::vector<std::string_view> scratch_levels_;
  std::vector<const node*> scratch_current_;
  std::vector<const node*> scratch_next_;
  std::size_t count_ = 0;
  std::unordered_set<std::uint64_t> offline_;
  /// subscriber -> (filter, group) of each of its subscriptions, for remove_subscriber.
  std::unordered_map<std::uint64_t, std::vector<std::pair<std::string, std::string>>> index_;
};

} // namespace colony::actors
