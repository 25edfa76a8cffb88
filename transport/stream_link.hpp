// stream_link<Stream>: one client connection over an Asio byte stream (TCP now; TLS and
// WebSocket plug in through the same template). Runs on one I/O thread (its executor); the
// public link functions may be called from any thread and hop onto that executor.
//
// Read path: read into a growable buffer, decode every complete packet, hand the batch to the
// handler as one call. Reading pauses after a CONNECT (until resume()) and while too many
// batches are outstanding (flow control), so a flooding client is slowed, not buffered.
// Write path: write() appends to a pending list under a per-link mutex; one gathered
// async_write sends everything pending.
#pragma once

#include "codec/decoder.hpp"
#include "codec/encoder.hpp"
#include "transport/link.hpp"

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>

namespace colony::transport::detail {

namespace asio = boost::asio;

struct link_config {
  std::size_t max_packet_size;
  std::chrono::milliseconds connect_timeout;
  std::size_t low_water_mark;
  int max_outstanding_batches;
  std::size_t read_buffer_size;
};

template <class Stream>
class stream_link final : public link, public std::enable_shared_from_this<stream_link<Stream>> {
public:
  using on_finish_fn = std::function<void(std::uint64_t)>;

  stream_link(Stream stream, std::uint64_t id, std::string listener, std::string ip,
              std::uint16_t port, const link_config& cfg, on_finish_fn on_finish)
    : stream_(std::move(stream)),
      id_(id),
      listener_(std::move(listener)),
      remote_ip_(std::move(ip)),
      cfg_(cfg),
      decoder_(cfg.max_packet_size),
      timer_(stream_.get_executor()),
      on_finish_(std::move(on_finish)) {
    remote_address_ = remote_ip_.find(':') != std::string::npos
                        ? "[" + remote_ip_ + "]:" + std::to_string(port)
                        : remote_ip_ + ":" + std::to_string(port);
    rbuf_.resize(cfg.read_buffer_size);
  }

  /// Starts reading; `handler` receives everything from now on.
  void start(std::shared_ptr<link_handler> handler) {
    handler_ = std::move(handler);
    last_packet_ = clock::now();
    arm_timer(cfg_.connect_timeout);
    start_read();
  }

  // -- link interface ---------------------------------------------------------

  std::uint64_t id() const noexcept override { return id_; }
  const std::string& remote_address() const noexcept override { return remote_address_; }
  const std::string& remote_ip() const noexcept override { return remote_ip_; }
  const std::string& listener() const noexcept override { return listener_; }

  void write(std::vector<std::uint8_t> bytes) override {
    if (bytes.empty())
      return;
    queued_.fetch_add(bytes.size(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> guard{write_mtx_};
      pending_.push_back(std::move(bytes));
      if (write_scheduled_)
        return;
      write_scheduled_ = true;
    }
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->start_write(); });
  }

  std::size_t queued_bytes() const noexcept override {
    return queued_.load(std::memory_order_relaxed);
  }

  void notify_when_drained() override {
    wants_drain_.store(true, std::memory_order_relaxed);
    // If everything was already written, no write completion will fire: check now.
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->check_drained(); });
  }

  void close() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->begin_close(close_info{close_reason::server_close, codec::reason_code::success});
    });
  }

  void resume() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->awaiting_connect_ack_ = false;
      self->decode_and_continue();
    });
  }

  void batch_done() override {
    int before = outstanding_.fetch_sub(1, std::memory_order_acq_rel);
    if (before >= cfg_.max_outstanding_batches) {
      asio::post(stream_.get_executor(),
                 [self = this->shared_from_this()] { self->decode_and_continue(); });
    }
  }

  void set_keepalive(std::uint16_t seconds) override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), seconds] {
      self->keepalive_ = std::chrono::milliseconds{seconds * 1500};
      if (!self->finished_ && self->connect_seen_)
        self->arm_keepalive();
    });
  }

  void set_max_packet_size(std::size_t bytes) override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), bytes] {
      self->decoder_.set_max_packet_size(bytes);
    });
  }

  /// Closes at once (server shutdown). Safe from any thread.
  void shutdown() {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->finish(close_info{close_reason::shutdown, codec::reason_code::success});
    });
  }

