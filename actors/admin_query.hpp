// Admin queries a session answers besides `(list_atom) -> session_info` (session_actor.hpp):
//
//   (list_atom, subs_atom) -> session_subscriptions    every subscription of the session
//
// Used by the HTTP admin API (GET /api/v1/subscriptions). In-process only.
#pragma once

#include "actors/messages.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace colony::actors {

using subs_atom = caf::atom_constant<caf::atom("subs")>;

struct subscription_info {
  std::string topic_filter; ///< without any $share/group/ prefix
  std::string share_group;  ///< empty if not shared
  std::uint8_t qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  std::uint8_t retain_handling = 0;
  std::uint32_t subscription_id = 0; ///< 0 = none
};

struct session_subscriptions {
  std::string client_id;
  std::vector<subscription_info> items;
};

} // namespace colony::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::actors::session_subscriptions)
