#include "transport/server.hpp"

#include "transport/detail.hpp"
#include "transport/io_pool.hpp"
#include "transport/link_table.hpp"
#include "transport/stream_link.hpp"
#include "metrics/stats.hpp"

#include <boost/asio.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include <sys/stat.h>
#include <unistd.h>

namespace colony::transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_proto = asio::local::stream_protocol;
/// Plain TCP links name their io_context's executor type instead of the type-erased
/// any_io_executor of tcp::socket: every operation on them (and each pending one, which holds a
/// copy) is smaller and starts and completes without the type erasure.
using plain_tcp_socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;
using tcp_link = detail::stream_link<plain_tcp_socket>;
using unix_link = detail::stream_link<unix_proto::socket>;

struct server::impl {
  struct listener {
    listener(listener_options o, accept_handler h)
      : options(std::move(o)),
        on_accept(std::move(h)),
        open(std::make_shared<std::atomic<std::size_t>>(0)) {}
    /// One listening socket of a TCP listener, on one I/O thread.
    struct tcp_port {
      explicit tcp_port(asio::io_context& c) : context(c), acceptor(c) {}
      asio::io_context& context;
      tcp::acceptor acceptor;
      tcp::endpoint peer; ///< filled by the pending accept
    };
    listener_options options;
    /// One per I/O thread, sharing the port (SO_REUSEPORT): the kernel spreads the connections
    /// over the threads and each connection stays on the thread that accepted it.
    std::vector<std::unique_ptr<tcp_port>> tcp_ports;
    std::optional<unix_proto::acceptor> unix_acceptor;
    accept_handler on_accept;
    /// Connections of this listener (handshaking or open); shared with each connection's slot.
    std::shared_ptr<std::atomic<std::size_t>> open;
    /// Whether its accepted sockets come with the listening sockets' TCP_NODELAY (-1: not
    /// known yet).
    std::atomic<int> nodelay_inherited{-1};
  };

  explicit impl(transport_options opts) : options(std::move(opts)), pool(options.pool) {
    own_pool = !pool;
    if (own_pool)
      pool = std::make_shared<io_pool>(options.io_threads);
    options.io_threads = pool->size();
    watch_timer = std::make_unique<asio::steady_timer>(first_context());
  }

  asio::io_context& first_context() { return pool->context(0); }
  asio::io_context& next_context() { return pool->next(); }

  void event(event_level level, std::string_view msg, std::string_view listener,
             std::string_view detail) {
    if (options.on_event)
      options.on_event(transport_event{level, msg, listener, {}, detail});
  }

  // -- accepting ------------------------------------------------------------------

  void accept_tcp(listener& l, listener::tcp_port& p) {
    // The connection's socket is on the acceptor's thread, where this handler runs. The peer's
    // address comes with the accept (no getpeername() per connection).
    auto on_accepted = [this, &l, &p](boost::system::error_code ec, auto sock) {
      if (ec == asio::error::operation_aborted || !p.acceptor.is_open())
        return;
      if (ec) {
        pause_on_error(l, p.acceptor.get_executor(), ec, [this, &l, &p] {
          if (p.acceptor.is_open())
            accept_tcp(l, p);
        });
        return;
      }
      on_tcp_accepted(l, std::move(sock), p.peer);
      accept_tcp(l, p);
    };
    if (l.options.kind == listener_kind::tcp) {
      p.acceptor.async_accept(p.context.get_executor(), p.peer,
                              [on_accepted](boost::system::error_code ec, plain_tcp_socket sock) {
                                on_accepted(ec, std::move(sock));
                              });
    } else {
      // TLS and WebSocket handshakes run on tcp::socket.
      p.acceptor.async_accept(p.peer,
                              [on_accepted](boost::system::error_code ec, tcp::socket sock) {
                                on_accepted(ec, std::move(sock));
                              });
    }
  }

  void accept_unix(listener& l) {
    l.unix_acceptor->async_accept(
      next_context(), [this, &l](boost::system::error_code ec, unix_proto::socket sock) {
        if (ec == asio::error::operation_aborted || !l.unix_acceptor->is_open())
          return;
        if (ec) {
          pause_on_error(l, l.unix_acceptor->get_executor(), ec, [this, &l] {
            if (l.unix_acceptor->is_open())
              accept_unix(l);
          });
          return;
        }
        on_unix_accepted(l, std::move(sock));
        accept_unix(l);
      });
  }

