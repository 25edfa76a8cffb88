// keepalive_wheel: the keep-alive checks of every link on one I/O thread, driven by one timer.
// A per-link timer kept an armed Asio timer (~220 bytes with its pending wait) for every idle
// connection; here an idle link costs one small entry in a timing wheel.
//
// The wheel has a ring of slots, one per tick (500 ms). A link is put into the slot of the tick
// at or after its deadline (last packet + 1.5 x keep-alive) and only that tick looks at it: a
// link whose client keeps sending is looked at about once per keep-alive period, not on every
// tick (the earlier flat list visited every link twice a second: 2.4 % of a core with 10,000
// idle connections, almost all of it in that scan). When the tick finds the deadline moved on
// (packets came meanwhile), the link says its new deadline and moves to that slot. A silent
// client is closed at most one tick late (MQTT-3.1.2-24 asks for 1.5 x keep-alive). The timer
// is armed only while the wheel holds entries.
//
// An entry is a weak pointer: a link that is gone leaves the wheel when its entry's tick comes
// (up to 1.5 x keep-alive later; make_link() keeps that from pinning the link's memory).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace colony::transport::detail {

/// A link whose keep-alive the wheel checks. Called on the wheel's I/O thread.
class keepalive_client {
public:
  using clock = std::chrono::steady_clock;
  virtual ~keepalive_client() = default;
  /// The tick the client was scheduled for (with `schedule`'s `gen`) has come, at `now`: checks
  /// the deadline. Returns when to be checked next, or nothing to leave the wheel (closed, no
  /// keep-alive, or an entry that a later schedule() superseded).
  virtual std::optional<clock::time_point> on_keepalive_tick(clock::time_point now,
                                                             std::uint32_t gen) = 0;
};

class keepalive_wheel {
public:
  using clock = std::chrono::steady_clock;
  using now_fn = clock::time_point (*)();

  /// The ring reaches `slots` - 1 ticks past the next one: a later deadline waits in the
  /// ring's last slot, and its client is asked then (it answers the same deadline and is placed
  /// again). `now` reads the time (tests pass their own clock and call tick() themselves).
  explicit keepalive_wheel(boost::asio::io_context& ctx,
                           std::chrono::milliseconds tick = std::chrono::milliseconds{500},
                           std::size_t slots = 512, now_fn now = &clock::now)
    : timer_(ctx), tick_(tick), slots_(slots < 2 ? 2 : slots), now_(now) {}

  /// The wheel of the I/O thread this is called on (null outside the transport's threads).
  static keepalive_wheel*& current() {
    thread_local keepalive_wheel* wheel = nullptr;
    return wheel;
  }

  /// Calls `client` back (with `gen`) on the first tick at or after `due` (or earlier, if
  /// `due` is beyond the ring: see the constructor). Scheduling a client again adds another
  /// entry: the client tells the stale one apart by its `gen`.
  void schedule(std::weak_ptr<keepalive_client> client, std::uint32_t gen, clock::time_point due) {
    if (size_ == 0 && !armed_ && !ticking_) {
      // An empty wheel has no tick pending: the cursor's tick is one tick from now.
      next_tick_ = now_() + tick_;
    }
    place(entry{std::move(client), gen}, due);
    ++size_;
    if (!armed_ && !ticking_ && !stopped_)
      arm();
  }

  /// Stops the timer for good (tests; the I/O threads end with their io_context).
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

  /// Entries on the wheel (stale ones included until their tick).
  std::size_t size() const noexcept { return size_; }

  /// Checks the slot of the next tick and moves the cursor on. The timer calls it when the
  /// tick is due.
  void tick() {
    const auto now = now_();
    ticking_ = true;
    // This tick's slot; the cursor moves on first, so entries placed again land ahead of it.
    due_.swap(slots_[cursor_]);
    cursor_ = (cursor_ + 1) % slots_.size();
    const auto this_tick = next_tick_;
    // Late ticks (a busy thread) catch up one slot per timer run, without waiting in between.
    next_tick_ = this_tick + tick_;
    for (auto& e : due_) {
      auto client = e.client.lock();
      std::optional<clock::time_point> next;
      if (client)
        next = client->on_keepalive_tick(now, e.gen);
      if (next)
        place(std::move(e), *next);
      else
        --size_;
    }
    due_.clear();
    if (due_.capacity() > 4096)
      due_.shrink_to_fit(); // after a burst the memory goes back
    // The slot just checked keeps its buffer for its next round unless entries went there.
    auto& last = slots_[(cursor_ + slots_.size() - 1) % slots_.size()];
    if (last.empty())
      due_.swap(last);
    ticking_ = false;
    if (size_ > 0 && !armed_ && !stopped_)
      arm();
  }

private:
  struct entry {
    std::weak_ptr<keepalive_client> client;
    std::uint32_t gen;
  };

  void place(entry e, clock::time_point due) {
    std::size_t ahead = 0;
    if (due > next_tick_) {
      const auto ticks = (due - next_tick_ + tick_ - clock::duration{1}) / tick_; // round up
      ahead = static_cast<std::size_t>(ticks) < slots_.size() ? static_cast<std::size_t>(ticks)
                                                               : slots_.size() - 1;
    }
    slots_[(cursor_ + ahead) % slots_.size()].push_back(std::move(e));
  }

  void arm() {
    armed_ = true;
    timer_.expires_at(next_tick_);
    timer_.async_wait([this](boost::system::error_code ec) {
      armed_ = false;
      if (!ec && !stopped_)
        tick();
    });
  }

  boost::asio::steady_timer timer_;
  clock::duration tick_;
  std::vector<std::vector<entry>> slots_;
  std::vector<entry> due_; ///< the slot being checked (its buffer is reused)
  std::size_t cursor_ = 0; ///< the slot the next tick checks
  clock::time_point next_tick_{};
  std::size_t size_ = 0;
  now_fn now_;
  bool armed_ = false;
  bool ticking_ = false;
  bool stopped_ = false;
};

} // namespace colony::transport::detail
