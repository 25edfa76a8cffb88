// keepalive_wheel: the keep-alive checks of every link on one I/O thread, done by one periodic
// timer. A per-link timer kept an armed Asio timer (~220 bytes with its pending wait) for every
// idle connection; here an idle link costs one weak pointer. A silent client is closed at most
// one tick late (MQTT-3.1.2-24 asks for 1.5 x keep-alive; the tick is 500 ms).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <vector>

namespace colony::transport::detail {

/// A link whose keep-alive the wheel checks. Called on the wheel's I/O thread.
class keepalive_client {
public:
  virtual ~keepalive_client() = default;
  /// Checks the deadline at `now`; returns false once the link no longer needs checking.
  virtual bool on_keepalive_tick(std::chrono::steady_clock::time_point now) = 0;
};

class keepalive_wheel {
public:
  explicit keepalive_wheel(boost::asio::io_context& ctx,
                           std::chrono::milliseconds tick = std::chrono::milliseconds{500})
    : timer_(ctx), tick_(tick) {}

  /// The wheel of the I/O thread this is called on (null outside the transport's threads).
  static keepalive_wheel*& current() {
    thread_local keepalive_wheel* wheel = nullptr;
    return wheel;
  }

  /// Starts checking `client` (on the wheel's I/O thread). Adding it twice checks it twice.
  void add(std::weak_ptr<keepalive_client> client) {
    clients_.push_back(std::move(client));
    if (!armed_)
      arm();
  }

  /// Stops the timer (the I/O thread is about to end).
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

  std::size_t size() const noexcept { return clients_.size(); }

private:
  void arm() {
    armed_ = true;
    timer_.expires_after(tick_);
    timer_.async_wait([this](boost::system::error_code ec) {
      armed_ = false;
      if (!ec && !stopped_)
        on_tick();
    });
  }

  void on_tick() {
    auto now = std::chrono::steady_clock::now();
    std::size_t kept = 0;
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      auto c = clients_[i].lock();
      if (c && c->on_keepalive_tick(now)) {
        if (kept != i)
          clients_[kept] = std::move(clients_[i]);
        ++kept;
      }
    }
    clients_.resize(kept);
    if (clients_.capacity() > 64 && clients_.size() < clients_.capacity() / 4)
      clients_.shrink_to_fit();
    if (!clients_.empty())
      arm();
  }

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds tick_;
  std::vector<std::weak_ptr<keepalive_client>> clients_;
  bool armed_ = false;
  bool stopped_ = false;
};

} // namespace colony::transport::detail