  /// Accept failed (e.g. out of file descriptors): retry a little later, on the acceptor's
  /// thread, instead of spinning.
  template <class Executor, class Retry>
  void pause_on_error(listener& l, const Executor& exec, const boost::system::error_code& ec,
                      Retry retry) {
    event(event_level::warn, "accept failed", l.options.name, ec.message());
    auto timer = std::make_shared<asio::steady_timer>(exec, std::chrono::milliseconds{100});
    timer->async_wait([timer, retry](boost::system::error_code wait_ec) {
      if (!wait_ec)
        retry();
    });
  }

  /// TCP_NODELAY on an accepted socket. The listening sockets have it set and Linux copies it
  /// to the sockets they accept: the listener's first accepted socket checks that once, and if
  /// it is not so, every socket gets its own setsockopt().
  template <class Socket>
  void set_no_delay(listener& l, Socket& sock) {
    boost::system::error_code ec;
    int inherited = l.nodelay_inherited.load(std::memory_order_relaxed);
    if (inherited < 0) {
      tcp::no_delay current;
      sock.get_option(current, ec);
      inherited = !ec && current.value() ? 1 : 0;
      l.nodelay_inherited.store(inherited, std::memory_order_relaxed);
    }
    if (inherited == 0)
      sock.set_option(tcp::no_delay(true), ec);
  }

  /// Takes a connection slot of `l`, or returns an empty one if the listener is full.
  detail::connection_slot take_slot(listener& l) {
    if (l.options.max_connections > 0 && l.open->load() >= l.options.max_connections)
      return {};
    return detail::connection_slot{l.open};
  }

  detail::link_config make_config() const {
    return detail::link_config{options.max_packet_size, options.connect_timeout,
                               options.max_write_buffer / 2, options.max_outstanding_batches,
                               options.read_buffer_size};
  }

  /// Registers a link whose handshake (if any) is done, asks the listener's accept handler for
  /// its handler and starts it. Runs on the link's I/O thread.
  void ready(listener& l, std::shared_ptr<detail::link_base> link) {
    links.add(link->id(), link);
    auto handler = l.on_accept(link);
    link->start(std::move(handler)); // a null handler closes the link
  }

  detail::link_info make_info(listener& l, detail::connection_slot slot, std::string ip,
                              std::string address) {
    detail::link_info info;
    info.id = next_id.fetch_add(1, std::memory_order_relaxed);
    info.listener = l.options.name;
    info.ip = std::move(ip);
    info.address = std::move(address);
    info.slot = std::move(slot);
    info.on_finish = [this](std::uint64_t link_id) { links.remove(link_id); };
    return info;
  }

  template <class Socket>
  void on_tcp_accepted(listener& l, Socket sock, const tcp::endpoint& ep) {
    boost::system::error_code ec;
    auto slot = take_slot(l);
    if (!slot) {
      sock.close(ec); // per-listener connection limit
      metrics::events().connects_refused.add("listener_full");
      event(event_level::debug, "connection refused: listener full", l.options.name,
            ep.address().to_string());
      return;
    }
    set_no_delay(l, sock);
    auto ip = detail::ip_to_string(ep.address());
    auto info = make_info(l, std::move(slot), ip, detail::format_address(ip, ep.port()));
    auto deadline = std::chrono::steady_clock::now() + options.connect_timeout;
    // Already on the socket's own I/O thread (the acceptor's).
    auto kind = l.options.kind;
    if constexpr (std::is_same_v<Socket, plain_tcp_socket>) {
      info.fresh_socket = true; // accepted in this handler, started in it too (ready())
      ready(l, detail::make_link(std::move(sock), std::move(info), make_config()));
    } else {
      accept_secured(l, kind, std::move(sock), std::move(info), deadline);
    }
  }

