// stream_link<Stream>: one client connection over an Asio stream: tcp::socket,
// ssl::stream<tcp::socket>, websocket::stream<...> or local::stream_protocol::socket. What differs
// between them (how to read, write, find the socket, close politely) is in stream_ops<Stream>;
// the default here serves plain sockets, tls_stream.hpp adds TLS and ws.cpp adds WebSocket.
// Handshakes (TLS, HTTP upgrade) happen before a stream_link is made. Runs on one I/O thread
// (its executor); the public link functions may be called from any thread and hop onto that
// executor.
//
// Read path: read into a growable buffer, decode every complete packet, hand the batch to the
// handler as one call. Plain sockets (TCP, Unix) wait for readability without a buffer and
// read only once bytes are there, so an idle connection holds no read buffer at all. Reading pauses after a CONNECT (until resume()) and while too many
// batches are outstanding (flow control), so a flooding client is slowed, not buffered.
// Write path: write() appends to a pending list under a per-link mutex; one gathered
// async_write sends everything pending.
#pragma once

#include "codec/decoder.hpp"
#include "codec/encoder.hpp"
#include "metrics/stats.hpp"
#include "transport/keepalive_wheel.hpp"
#include "transport/link.hpp"
#include "transport/read_buffer.hpp"

#include <boost/asio.hpp>

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>

namespace colony::transport::detail {

namespace asio = boost::asio;

/// One connection counted against its listener's limit; the count goes down when this is
/// released or destroyed. Shares the listener's counter: no allocation per connection.
class connection_slot {
public:
  connection_slot() = default;
  explicit connection_slot(std::shared_ptr<std::atomic<std::size_t>> count)
    : count_(std::move(count)) {
    if (count_)
      count_->fetch_add(1);
  }
  connection_slot(connection_slot&& other) noexcept = default;
  connection_slot& operator=(connection_slot&& other) noexcept {
    if (this != &other) {
      reset();
      count_ = std::move(other.count_);
    }
    return *this;
  }
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
  ~connection_slot() { reset(); }

  void reset() noexcept {
    if (auto c = std::move(count_))
      c->fetch_sub(1);
  }
  explicit operator bool() const noexcept { return count_ != nullptr; }

private:
  std::shared_ptr<std::atomic<std::size_t>> count_;
};

struct link_config {
  std::size_t max_packet_size;
  std::chrono::milliseconds connect_timeout; ///< what is left of it after any handshake
  std::size_t low_water_mark;
  int max_outstanding_batches;
  std::size_t read_buffer_size;
};

/// Who a connection is, gathered at accept and handshake time.
struct link_info {
  std::uint64_t id = 0;
  std::string listener;
  std::string ip;
  std::string address;       ///< "ip:port" (or "unix:path")
  std::string peer_identity; ///< CN of a verified client certificate
  /// Released when the link finishes: the listener's connection-count slot.
  connection_slot slot;
  /// Kept alive as long as the link: e.g. the ssl::context the connection was accepted with.
  std::shared_ptr<void> keep;
  /// Called once on the I/O thread when the link has finished (removes it from the registry).
  std::function<void(std::uint64_t)> on_finish;
  /// The socket was accepted in the very handler that starts the link: its CONNECT is rarely
  /// there yet, so start() waits for readability at once instead of posting a read that would
  /// only say EAGAIN. (Arming the wait re-arms the descriptor in epoll, so bytes that are
  /// already there are reported too.)
  bool fresh_socket = false;
};

/// The textual form of `a` (IPv4 without inet_ntop(), which goes through sprintf()).
inline std::string ip_to_string(const asio::ip::address& a) {
  if (!a.is_v4())
    return a.to_string();
  const auto b = a.to_v4().to_bytes();
  char out[16];
  std::size_t n = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i > 0)
      out[n++] = '.';
    unsigned v = b[i];
    if (v >= 100)
      out[n++] = static_cast<char>('0' + v / 100);
    if (v >= 10)
      out[n++] = static_cast<char>('0' + v / 10 % 10);
    out[n++] = static_cast<char>('0' + v % 10);
  }
  return std::string(out, n);
}

inline std::string format_address(const std::string& ip, std::uint16_t port) {
  return ip.find(':') != std::string::npos ? "[" + ip + "]:" + std::to_string(port)
                                           : ip + ":" + std::to_string(port);
}

