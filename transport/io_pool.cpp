#include "transport/io_pool.hpp"

#include "transport/keepalive_wheel.hpp"

#include <boost/asio/post.hpp>

#include <cstdlib>
#include <future>
#include <vector>

namespace colony::transport {

namespace asio = boost::asio;

namespace {
struct thread_slot {
  const io_pool* pool = nullptr;
  std::size_t index = io_pool::npos;
};
thread_local thread_slot this_thread_slot;

/// glibc's malloc grows a thread's arena with one mprotect() per growth step (a page or a few;
/// about one per accepted connection, each taking the process's mmap lock for writing), and
/// never lowers the protected size again. Allocating a few MB in blocks below the mmap threshold
/// and freeing them at once raises it in one go; the freed pages are given back (the arena trims
/// its top with MADV_DONTNEED), so nothing stays resident.
void widen_thread_arena() {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) // (ASan has its own allocator)
  constexpr std::size_t block = 64 * 1024, total = 32u << 20;
  std::vector<void*> blocks;
  blocks.reserve(total / block);
  for (std::size_t i = 0; i < total / block; ++i)
    if (void* p = std::malloc(block))
      blocks.push_back(p);
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it)
    std::free(*it);
#endif
}
} // namespace

io_pool::io_pool(std::size_t threads) {
  if (threads == 0)
    threads = 1;
  for (std::size_t i = 0; i < threads; ++i) {
    // Concurrency hint 1: one thread runs each context, so a handler posted from that thread
    // goes to a thread-private queue (no lock, no wake-up).
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.emplace_back(asio::make_work_guard(*contexts_.back()));
    wheels_.push_back(std::make_unique<detail::keepalive_wheel>(*contexts_.back()));
  }
}

io_pool::~io_pool() {
  stop();
}

asio::io_context& io_pool::next() {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

std::size_t io_pool::this_thread_index() const noexcept {
  return this_thread_slot.pool == this ? this_thread_slot.index : npos;
}

bool io_pool::running() const {
  std::lock_guard<std::mutex> g{mtx_};
  return started_ && !stopped_;
}

void io_pool::start() {
  std::lock_guard<std::mutex> g{mtx_};
  if (started_ || stopped_)
    return;
  started_ = true;
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([this, i] {
      this_thread_slot = thread_slot{this, i};
      widen_thread_arena();
      detail::keepalive_wheel::current() = wheels_[i].get();
      contexts_[i]->run();
      detail::keepalive_wheel::current() = nullptr;
      this_thread_slot = thread_slot{};
    });
  }
}

void io_pool::barrier() {
  if (!running() || this_thread_index() != npos)
    return; // (on a pool thread, waiting for itself would never end)
  std::vector<std::future<void>> done;
  for (auto& ctx : contexts_) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    asio::post(*ctx, [p] { p->set_value(); });
  }
  for (auto& f : done)
    f.wait();
}

void io_pool::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> g{mtx_};
    if (stopped_)
      return;
    stopped_ = true;
    for (auto& guard : guards_)
      guard.reset();
    for (auto& ctx : contexts_)
      ctx->stop();
    threads.swap(threads_);
  }
  for (auto& t : threads)
    if (t.joinable() && t.get_id() != std::this_thread::get_id())
      t.join();
    else if (t.joinable())
      t.detach(); // stopped from one of its own handlers: the thread ends when it returns
}

std::size_t io_pool::drain(int passes) {
  std::size_t total = 0;
  for (int pass = 0; pass < passes; ++pass) {
    std::size_t ran = 0;
    for (auto& ctx : contexts_) {
      ctx->restart();
      ran += ctx->poll();
    }
    total += ran;
    if (ran == 0)
      break;
  }
  return total;
}

} // namespace colony::transport