  /// TLS and WebSocket listeners: the handshake first, then ready().
  void accept_secured(listener& l, listener_kind kind, tcp::socket sock, detail::link_info info,
                      std::chrono::steady_clock::time_point deadline) {
    auto* lp = &l;
    detail::pending_conn conn;
    conn.info = std::move(info);
    conn.cfg = make_config();
    conn.deadline = deadline;
    conn.ready = [this, lp](std::shared_ptr<detail::link_base> link) {
      ready(*lp, std::move(link));
    };
    conn.on_event = options.on_event;
    detail::ssl_context_ptr ctx;
    if (kind == listener_kind::tls || kind == listener_kind::wss) {
      ctx = tls ? tls->current() : nullptr;
      if (!ctx)
        return; // configure_tls() was not called; add_listener refuses that, so unreachable
    }
    if (kind == listener_kind::tls)
      detail::accept_tls(std::move(sock), std::move(ctx), std::move(conn));
    else
      detail::accept_ws(std::move(sock), std::move(ctx), l.options.ws_path, std::move(conn));
  }

  void on_unix_accepted(listener& l, unix_proto::socket sock) {
    auto slot = take_slot(l);
    if (!slot) {
      boost::system::error_code ec;
      sock.close(ec);
      event(event_level::debug, "connection refused: listener full", l.options.name, "");
      metrics::events().connects_refused.add("listener_full");
      return;
    }
    auto info = make_info(l, std::move(slot), "", "unix:" + l.options.socket_path);
    auto exec = sock.get_executor();
    auto* lp = &l;
    asio::post(exec, [this, lp, sock = std::move(sock), info = std::move(info)]() mutable {
      ready(*lp, detail::make_link(std::move(sock), std::move(info), make_config()));
    });
  }

  // -- certificate rotation --------------------------------------------------------

  void reload_tls_now(const char* why) {
    std::string error;
    if (tls->load(error)) {
      auto serial = tls->serial();
      event(event_level::info, "tls certificate reloaded", why,
            tls->describe() + " serial=" + serial);
    } else {
      event(event_level::warn, "tls reload failed, keeping the previous certificate", why,
            error);
    }
  }

  void watch_tls() {
    if (!tls || tls->options().watch_interval.count() <= 0)
      return;
    watch_timer->expires_after(tls->options().watch_interval);
    watch_timer->async_wait([this](boost::system::error_code ec) {
      if (ec || stopping)
        return;
      if (tls->files_changed())
        reload_tls_now("file-change");
      watch_tls();
    });
  }

  transport_options options;
  /// The I/O threads (declared first: the sockets below need its contexts until they go).
  std::shared_ptr<io_pool> pool;
  bool own_pool = false; ///< made here (no pool in the options): stop() ends its threads
  bool started = false;
  std::vector<std::unique_ptr<listener>> listeners;
  std::unique_ptr<detail::tls_store> tls;
  std::unique_ptr<asio::steady_timer> watch_timer; // file-change polling for TLS rotation
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> next_id{1};
  /// Every open link, for close_all() and connection_count().
  detail::basic_link_table<detail::link_base> links;
};

server::server(transport_options options) : impl_(std::make_unique<impl>(std::move(options))) {}

server::~server() {
  stop();
}

bool server::configure_tls(const tls_options& options, std::string& error) {
  auto store = std::make_unique<detail::tls_store>(options);
  if (!store->load(error))
    return false;
  impl_->tls = std::move(store);
  return true;
}

bool server::reload_tls(std::string& error) {
  if (!impl_->tls) {
    error = "TLS is not configured";
    return false;
  }
  if (!impl_->tls->load(error)) {
    impl_->event(event_level::warn, "tls reload failed, keeping the previous certificate",
                 "sighup", error);
    return false;
  }
  impl_->event(event_level::info, "tls certificate reloaded", "sighup",
               impl_->tls->describe() + " serial=" + impl_->tls->serial());
  return true;
}

int server::add_tcp_listener(const listener_options& options, accept_handler on_accept,
                             std::string& error) {
  auto o = options;
  o.kind = listener_kind::tcp;
  return add_listener(o, std::move(on_accept), error);
}

