// Cheap sampling of an actor's own mailbox depth for colony_actor_mailbox_depth{kind}: one
// read of the mailbox size every `every`-th message the actor handles (the first included), no
// timers. CAF 0.17: mailbox().size() is only safe from inside the actor, which is where this
// is called.
#pragma once

#include "metrics/stats.hpp"

#include <cstdint>

namespace colony::actors {

/// Call at the start of a handler. `tick` is a counter in the actor's state.
template <class Self>
void sample_mailbox(Self* self, std::uint32_t& tick, metrics::actor_kind kind,
                    std::uint32_t every = 64) {
  if (tick++ % every != 0)
    return;
  metrics::mailbox_depth().sample(kind, self->mailbox().size());
}

} // namespace colony::actors
