#include "actors/io_scheduler.hpp"

#include <boost/asio/post.hpp>
#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>

namespace colony::actors {
namespace {

using namespace std::chrono_literals;
using index_atom = caf::atom_constant<caf::atom("index")>;
using ask_atom = caf::atom_constant<caf::atom("ask")>;
using count_atom_t = caf::atom_constant<caf::atom("cnt")>;

using pool_ptr = std::shared_ptr<transport::io_pool>;

// Every function-based actor here takes an argument besides its self pointer: for one without,
// CAF 0.17 dereferences a null argument pack (UBSan reports it).

struct io_system {
  explicit io_system(std::size_t threads, std::size_t throughput = 0)
    : pool(std::make_shared<transport::io_pool>(threads)) {
    use_io_scheduler(cfg, pool);
    if (throughput > 0)
      cfg.set("scheduler.max-throughput", throughput);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
  std::shared_ptr<transport::io_pool> pool;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
};

/// Replies with the index of the pool thread it runs on.
caf::behavior where_am_i(caf::event_based_actor*, std::shared_ptr<transport::io_pool> pool) {
  return {[pool](index_atom) { return pool->this_thread_index(); }};
}

TEST(IoScheduler, ActorsRunOnThePoolThreads) {
  io_system s{2};
  auto a = s.sys->spawn(where_am_i, s.pool);
  caf::scoped_actor self{*s.sys};
  for (int i = 0; i < 20; ++i) {
    std::size_t index = transport::io_pool::npos;
    self->request(a, 5s, index_atom::value)
      .receive([&](std::size_t x) { index = x; }, [](caf::error& e) { FAIL() << to_string(e); });
    EXPECT_LT(index, 2u);
  }
}

TEST(IoScheduler, AnActorMadeRunnableByAnotherRunsOnTheSameThread) {
  io_system s{2};
  // "ask": the asker asks an idle actor where it runs, and answers whether that is where the
  // asker itself runs.
  auto target = s.sys->spawn(where_am_i, s.pool);
  auto asker = s.sys->spawn([&](caf::event_based_actor* self, pool_ptr pool) -> caf::behavior {
    return {[=](ask_atom) -> caf::result<bool> {
      auto mine = pool->this_thread_index();
      auto rp = self->make_response_promise<bool>();
      self->request(target, caf::infinite, index_atom::value).then([=](std::size_t theirs) mutable {
        rp.deliver(mine == theirs && mine != transport::io_pool::npos);
      });
      return rp;
    }};
  }, s.pool);
  caf::scoped_actor self{*s.sys};
  // Let the target start and go idle first (its start was queued from this thread, on any).
  self->request(target, 5s, index_atom::value).receive([](std::size_t) {}, [](caf::error&) {});
  for (int i = 0; i < 50; ++i) {
    bool same = false;
    self->request(asker, 5s, ask_atom::value)
      .receive([&](bool b) { same = b; }, [](caf::error& e) { FAIL() << to_string(e); });
    EXPECT_TRUE(same) << "round " << i;
  }
}

TEST(IoScheduler, DelayedMessagesAndRequestTimeoutsFire) {
  io_system s{1};
  auto silent = s.sys->spawn([](caf::event_based_actor*, pool_ptr) -> caf::behavior {
    return {[](index_atom) -> caf::result<int> { return caf::delegated<int>{}; }};
  }, s.pool);
  auto a = s.sys->spawn([=](caf::event_based_actor* self, pool_ptr) -> caf::behavior {
    auto pending = std::make_shared<caf::typed_response_promise<int>>();
    return {
      [=](ask_atom) -> caf::result<int> {
        *pending = self->make_response_promise<int>();
        // A request that is never answered times out (the clock's request timeout) ...
        self->request(silent, 20ms, index_atom::value)
          .then([=](int) { pending->deliver(-1); },
                [=](caf::error&) {
                  // ... and a delayed message to itself arrives (a scheduled message).
                  self->delayed_send(self, 10ms, count_atom_t::value);
                });
        return *pending;
      },
      [=](count_atom_t) { pending->deliver(42); },
    };
  }, s.pool);
  caf::scoped_actor self{*s.sys};
  int got = 0;
  self->request(a, 10s, ask_atom::value)
    .receive([&](int x) { got = x; }, [](caf::error& e) { FAIL() << to_string(e); });
  EXPECT_EQ(got, 42);
}

TEST(IoScheduler, ABusyActorLetsTheThreadsOtherWorkIn) {
  // max-throughput 10: after ten messages the actor goes behind what the thread queued meanwhile.
  io_system s{1, 10};
  auto handled = std::make_shared<std::atomic<int>>(0);
  auto seen_by_io = std::make_shared<std::atomic<int>>(-1);
  auto pool = s.pool;
  auto a = s.sys->spawn([=](caf::event_based_actor* self, pool_ptr) -> caf::behavior {
    return {
      [=](ask_atom) {
        for (int i = 0; i < 1000; ++i)
          self->send(self, count_atom_t::value);
        // Other work on this thread, queued while the actor has 1000 messages to go.
        boost::asio::post(pool->context(0), [=] { seen_by_io->store(handled->load()); });
      },
      [=](count_atom_t) { handled->fetch_add(1); },
    };
  }, s.pool);
  caf::anon_send(a, ask_atom::value);
  for (int i = 0; i < 500 && handled->load() < 1000; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(handled->load(), 1000);
  EXPECT_GE(seen_by_io->load(), 0);
  EXPECT_LT(seen_by_io->load(), 1000); // it ran before the actor was through
}

TEST(IoScheduler, SystemShutsDownWithWorkAndTimersPending) {
  io_system s{2};
  for (int i = 0; i < 100; ++i) {
    // Ended by an exit message while a delayed message to it is still pending.
    auto timed = s.sys->spawn([](caf::event_based_actor* self, pool_ptr) -> caf::behavior {
      self->delayed_send(self, 1h, index_atom::value); // never due
      return {[](index_atom) {}};
    }, s.pool);
    caf::anon_send_exit(timed, caf::exit_reason::user_shutdown);
    // Still busy when the system goes: it quits after its 1000th message to itself.
    auto busy = s.sys->spawn([](caf::event_based_actor* self, pool_ptr) -> caf::behavior {
      auto left = std::make_shared<int>(1000);
      return {[=](count_atom_t) {
        if (--*left == 0)
          self->quit();
        else
          self->send(self, count_atom_t::value);
      }};
    }, s.pool);
    caf::anon_send(busy, count_atom_t::value);
  }
  auto pool = s.pool;
  s.sys.reset(); // returns once every actor is done; the threads end after them
  EXPECT_FALSE(pool->running());
}

} // namespace
} // namespace colony::actors
