// link_bridge: the transport's link_handler for one link, turning I/O-thread callbacks into
// actor messages. Its target starts as the connection actor and moves to the session actor
// once CONNECT is accepted; a close that happened in between is re-sent to the new target.
#pragma once

#include "actors/messages.hpp"
#include "transport/link.hpp"

#include <caf/all.hpp>

#include <mutex>

namespace colony::actors {

class link_bridge final : public transport::link_handler {
public:
  explicit link_bridge(std::uint64_t link_id) : link_id_(link_id) {}

  void set_target(caf::actor target) {
    std::unique_lock<std::mutex> guard{mtx_};
    target_ = target;
    if (closed_) {
      auto info = close_info_;
      guard.unlock();
      caf::anon_send(target, closed_atom::value, link_id_, info);
    }
  }

  void on_packets(transport::packet_batch batch) override {
    caf::actor t;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      t = target_;
    }
    caf::anon_send(t, packets_atom::value, link_id_, std::move(batch));
  }

  void on_drained() override {
    caf::actor t;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      t = target_;
    }
    caf::anon_send(t, drained_atom::value, link_id_);
  }

  void on_close(transport::close_info info) override {
    caf::actor t;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      closed_ = true;
      close_info_ = info;
      t = std::move(target_);
      target_ = nullptr;
    }
    if (t)
      caf::anon_send(t, closed_atom::value, link_id_, info);
  }

private:
  std::uint64_t link_id_;
  std::mutex mtx_;
  caf::actor target_;
  bool closed_ = false;
  transport::close_info close_info_;
};

} // namespace colony::actors
