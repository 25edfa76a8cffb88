// io_pool: the I/O threads, one io_context (and one keep-alive wheel) each. The transport runs
// its links on them; the broker's actor scheduler (actors/io_scheduler.hpp) may run its actors
// on the same threads, so that a packet read on a thread is handled by actors on that thread
// instead of waking another one.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace colony::transport {

namespace detail {
class keepalive_wheel;
}

class io_pool {
public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  explicit io_pool(std::size_t threads);
  /// Stops the threads if they still run.
  ~io_pool();
  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  std::size_t size() const noexcept { return contexts_.size(); }
  boost::asio::io_context& context(std::size_t i) { return *contexts_[i]; }
  /// Round robin over the contexts.
  boost::asio::io_context& next();

  /// The index of the pool thread calling this, or npos on any other thread.
  std::size_t this_thread_index() const noexcept;

  /// Starts the threads (again a no-op).
  void start();
  /// Runs `f` once on every thread and returns when all have: what each queued before it has
  /// run. Runs nothing (and returns at once) if the threads are not running.
  void barrier();
  /// Ends the threads; handlers still queued stay queued. Idempotent.
  void stop();
  /// After stop(): runs what is queued on the calling thread until nothing is (at most
  /// `passes` rounds over the contexts). Returns the number of handlers run.
  std::size_t drain(int passes = 16);

  bool running() const;

private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  /// One per context, declared after the contexts: destroyed before them.
  std::vector<std::unique_ptr<detail::keepalive_wheel>> wheels_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  mutable std::mutex mtx_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<std::size_t> next_{0};
};

} // namespace colony::transport
