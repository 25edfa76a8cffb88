// io_scheduler: a CAF scheduler that runs actors on the transport's I/O threads instead of a
// pool of CAF workers. An actor made runnable on an I/O thread (a session by the packets its
// link read there, a shard by that session, the subscriber's session by the shard) runs on the
// same thread right after the current handler, so a publish crosses no thread and wakes no
// worker; only messages from other threads (another I/O thread, timers, the HTTP API) are
// handed over, round robin. `scheduler.max-throughput` bounds the messages an actor handles
// before the thread's I/O gets its turn again.
#pragma once

#include "transport/io_pool.hpp"

#include <caf/actor_system_config.hpp>

#include <memory>

namespace colony::actors {

/// Makes the actor system built from `cfg` run its actors on `pool`'s threads. The scheduler
/// starts the threads with the actor system, and ends them (after every actor) when it goes.
void use_io_scheduler(caf::actor_system_config& cfg, std::shared_ptr<transport::io_pool> pool);

} // namespace colony::actors
