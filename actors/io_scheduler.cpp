#include "actors/io_scheduler.hpp"

#include <caf/actor_system.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <boost/asio/post.hpp>

#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

namespace colony::actors {

namespace {

namespace asio = boost::asio;

/// The execution unit of one I/O thread: what an actor running there makes runnable is
/// queued on the same thread (a thread-private Asio queue: no lock, no wake-up).
class io_unit final : public caf::execution_unit {
public:
  io_unit(caf::actor_system& sys, asio::io_context& ctx, std::size_t throughput)
    : caf::execution_unit(&sys), ctx_(ctx), throughput_(throughput) {}

  /// Takes over the reference the caller holds on `job`.
  void exec_later(caf::resumable* job) override {
    asio::post(ctx_, [this, job] { run(job); });
  }

private:
  void run(caf::resumable* job) {
    switch (job->resume(this, throughput_)) {
      case caf::resumable::resume_later:
        exec_later(job); // behind what the thread queued meanwhile (its reads included)
        break;
      case caf::resumable::done:
      case caf::resumable::awaiting_message:
        caf::intrusive_ptr_release(job);
        break;
      case caf::resumable::shutdown_execution_unit:
        break; // (CAF's own worker shutdown; never queued here)
    }
  }

  asio::io_context& ctx_;
  std::size_t throughput_;
};

/// CAF's clock, except that an actor which never set a timeout does not cost a wake-up of the
/// clock thread when it terminates (CAF cancels every terminating actor's timeouts: a session
/// of a short-lived client would wake the clock thread once per disconnect for nothing).
class lazy_cancel_clock final : public caf::detail::thread_safe_actor_clock {
public:
  using super = caf::detail::thread_safe_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            std::uint64_t id) override {
    note(self);
    super::set_ordinary_timeout(t, self, type, id);
  }
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    note(self);
    super::set_request_timeout(t, self, id);
  }
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         std::uint64_t id) override {
    note(self);
    super::set_multi_timeout(t, self, type, id);
  }
  void cancel_timeouts(caf::abstract_actor* self) override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (with_timeouts_.erase(self) == 0)
        return;
    }
    super::cancel_timeouts(self);
  }

private:
  void note(caf::abstract_actor* self) {
    std::lock_guard<std::mutex> guard{mtx_};
    with_timeouts_.insert(self);
  }

  std::mutex mtx_;
  /// Actors that set a timeout since they started (until they terminate).
  std::unordered_set<caf::abstract_actor*> with_timeouts_;
};

class io_coordinator final : public caf::scheduler::abstract_coordinator {
public:
  using super = caf::scheduler::abstract_coordinator;

  io_coordinator(caf::actor_system& sys, std::shared_ptr<transport::io_pool> pool)
    : super(sys), pool_(std::move(pool)) {}

  void init(caf::actor_system_config& cfg) override {
    super::init(cfg);
    num_workers_ = pool_->size();
    for (std::size_t i = 0; i < pool_->size(); ++i)
      units_.push_back(std::make_unique<io_unit>(system(), pool_->context(i), max_throughput_));
  }

  void start() override {
    // Delayed messages and timeouts, as in CAF's own coordinator.
    timer_ = std::thread{[this] {
      caf::detail::set_thread_name("caf.clock");
      system().thread_started();
      clock_.run_dispatch_loop();
      system().thread_terminates();
    }};
    pool_->start();
    super::start();
  }

  void stop() override {
    // Every actor of the application is done (the actor system waits for them first).
    clock_.cancel_dispatch_loop();
    timer_.join();
    stop_actors();
    pool_->barrier();
    pool_->stop();
    // Jobs queued after the barrier (a last message to an actor that is gone) run here.
    pool_->drain();
  }

  void enqueue(caf::resumable* job) override {
    auto i = pool_->this_thread_index();
    if (i == transport::io_pool::npos)
      i = next_worker_.fetch_add(1, std::memory_order_relaxed) % units_.size();
    units_[i]->exec_later(job);
  }

  caf::actor_clock& clock() noexcept override { return clock_; }

private:
  std::shared_ptr<transport::io_pool> pool_;
  std::vector<std::unique_ptr<io_unit>> units_;
  lazy_cancel_clock clock_;
  std::thread timer_;
};

} // namespace

void use_io_scheduler(caf::actor_system_config& cfg, std::shared_ptr<transport::io_pool> pool) {
  cfg.module_factories.push_back(
    [pool = std::move(pool)](caf::actor_system& sys) -> caf::actor_system::module* {
      return new io_coordinator(sys, pool);
    });
}

} // namespace colony::actors
