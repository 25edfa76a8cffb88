// link_bridge: the transport's link_handler for one link, turning I/O-thread callbacks into
// actor messages. Until its CONNECT is decided it has no target: the CONNECT is handled right
// on the I/O thread (connection_actor.hpp). Once accepted, the session actor becomes the target;
// a close that happened in between is re-sent to it.
#pragma once

#include "actors/messages.hpp"
#include "transport/link.hpp"

#include <caf/all.hpp>

#include <memory>
#include <mutex>

namespace colony::actors {

struct connection_args;

void handle_connect(std::shared_ptr<connection_args> args, transport::packet_batch& batch);
void handle_closed_before_connect(const connection_args& args, const transport::close_info& info);

class link_bridge final : public transport::link_handler {
public:
  explicit link_bridge(std::uint64_t link_id) : link_id_(link_id) {}

  /// What decides the link's CONNECT. Dropped after the CONNECT (or a close before it).
  void set_handshake(std::shared_ptr<connection_args> args) {
    std::lock_guard<std::mutex> guard{mtx_};
    handshake_ = std::move(args);
  }

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
    std::shared_ptr<connection_args> handshake;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      t = target_;
      if (!t)
        handshake = std::move(handshake_);
    }
    if (t)
      caf::anon_send(t, packets_atom::value, link_id_, std::move(batch));
    else if (handshake)
      handle_connect(std::move(handshake), batch);
  }

  void on_drained() override {
    caf::actor t;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      t = target_;
    }
    if (t)
      caf::anon_send(t, drained_atom::value, link_id_);
  }

  void on_close(transport::close_info info) override {
    caf::actor t;
    std::shared_ptr<connection_args> handshake;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      closed_ = true;
      close_info_ = info;
      t = std::move(target_);
      target_ = nullptr;
      handshake = std::move(handshake_);
    }
    if (t)
      caf::anon_send(t, closed_atom::value, link_id_, info);
    else if (handshake)
      handle_closed_before_connect(*handshake, info);
  }

private:
  std::uint64_t link_id_;
  std::mutex mtx_;
  caf::actor target_;
  std::shared_ptr<connection_args> handshake_;
  bool closed_ = false;
  transport::close_info close_info_;
};

} // namespace colony::actors
