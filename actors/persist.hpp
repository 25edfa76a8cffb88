// Conversions between the broker's in-memory values and the persistent store's records.
#pragma once

#include "actors/messages.hpp"
#include "persistence/records.hpp"

namespace colony::actors {

persistence::stored_message to_stored(const app_message& m);
message_ptr from_stored(persistence::stored_message&& m);

/// The store record of `d`, queued for a session of `incarnation`.
persistence::stored_entry to_entry(const delivery& d, std::uint64_t incarnation,
                                   std::uint16_t packet_id, persistence::entry_stage stage);

/// The delivery a stored entry stands for (its message rebuilt, seq kept).
delivery from_entry(persistence::stored_entry&& e);

} // namespace colony::actors