int server::add_listener(const listener_options& options, accept_handler on_accept,
                         std::string& error) {
  boost::system::error_code ec;
  auto l = std::make_unique<impl::listener>(options, std::move(on_accept));
  if (options.kind == listener_kind::unix_socket) {
    if (options.socket_path.empty()) {
      error = "no path given for the Unix-domain socket";
      return -1;
    }
    // A socket file left by an earlier run would make bind fail; anything else is kept.
    struct stat st {};
    if (::lstat(options.socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
      ::unlink(options.socket_path.c_str());
    auto& acc = l->unix_acceptor.emplace(impl_->first_context());
    unix_proto::endpoint ep{options.socket_path};
    acc.open(ep.protocol(), ec);
    if (!ec)
      acc.bind(ep, ec);
    if (!ec)
      acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error = "cannot listen on " + options.socket_path + ": " + ec.message();
      return -1;
    }
    impl_->accept_unix(*l);
    impl_->listeners.push_back(std::move(l));
    return 0;
  }
  if ((options.kind == listener_kind::tls || options.kind == listener_kind::wss) && !impl_->tls) {
    error = "listener '" + options.name + "' needs TLS, but no certificate is configured";
    return -1;
  }
  auto addr = asio::ip::make_address(options.host, ec);
  if (ec) {
    error = "invalid address '" + options.host + "': " + ec.message();
    return -1;
  }
  tcp::endpoint ep{addr, static_cast<std::uint16_t>(options.port)};
  auto fail = [&](const boost::system::error_code& why) {
    error = "cannot listen on " + options.host + ":" + std::to_string(options.port) + ": "
            + why.message();
    return -1;
  };
  const std::size_t n = impl_->pool->size();
  if (n > 1) {
    // The sockets of one listener share the port through SO_REUSEPORT, which another process
    // of the same user could join too (a second broker started on the same port would silently
    // get half of the connections). So first take the port without SO_REUSEPORT: that fails
    // if anything holds it (and picks the port when 0 was asked for), then hand it over.
    tcp::acceptor probe{impl_->first_context()};
    probe.open(ep.protocol(), ec);
    if (!ec)
      probe.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
      probe.bind(ep, ec);
    if (ec)
      return fail(ec);
    ep.port(probe.local_endpoint().port());
    probe.close(ec);
  }
  for (std::size_t i = 0; i < n; ++i) {
    auto p = std::make_unique<impl::listener::tcp_port>(impl_->pool->context(i));
    auto& acc = p->acceptor;
    acc.open(ep.protocol(), ec);
    if (!ec)
      acc.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && n > 1)
      acc.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
    if (!ec) {
      boost::system::error_code ignored; // (then each accepted socket sets it)
      acc.set_option(tcp::no_delay(true), ignored);
    }
    if (!ec)
      acc.bind(ep, ec);
    if (!ec)
      acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return fail(ec); // the ports opened so far close with `l`
    ep.port(acc.local_endpoint().port());
    l->tcp_ports.push_back(std::move(p));
  }
  int port = ep.port();
  for (auto& p : l->tcp_ports)
    impl_->accept_tcp(*l, *p);
  impl_->listeners.push_back(std::move(l));
  return port;
}

void server::start() {
  impl_->started = true;
  impl_->watch_tls();
  impl_->pool->start();
}

void server::stop_accepting() {
  impl_->stopping = true;
  asio::post(impl_->first_context(), [d = impl_.get()] { d->watch_timer->cancel(); });
  for (auto& l : impl_->listeners) {
    for (auto& p : l->tcp_ports) // each on its own thread
      asio::post(p->acceptor.get_executor(), [pp = p.get()] {
        boost::system::error_code ec;
        pp->acceptor.close(ec);
      });
    asio::post(impl_->first_context(), [lp = l.get()] {
      boost::system::error_code ec;
      if (lp->unix_acceptor) {
        lp->unix_acceptor->close(ec);
        ::unlink(lp->options.socket_path.c_str());
      }
    });
  }
}

void server::close_all() {
  for (auto& l : impl_->links.all())
    l->shutdown();
}

void server::stop() {
  if (!impl_->started)
    return;
  impl_->started = false;
  if (!impl_->own_pool) {
    // The threads are shared (the broker's actors run on them) and go on: close the acceptors
    // on them, and keep the listeners until the server goes (their handlers may be queued).
    stop_accepting();
    impl_->pool->barrier();
    return;
  }
  impl_->stopping = true;
  impl_->pool->stop();
  for (auto& l : impl_->listeners)
    if (l->unix_acceptor)
      ::unlink(l->options.socket_path.c_str());
  impl_->listeners.clear();
}

std::size_t server::connection_count() const noexcept {
  return impl_->links.size();
}

const transport_options& server::options() const noexcept {
  return impl_->options;
}

} // namespace colony::transport
