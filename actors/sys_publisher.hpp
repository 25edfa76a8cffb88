// The $SYS publisher: every interval, Mosquitto-style broker statistics as retained messages
// under $SYS/broker/... (version, uptime, clients, messages, bytes, subscriptions, retained).
#pragma once

#include "actors/messages.hpp"

#include <caf/all.hpp>

#include <chrono>

namespace colony::actors {

struct sys_args {
  shard_list shards;
  std::chrono::seconds interval{10};
  std::string version;
};

caf::actor spawn_sys_publisher(caf::actor_system& sys, sys_args args);

} // namespace colony::actors