private:
  using clock = std::chrono::steady_clock;

  // -- reading ------------------------------------------------------------------

  void start_read() {
    if (reading_ || finished_ || closing_ || awaiting_connect_ack_
        || outstanding_.load(std::memory_order_acquire) >= cfg_.max_outstanding_batches)
      return;
    if (rend_ == rbuf_.size()) {
      // Full buffer: the decoder has already checked the packet against the size limit,
      // so growth is bounded by max packet size.
      if (rbegin_ > 0) {
        compact();
      } else {
        rbuf_.resize(std::min(rbuf_.size() * 2, cfg_.max_packet_size + 8));
        if (rend_ == rbuf_.size()) {
          rbuf_.resize(rbuf_.size() + 8);
        }
      }
    }
    reading_ = true;
    stream_.async_read_some(
      asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
      [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
        self->on_read(ec, n);
      });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    reading_ = false;
    if (finished_)
      return;
    if (ec) {
      finish(close_info{ec == asio::error::eof ? close_reason::peer_closed : close_reason::io_error,
                        codec::reason_code::success});
      return;
    }
    rend_ += n;
    decode_and_continue();
  }

  void decode_and_continue() {
    if (finished_)
      return;
    packet_batch batch;
    while (!awaiting_connect_ack_) {
      auto r = decoder_.next(
        std::span<const std::uint8_t>(rbuf_.data() + rbegin_, rend_ - rbegin_));
      if (r.status == codec::decode_status::need_more)
        break;
      if (r.status == codec::decode_status::error) {
        deliver(std::move(batch));
        on_decode_error(r.error);
        return;
      }
      rbegin_ += r.used;
      last_packet_ = clock::now();
      bool is_connect = std::holds_alternative<codec::connect>(r.pkt);
      if (!connect_seen_) {
        if (!is_connect) {
          // MQTT-3.1.0-1: the first packet must be CONNECT.
          finish(close_info{close_reason::protocol_error, codec::reason_code::protocol_error});
          return;
        }
        connect_seen_ = true;
        awaiting_connect_ack_ = true;
        timer_.cancel();
      }
      batch.push_back(std::move(r.pkt));
    }
    if (rbegin_ == rend_) {
      rbegin_ = rend_ = 0;
    } else if (rbegin_ > rbuf_.size() / 2) {
      compact();
    }
    deliver(std::move(batch));
    if (rbuf_.size() > cfg_.read_buffer_size * 4 && rend_ - rbegin_ < cfg_.read_buffer_size) {
      // Give back memory after a large packet.
      compact();
      rbuf_.resize(cfg_.read_buffer_size);
      rbuf_.shrink_to_fit();
    }
    start_read();
  }

  void deliver(packet_batch batch) {
    if (batch.empty() || !handler_)
      return;
    outstanding_.fetch_add(1, std::memory_order_acq_rel);
    handler_->on_packets(std::move(batch));
  }

  void compact() {
    std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, rend_ - rbegin_);
    rend_ -= rbegin_;
    rbegin_ = 0;
  }

  void on_decode_error(codec::reason_code rc) {
    std::vector<std::uint8_t> out;
    if (rc == codec::reason_code::unsupported_protocol_version && !connect_seen_) {
      // MQTT-3.1.2-2: answer an unsupported level with return code 0x01, then close.
      out = {0x20, 0x02, 0x00, 0x01};
    } else if (connect_seen_ && decoder_.version() == codec::protocol_version::v5) {
      // MQTT 5 §4.13: the server may send DISCONNECT with the reason before closing.
      codec::encode(codec::disconnect{rc, {}}, codec::protocol_version::v5, out);
    }
    if (!out.empty())
      write(std::move(out));
    begin_close(close_info{close_reason::protocol_error, rc});
  }

  // -- timers -------------------------------------------------------------------

  void arm_timer(std::chrono::milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (!ec)
        self->on_timer();
    });
  }

  void arm_keepalive() {
    if (keepalive_.count() == 0) {
      timer_.cancel();
      return;
    }
    auto due = last_packet_ + keepalive_;
    auto now = clock::now();
    arm_timer(due > now ? std::chrono::duration_cast<std::chrono::milliseconds>(due - now)
                        : std::chrono::milliseconds{0});
  }

  void on_timer() {
    if (finished_)
      return;
    if (closing_) {
      // Flushing before close took too long: drop the connection.
      finish(pending_close_);
      return;
    }
    if (!connect_seen_) {
      finish(close_info{close_reason::connect_timeout, codec::reason_code::success});
      return;
    }
    if (keepalive_.count() == 0)
      return;
    if (clock::now() - last_packet_ >= keepalive_) {
      // MQTT-3.1.2-24: no packet within 1.5 x keepalive.
      finish(close_info{close_reason::keepalive_timeout, codec::reason_code::keep_alive_timeout});
      return;
    }
    arm_keepalive();
  }

  // -- writing ------------------------------------------------------------------

  void start_write() {
    {
      std::lock_guard<std::mutex> guard{write_mtx_};
      write_scheduled_ = false;
      if (finished_) {
        pending_.clear();
        return;
      }
      if (writing_ || pending_.empty())
        return;
      writing_ = true;
      in_flight_.swap(pending_);
    }
    buffers_.clear();
    buffers_.reserve(in_flight_.size());
    for (auto& b : in_flight_)
      buffers_.emplace_back(asio::buffer(b));
    asio::async_write(stream_, buffers_,
                      [self = this->shared_from_this()](boost::system::error_code ec,
                                                        std::size_t n) { self->on_write(ec, n); });
  }

  void on_write(boost::system::error_code ec, std::size_t n) {
    queued_.fetch_sub(n, std::memory_order_relaxed);
    in_flight_.clear();
    bool more;
    {
      std::lock_guard<std::mutex> guard{write_mtx_};
      writing_ = false;
      more = !pending_.empty();
    }
    if (ec) {
      finish(close_info{close_reason::io_error, codec::reason_code::success});
      return;
    }
    check_drained();
    if (more) {
      start_write();
    } else if (closing_) {
      finish(pending_close_);
    }
  }

  void check_drained() {
    if (finished_ || !wants_drain_.load(std::memory_order_relaxed))
      return;
    if (queued_.load(std::memory_order_relaxed) <= cfg_.low_water_mark) {
      wants_drain_.store(false, std::memory_order_relaxed);
      if (handler_)
        handler_->on_drained();
    }
  }

  // -- closing ------------------------------------------------------------------

  /// Closes after what is queued has been written (at most 2 s).
  void begin_close(close_info info) {
    if (finished_ || closing_)
      return;
    closing_ = true;
    pending_close_ = info;
    bool idle;
    {
      std::lock_guard<std::mutex> guard{write_mtx_};
      idle = !writing_ && pending_.empty();
    }
    if (idle) {
      finish(info);
      return;
    }
    arm_timer(std::chrono::milliseconds{2000});
  }

  void finish(close_info info) {
    if (finished_)
      return;
    finished_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    stream_.lowest_layer().shutdown(asio::socket_base::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
    {
      std::lock_guard<std::mutex> guard{write_mtx_};
      pending_.clear();
    }
    if (auto h = std::move(handler_))
      h->on_close(info);
    if (on_finish_)
      on_finish_(id_);
  }

  Stream stream_;
  std::uint64_t id_;
  std::string listener_;
  std::string remote_ip_;
  std::string remote_address_;
  link_config cfg_;
  codec::stream_decoder decoder_;
  asio::steady_timer timer_;
  on_finish_fn on_finish_;
  std::shared_ptr<link_handler> handler_;

  // Read state (I/O thread only).
  std::vector<std::uint8_t> rbuf_;
  std::size_t rbegin_ = 0;
  std::size_t rend_ = 0;
  bool reading_ = false;
  bool connect_seen_ = false;
  bool awaiting_connect_ack_ = false;
  bool closing_ = false;
  bool finished_ = false;
  close_info pending_close_;
  clock::time_point last_packet_;
  std::chrono::milliseconds keepalive_{0};
  std::atomic<int> outstanding_{0};

  // Write state.
  std::mutex write_mtx_;
  std::vector<std::vector<std::uint8_t>> pending_;   // guarded by write_mtx_
  bool write_scheduled_ = false;                     // guarded by write_mtx_
  bool writing_ = false;                             // guarded by write_mtx_
  std::vector<std::vector<std::uint8_t>> in_flight_; // I/O thread
  std::vector<asio::const_buffer> buffers_;          // I/O thread
  std::atomic<std::size_t> queued_{0};
  std::atomic<bool> wants_drain_{false};
};

} // namespace colony::transport::detail
