// A topic shard actor: the subscription index and retained messages for one part of the topic
// tree (topics whose first level hashes to it, plus every filter that starts with a
// wildcard). Routes publish batches to sessions, one delivery batch per session per turn.
#pragma once

#include "actors/messages.hpp"
#include "persistence/store.hpp"

#include <caf/all.hpp>

#include <string_view>
#include <vector>

namespace colony::actors {

struct shard_args {
  std::size_t index = 0; ///< its number (for logs and metrics)
  /// Where QoS 1/2 deliveries to persistent sessions and retained messages are written;
  /// null when persistence is off.
  std::shared_ptr<persistence::store> store;
  /// Retained messages read from the store at start (those this shard owns).
  std::vector<message_ptr> retained;
};

caf::actor spawn_topic_shard(caf::actor_system& sys, shard_args args);

/// The shard that owns `topic`: a hash of its first level.
std::size_t shard_of(std::string_view topic, std::size_t shard_count) noexcept;

/// True if `filter` must be known to every shard (its first level is a wildcard).
bool is_wildcard_first(std::string_view filter) noexcept;

/// Calls f(i) for each shard i that must know `filter`.
template <class F>
void for_each_shard_of(std::string_view filter, std::size_t shard_count, F&& f) {
  if (is_wildcard_first(filter)) {
    for (std::size_t i = 0; i < shard_count; ++i)
      f(i);
  } else {
    f(shard_of(filter, shard_count));
  }
}

/// One subscribe request per shard: a copy of `who` (the subscribing session) with the
/// subscriptions that shard must know; shards with none get an empty `subs`.
std::vector<subscribe_request> split_by_shard(const subscribe_request& who,
                                              const std::vector<subscription>& subs,
                                              std::size_t shard_count);

/// Milliseconds since the Unix epoch (message expiry is measured on the wall clock).
std::int64_t now_ms() noexcept;

} // namespace colony::actors
