// A topic shard actor: the subscription index and retained messages for one part of the topic
// tree (topics whose first level hashes to it, plus every filter that starts with a
// wildcard). Routes publish batches to sessions, one delivery batch per session per turn.
#pragma once

#include "actors/messages.hpp"

#include <caf/all.hpp>

#include <string_view>

namespace colony::actors {

/// Spawns a shard. `index` is its number (for logs and metrics).
caf::actor spawn_topic_shard(caf::actor_system& sys, std::size_t index);

/// The shard that owns `topic`: a hash of its first level.
std::size_t shard_of(std::string_view topic, std::size_t shard_count) noexcept;

/// True if `filter` must be known to every shard (its first level is a wildcard).
bool is_wildcard_first(std::string_view filter) noexcept;

/// Milliseconds since the Unix epoch (message expiry is measured on the wall clock).
std::int64_t now_ms() noexcept;

} // namespace colony::actors
