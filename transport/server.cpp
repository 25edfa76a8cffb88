#include "transport/server.hpp"

#include "transport/stream_link.hpp"

#include <boost/asio.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace colony::transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using tcp_link = detail::stream_link<tcp::socket>;

struct server::impl {
  struct listener {
    listener(listener_options o, tcp::acceptor a, accept_handler h)
      : options(std::move(o)), acceptor(std::move(a)), on_accept(std::move(h)) {}
    listener_options options;
    tcp::acceptor acceptor;
    accept_handler on_accept;
    std::atomic<std::size_t> open{0};
  };

  explicit impl(transport_options opts) : options(std::move(opts)) {
    if (options.io_threads == 0)
      options.io_threads = 1;
    for (std::size_t i = 0; i < options.io_threads; ++i) {
      contexts.push_back(std::make_unique<asio::io_context>(1));
      guards.emplace_back(asio::make_work_guard(*contexts.back()));
    }
  }

  asio::io_context& next_context() {
    auto i = next.fetch_add(1, std::memory_order_relaxed) % contexts.size();
    return *contexts[i];
  }

  void accept(listener& l) {
    l.acceptor.async_accept(next_context(),
                            [this, &l](boost::system::error_code ec, tcp::socket sock) {
                              if (ec == asio::error::operation_aborted || !l.acceptor.is_open())
                                return;
                              if (!ec)
                                on_accepted(l, std::move(sock));
                              accept(l);
                            });
  }

  void on_accepted(listener& l, tcp::socket sock) {
    boost::system::error_code ec;
    auto ep = sock.remote_endpoint(ec);
    if (ec)
      return;
    if (l.options.max_connections > 0 && l.open.load() >= l.options.max_connections) {
      sock.close(ec); // per-listener connection limit
      return;
    }
    sock.set_option(tcp::no_delay(true), ec);
    auto id = next_id.fetch_add(1, std::memory_order_relaxed);
    detail::link_config cfg{options.max_packet_size, options.connect_timeout,
                            options.max_write_buffer / 2, options.max_outstanding_batches,
                            options.read_buffer_size};
    auto* lp = &l;
    auto link = std::make_shared<tcp_link>(std::move(sock), id, l.options.name,
                                           ep.address().to_string(), ep.port(), cfg,
                                           [this, lp](std::uint64_t link_id) {
                                             lp->open.fetch_sub(1);
                                             std::lock_guard<std::mutex> g{mtx};
                                             links.erase(link_id);
                                           });
    l.open.fetch_add(1);
    {
      std::lock_guard<std::mutex> g{mtx};
      links.emplace(id, link);
    }
    auto handler = l.on_accept(link);
    if (!handler) {
      link->start(nullptr);
      link->shutdown();
      return;
    }
    link->start(std::move(handler));
  }

  transport_options options;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<listener>> listeners;
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> next_id{1};
  mutable std::mutex mtx;
  std::unordered_map<std::uint64_t, std::weak_ptr<tcp_link>> links;
};

server::server(transport_options options) : impl_(std::make_unique<impl>(std::move(options))) {}

server::~server() {
  stop();
}

int server::add_tcp_listener(const listener_options& options, accept_handler on_accept,
                             std::string& error) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(options.host, ec);
  if (ec) {
    error = "invalid address '" + options.host + "': " + ec.message();
    return -1;
  }
  auto l = std::make_unique<impl::listener>(options, tcp::acceptor(*impl_->contexts[0]),
                                            std::move(on_accept));
  tcp::endpoint ep{addr, static_cast<std::uint16_t>(options.port)};
  l->acceptor.open(ep.protocol(), ec);
  if (!ec)
    l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec)
    l->acceptor.bind(ep, ec);
  if (!ec)
    l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen on " + options.host + ":" + std::to_string(options.port) + ": "
            + ec.message();
    return -1;
  }
  int port = l->acceptor.local_endpoint().port();
  impl_->accept(*l);
  impl_->listeners.push_back(std::move(l));
  return port;
}

void server::start() {
  for (auto& ctx : impl_->contexts) {
    auto* c = ctx.get();
    impl_->threads.emplace_back([c] { c->run(); });
  }
}

void server::stop_accepting() {
  for (auto& l : impl_->listeners) {
    asio::post(l->acceptor.get_executor(), [lp = l.get()] {
      boost::system::error_code ec;
      lp->acceptor.close(ec);
    });
  }
}

void server::close_all() {
  std::vector<std::shared_ptr<tcp_link>> all;
  {
    std::lock_guard<std::mutex> g{impl_->mtx};
    for (auto& [id, weak] : impl_->links)
      if (auto l = weak.lock())
        all.push_back(std::move(l));
  }
  for (auto& l : all)
    l->shutdown();
}

void server::stop() {
  if (impl_->threads.empty())
    return;
  for (auto& g : impl_->guards)
    g.reset();
  for (auto& ctx : impl_->contexts)
    ctx->stop();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
  impl_->threads.clear();
  impl_->listeners.clear();
}

std::size_t server::connection_count() const noexcept {
  std::lock_guard<std::mutex> g{impl_->mtx};
  return impl_->links.size();
}

const transport_options& server::options() const noexcept {
  return impl_->options;
}

} // namespace colony::transport