/// What the server needs of a link besides the link interface.
class link_base : public link {
public:
  /// Starts reading (on the link's I/O thread); `handler` receives everything from now on.
  /// A null handler closes the link.
  virtual void start(std::shared_ptr<link_handler> handler) = 0;
  /// Closes at once (server shutdown). Safe from any thread.
  virtual void shutdown() = 0;
};

/// Stream policy for plain sockets (TCP, Unix). Specialised for TLS and WebSocket streams.
template <class Stream>
struct stream_ops {
  /// The socket under every layer.
  static auto& socket(Stream& s) { return s.lowest_layer(); }

  template <class Buffer, class Handler>
  static void async_read_some(Stream& s, const Buffer& b, Handler&& h) {
    s.async_read_some(b, std::forward<Handler>(h));
  }

  template <class Buffers, class Handler>
  static void async_write(Stream& s, const Buffers& b, Handler&& h) {
    asio::async_write(s, b, std::forward<Handler>(h));
  }

  /// After a successful read: is what was read acceptable (WebSocket: binary frames only)?
  static bool read_ok(Stream&) { return true; }

  /// Does `ec` from a read mean the peer closed the connection in an orderly way?
  static bool is_peer_close(const boost::system::error_code& ec) {
    return ec == asio::error::eof;
  }

  /// Whether the socket can be waited on for readability and then read without blocking
  /// (plain sockets). Layered streams (TLS, WebSocket) buffer inside and need a pending read.
  static constexpr bool can_wait_readable = true;

  /// Whether bytes may be sent with a plain non-blocking send() on the socket from any thread
  /// while nothing else is being written (see stream_link::write). Layered streams keep state
  /// that only their I/O thread may touch.
  static constexpr bool can_send_directly = true;

  /// Whether the stream has a closing handshake (TLS close_notify, WebSocket close frame).
  static constexpr bool has_graceful_close = false;
  /// Whether the closing handshake must wait until no read is pending (TLS).
  static constexpr bool graceful_close_needs_idle_read = false;
  template <class Handler>
  static void async_graceful_close(Stream&, Handler&&) {}
};

/// Allocates an operation's memory at exactly its size. Asio's default allocator recycles the block
/// of the last completed operation on this thread, so the read wait an idle link keeps pending
/// for hours would sit in the ~460-byte block of its CONNACK write instead of ~150 bytes.
template <class T>
struct exact_allocator {
  using value_type = T;
  exact_allocator() noexcept = default;
  template <class U>
  exact_allocator(const exact_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  template <class U>
  bool operator==(const exact_allocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const exact_allocator<U>&) const noexcept { return false; }
};

/// A completion handler whose operation is allocated with exact_allocator (for operations that
/// stay pending while a connection is idle: the read wait and the keep-alive timer).
template <class F>
struct exact_alloc_handler {
  using allocator_type = exact_allocator<void>;
  allocator_type get_allocator() const noexcept { return {}; }
  template <class... Args>
  void operator()(Args&&... args) {
    f(std::forward<Args>(args)...);
  }
  F f;
};

template <class F>
exact_alloc_handler<std::decay_t<F>> exact_alloc(F&& f) {
  return {std::forward<F>(f)};
}

template <class Stream>
class stream_link final : public link_base,
                          public keepalive_client,
                          public std::enable_shared_from_this<stream_link<Stream>> {
public:
  using ops = stream_ops<Stream>;

  stream_link(Stream stream, link_info info, const link_config& cfg)
    : stream_(std::move(stream)),
      id_(info.id),
      listener_(std::move(info.listener)),
      remote_ip_(std::move(info.ip)),
      remote_address_(std::move(info.address)),
      peer_identity_(std::move(info.peer_identity)),
      slot_(std::move(info.slot)),
      keep_(std::move(info.keep)),
      cfg_(cfg),
      decoder_(cfg.max_packet_size),
      wheel_(keepalive_wheel::current()),
      on_finish_(std::move(info.on_finish)),
      rbuf_(cfg.read_buffer_size, cfg.max_packet_size + 8),
      fresh_socket_(info.fresh_socket) {
    if constexpr (ops::can_wait_readable) {
      // read_now() must get would_block instead of blocking the I/O thread.
      boost::system::error_code ignored;
      ops::socket(stream_).non_blocking(true, ignored);
    }
  }

  ~stream_link() override {
    boost::system::error_code ignored;
    ops::socket(stream_).close(ignored);
  }

  void start(std::shared_ptr<link_handler> handler) override {
    handler_ = std::move(handler);
    if (!handler_) {
      finish(close_info{close_reason::shutdown, codec::reason_code::success});
      return;
    }
    last_packet_ = clock::now();
    arm_timer(cfg_.connect_timeout);
    if constexpr (ops::can_wait_readable) {
      if (fresh_socket_) {
        // Just accepted: the CONNECT is rarely there yet (see link_info::fresh_socket).
        fresh_socket_ = false;
        reading_ = true;
        wait_readable();
        return;
      }
    }
    start_read();
  }

  // -- link interface ---------------------------------------------------------

  std::uint64_t id() const noexcept override { return id_; }
  const std::string& remote_address() const noexcept override { return remote_address_; }
  const std::string& remote_ip() const noexcept override { return remote_ip_; }
  const std::string& listener() const noexcept override { return listener_; }
  const std::string& peer_identity() const noexcept override { return peer_identity_; }

  void write(std::vector<std::uint8_t> bytes) override {
    if (bytes.empty())
      return;
    queued_.fetch_add(bytes.size(), std::memory_order_relaxed);
    metrics::count_packets_out(bytes.data(), bytes.size());
    {
      std::lock_guard<std::mutex> guard{write_mtx_};
      if constexpr (ops::can_send_directly) {
        // Nothing queued or being written: send right here, on the caller's thread (the
        // actor's: an I/O thread, maybe another link's, or a CAF worker with scheduler pool).
        // Most writes fit the socket buffer at once, and then the link's own thread is not
        // asked to write them at all: no hand-off, no wake-up.
        // Only what the socket did not take is queued for the I/O thread. The lock keeps the
        // I/O thread from writing or closing the socket meanwhile.
        // (A service already posted for the keep-alive or a resume does not matter: no bytes
        // are ahead of these.)
        if (direct_ok_ && !writing_ && pending_.empty()) {
          auto sent = send_now(bytes);
          if (sent == bytes.size())
            return;
          if (sent > 0)
            bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(sent));
        }
      }
      pending_.push_back(std::move(bytes));
      if (service_posted_)
        return;
      service_posted_ = true;
    }
    post_service();
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
    resume_request_.store(true, std::memory_order_release);
    schedule_service();
  }

  void resume_one() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (!self->awaiting_connect_ack_)
        return;
      self->awaiting_connect_ack_ = false;
      self->pause_after_one_ = true;
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
    keepalive_request_.store(seconds, std::memory_order_release);
    schedule_service();
  }

  void set_max_packet_size(std::size_t bytes) override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), bytes] {
      self->decoder_.set_max_packet_size(bytes);
    });
  }

  void shutdown() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->finish(close_info{close_reason::shutdown, codec::reason_code::success});
    });
  }

private:
  using clock = std::chrono::steady_clock;

  // -- reading ------------------------------------------------------------------

  void start_read() {
    if constexpr (ops::can_wait_readable) {
      if (awaiting_connect_ack_ && short_read_ && rbuf_.empty() && !reading_ && !finished_
          && !closing_) {
        // The CONNECT came alone and its read emptied the socket: wait for readability
        // already, so that the resume after CONNACK finds the wait armed and needs no recv().
        // Bytes that come before the CONNACK are read then and kept undecoded until the
        // resume; that read leaves them in the buffer, so the wait is not armed again (at
        // most one read before the CONNACK, whatever the client sends meanwhile).
        short_read_ = false;
        reading_ = true;
        wait_readable();
        return;
      }
    }
    if (reading_ || finished_ || closing_ || awaiting_connect_ack_
        || outstanding_.load(std::memory_order_acquire) >= cfg_.max_outstanding_batches)
      return;
    reading_ = true;
    if constexpr (ops::can_wait_readable) {
      // Read first (bytes may have arrived while reading was paused), wait only once the
      // socket is empty: see read_now(). Posted, so a flooding client cannot recurse; only
      // the resume after CONNACK, itself a posted handler, reads in place (once).
      if (short_read_) {
        // The read in this handler took less than it asked for: the socket was empty then,
        // so wait for readability without another recv() that would only say EAGAIN. Safe
        // for the same reason as in read_now(): nothing can consume an edge in between.
        short_read_ = false;
        wait_readable();
        return;
      }
      if (read_in_place_) {
        read_in_place_ = false;
        read_now();
        return;
      }
      asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->read_now(); });
    } else {
      auto space = rbuf_.prepare();
      ops::async_read_some(
        stream_, asio::buffer(space.data(), space.size()),
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
          self->on_read(ec, n);
        });
    }
  }

  /// Plain sockets: one non-blocking read. If the socket is empty, the buffer is given back and
  /// the link waits for readability. The wait is started in the same handler as the read that
  /// found the socket empty: the reactor is edge-triggered and runs on this thread, so no edge
  /// can be consumed in between.
  void read_now() {
    if (finished_) {
      reading_ = false;
      return;
    }
    auto space = rbuf_.prepare();
    boost::system::error_code ec;
    auto n = stream_.read_some(asio::buffer(space.data(), space.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      wait_readable();
      return;
    }
    // Valid only until on_read returns (start_read looks at it when this read's decoding asks
    // for the next read, in this same handler).
    short_read_ = !ec && n > 0 && n < space.size();
    on_read(ec, n);
    short_read_ = false;
  }

  /// Gives the buffer back if it is empty and waits until the socket is readable.
  void wait_readable() {
    rbuf_.release_if_empty();
    ops::socket(stream_).async_wait(
      asio::socket_base::wait_read,
      exact_alloc([self = this->shared_from_this()](boost::system::error_code wait_ec) {
        if (wait_ec || self->finished_)
          self->on_read(wait_ec, 0);
        else
          self->read_now();
      }));
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    reading_ = false;
    if (finished_) {
      if (graceful_after_read_) {
        graceful_after_read_ = false;
        start_graceful_close();
      }
      return;
    }
    if (ec) {
      finish(close_info{ops::is_peer_close(ec) ? close_reason::peer_closed : close_reason::io_error,
                        codec::reason_code::success});
      return;
    }
    if (!ops::read_ok(stream_)) {
      // MQTT-6.0.0-1: anything but binary WebSocket data frames closes the connection.
      finish(close_info{close_reason::protocol_error, codec::reason_code::malformed_packet});
      return;
    }
    rbuf_.commit(n);
    metrics::count_bytes_read(n);
    decode_and_continue();
  }

  void decode_and_continue() {
    if (finished_)
      return;
    packet_batch batch;
    while (!awaiting_connect_ack_) {
      auto r = decoder_.next(rbuf_.data());
      if (r.status == codec::decode_status::need_more)
        break;
      if (r.status == codec::decode_status::error) {
        deliver(std::move(batch));
        on_decode_error(r.error);
        return;
      }
      rbuf_.consume(r.used);
      metrics::count_packet_in(static_cast<unsigned>(codec::type_of(r.pkt)), r.used);
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
        cancel_timer();
        if (wheel_)
          timer_.reset(); // the wheel does the keep-alive: an idle link holds no timer
      }
      batch.push_back(std::move(r.pkt));
      if (pause_after_one_) {
        pause_after_one_ = false;
        awaiting_connect_ack_ = true;
      }
    }
    deliver(std::move(batch));
    if (!reading_) {
      // Give back memory after a large packet (never under a pending read).
      rbuf_.shrink();
    }
    start_read();
  }

  void deliver(packet_batch batch) {
    if (batch.empty() || !handler_)
      return;
    outstanding_.fetch_add(1, std::memory_order_acq_rel);
    handler_->on_packets(std::move(batch));
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

  /// The link's own timer (CONNECT timeout, flush before close, closing handshake), made on
  /// first use.
  asio::steady_timer& timer() {
    if (!timer_)
      timer_ = std::make_unique<asio::steady_timer>(stream_.get_executor());
    return *timer_;
  }

  void cancel_timer() {
    if (timer_)
      timer_->cancel();
  }

  void arm_timer(std::chrono::milliseconds after) {
    timer().expires_after(after);
    timer().async_wait(exact_alloc([self = this->shared_from_this()](boost::system::error_code ec) {
      if (!ec)
        self->on_timer();
    }));
  }

  void arm_keepalive() {
    if (keepalive_.count() == 0) {
      // (The timer is the keep-alive only without a wheel, and the flush timeout while
      // closing: that one stays.)
      if (!wheel_ && !closing_)
        cancel_timer();
      return;
    }
    if (wheel_) {
      // A new entry for the (new) deadline; an earlier entry of this link is stale from now
      // on and leaves the wheel on its tick.
      ++wheel_gen_;
      wheel_->schedule(std::weak_ptr<keepalive_client>(this->shared_from_this()), wheel_gen_,
                       last_packet_ + keepalive_);
      return;
    }
    auto due = last_packet_ + keepalive_;
    auto now = clock::now();
    arm_timer(due > now ? std::chrono::duration_cast<std::chrono::milliseconds>(due - now)
                        : std::chrono::milliseconds{0});
  }

  std::optional<clock::time_point> on_keepalive_tick(clock::time_point now,
                                                     std::uint32_t gen) override {
    if (gen != wheel_gen_ || finished_ || keepalive_.count() == 0)
      return std::nullopt;
    if (closing_)
      return now + keepalive_; // the flush timeout decides
    const auto due = last_packet_ + keepalive_;
    if (now >= due) {
      keepalive_expired();
      return std::nullopt;
    }
    return due;
  }

  /// MQTT-3.1.2-24: no packet within 1.5 x keepalive. MQTT 5 §4.13: the server may say why
  /// with DISCONNECT 0x8D before it closes (after what is queued, bounded by begin_close).
  void keepalive_expired() {
    close_info info{close_reason::keepalive_timeout, codec::reason_code::keep_alive_timeout};
    if (decoder_.version() == codec::protocol_version::v5) {
      codec::disconnect d{codec::reason_code::keep_alive_timeout, {}};
      d.props.reason_string = std::string{codec::to_string(d.code)};
      std::vector<std::uint8_t> out;
      codec::encode(d, codec::protocol_version::v5, out);
      write(std::move(out));
      begin_close(info);
    } else {
      finish(info);
    }
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
      keepalive_expired();
      return;
    }
    arm_keepalive();
  }

  /// One non-blocking send() of `bytes` (under write_mtx_, socket open); returns how many
  /// bytes the socket took (0 on EAGAIN and on errors: the I/O thread's write sees those).
  std::size_t send_now(const std::vector<std::uint8_t>& bytes) {
    auto fd = ops::socket(stream_).native_handle();
    ssize_t n;
    do {
      n = ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
      return 0;
    queued_.fetch_sub(static_cast<std::size_t>(n), std::memory_order_relaxed);
    return static_cast<std::size_t>(n);
  }

  // -- requests from other threads ---------------------------------------------------

  // A session's turn usually asks several things of its link at once (after a CONNECT: the
  // keep-alive, the CONNACK, resume decoding). They share one post to the I/O thread: every
  // post allocates and may have to wake the I/O thread.

  /// Makes sure one service() is posted (service_posted_ says one is on its way).
  void schedule_service() {
    {
      std::lock_guard<std::mutex> guard{write_mtx_};
      if (service_posted_)
        return;
      service_posted_ = true;
    }
    post_service();
  }

  void post_service() {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->service(); });
  }

  /// On the I/O thread: what was asked since the last service (the flag is cleared first, so
  /// a request made meanwhile posts another service rather than being missed).
  void service() {
    {
      std::lock_guard<std::mutex> guard{write_mtx_};
      service_posted_ = false;
    }
    if (int s = keepalive_request_.exchange(-1, std::memory_order_acq_rel); s >= 0) {
      keepalive_ = std::chrono::milliseconds{s * 1500};
      if (!finished_ && connect_seen_)
        arm_keepalive();
    }
    start_write();
    if (resume_request_.exchange(false, std::memory_order_acq_rel)) {
      awaiting_connect_ack_ = false;
      pause_after_one_ = false;
      read_in_place_ = true;
      decode_and_continue();
      read_in_place_ = false;
    }
  }

  // -- writing ------------------------------------------------------------------

  void start_write() {
    {
      std::lock_guard<std::mutex> guard{write_mtx_};
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
    in_flight_bytes_ = 0;
    for (auto& b : in_flight_) {
      buffers_.emplace_back(asio::buffer(b));
      in_flight_bytes_ += b.size();
    }
    ops::async_write(stream_, buffers_,
                     [self = this->shared_from_this()](boost::system::error_code ec,
                                                       std::size_t) { self->on_write(ec); });
  }

  void on_write(boost::system::error_code ec) {
    queued_.fetch_sub(in_flight_bytes_, std::memory_order_relaxed);
    in_flight_bytes_ = 0;
    in_flight_.clear();
    bool more;
    {
      std::lock_guard<std::mutex> guard{write_mtx_};
      writing_ = false;
      more = !pending_.empty();
    }
    if (!more) {
      // Idle again: an idle link keeps no write-side allocations.
      std::vector<std::vector<std::uint8_t>>().swap(in_flight_);
      std::vector<asio::const_buffer>().swap(buffers_);
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
      direct_ok_ = false; // later writes queue behind the close
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
    cancel_timer();
    bool writing;
    {
      std::lock_guard<std::mutex> guard{write_mtx_};
      direct_ok_ = false; // from now on no thread but this one touches the socket
      pending_.clear();
      writing = writing_;
    }
    // Say goodbye properly (TLS close_notify, WebSocket close frame) unless the peer is gone,
    // the stream broke, or a write is still in progress; bounded by a short timer.
    bool graceful = ops::has_graceful_close && !writing && info.reason != close_reason::peer_closed
                    && info.reason != close_reason::io_error;
    if (graceful) {
      timer().expires_after(std::chrono::milliseconds{1000});
      timer().async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
        if (!ec)
          self->close_socket();
      });
      if (ops::graceful_close_needs_idle_read && reading_) {
        // Cancel the pending read first; on_read starts the closing handshake.
        graceful_after_read_ = true;
        boost::system::error_code ignored;
        ops::socket(stream_).cancel(ignored);
      } else {
        start_graceful_close();
      }
    } else {
      close_socket();
    }
    if (auto h = std::move(handler_))
      h->on_close(info);
    slot_.reset();
    if (on_finish_)
      on_finish_(id_);
  }

  void start_graceful_close() {
    ops::async_graceful_close(stream_, [self = this->shared_from_this()](
                                         boost::system::error_code) { self->close_socket(); });
  }

  void close_socket() {
    boost::system::error_code ignored;
    cancel_timer();
    auto& sock = ops::socket(stream_);
    if (!sock.is_open())
      return;
    sock.shutdown(asio::socket_base::shutdown_both, ignored);
    sock.close(ignored);
  }

  Stream stream_;
  std::uint64_t id_;
  std::string listener_;
  std::string remote_ip_;
  std::string remote_address_;
  std::string peer_identity_;
  connection_slot slot_;
  std::shared_ptr<void> keep_;
  link_config cfg_;
  codec::stream_decoder decoder_;
  keepalive_wheel* wheel_; ///< this I/O thread's, or null: then timer_ does the keep-alive
  std::unique_ptr<asio::steady_timer> timer_;
  std::uint32_t wheel_gen_ = 0; ///< of this link's live entry on the wheel
  std::function<void(std::uint64_t)> on_finish_;
  std::shared_ptr<link_handler> handler_;

  // Read state (I/O thread only).
  read_buffer rbuf_;
  bool short_read_ = false; ///< the current handler's read found the socket emptied
  bool fresh_socket_ = false; ///< see link_info::fresh_socket (until start())
  bool reading_ = false;
  bool connect_seen_ = false;
  bool awaiting_connect_ack_ = false;
  bool pause_after_one_ = false; ///< resume_one(): pause again after the next packet
  bool closing_ = false;
  bool finished_ = false;
  bool graceful_after_read_ = false;
  bool read_in_place_ = false; ///< the next start_read() may read without a post (see there)
  close_info pending_close_;
  clock::time_point last_packet_;
  std::chrono::milliseconds keepalive_{0};
  std::atomic<int> outstanding_{0};

  // Write state.
  std::mutex write_mtx_;
  std::vector<std::vector<std::uint8_t>> pending_;   // guarded by write_mtx_
  bool service_posted_ = false;                      // guarded by write_mtx_
  bool direct_ok_ = true; // guarded by write_mtx_: the socket is open, no close has begun
  bool writing_ = false;                             // guarded by write_mtx_
  std::vector<std::vector<std::uint8_t>> in_flight_; // I/O thread
  std::vector<asio::const_buffer> buffers_;          // I/O thread
  std::size_t in_flight_bytes_ = 0;                  // I/O thread
  std::atomic<std::size_t> queued_{0};
  std::atomic<bool> wants_drain_{false};

  // Requests waiting for the next service() (see schedule_service).
  std::atomic<int> keepalive_request_{-1}; ///< seconds, -1 = none
  std::atomic<bool> resume_request_{false};
};

/// Makes a link. Not with make_shared: the keep-alive wheel holds a weak pointer to a link
/// until the link's entry comes up (up to 1.5 x keep-alive after the link is gone), and a weak
/// pointer into a make_shared block keeps the whole block (the link, ~600 bytes) allocated;
/// with a separate control block only that stays, ~32 bytes.
template <class Stream, class... Args>
std::shared_ptr<stream_link<Stream>> make_link(Stream stream, Args&&... args) {
  return std::shared_ptr<stream_link<Stream>>(
    new stream_link<Stream>(std::move(stream), std::forward<Args>(args)...));
}

} // namespace colony::transport::detail
