// The built-in Beast server: async accept/read/write on a strand per
// connection, App::handle() called on the I/O thread, keep-alive.
#include "treeflow/server.h"

#include <condition_variable>
#include <csignal>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "util.h"

namespace treeflow {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(60);

tcp::endpoint parse_listen(const std::string& listen) {
  std::string host, port;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':')
      throw std::invalid_argument("treeflow: bad listen address \"" + listen +
                                  "\" (expected host:port, e.g. 127.0.0.1:9000)");
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos)
      throw std::invalid_argument("treeflow: bad listen address \"" + listen +
                                  "\" (expected host:port, e.g. 127.0.0.1:9000)");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  unsigned long p = 0;
  try {
    std::size_t used = 0;
    p = std::stoul(port, &used);
    if (used != port.size() || p > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    throw std::invalid_argument("treeflow: bad port in listen address \"" + listen + "\"");
  }
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec)
    throw std::invalid_argument("treeflow: bad host in listen address \"" + listen +
                                "\" (use an IP address)");
  return {addr, static_cast<unsigned short>(p)};
}

}  // namespace

class Session;

// The server's state (Server::Impl is private, Session needs it).
struct ServerState {
  const App& app;
  ServeOptions options;
  // Declared before io so that sessions destroyed with io's handlers can
  // still unregister.
  std::mutex mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::condition_variable stopped_cv;
  bool stopped = false;
  asio::io_context io;
  asio::strand<asio::io_context::executor_type> acceptor_strand{io.get_executor()};
  tcp::acceptor acceptor{acceptor_strand};
  std::uint16_t port = 0;
  std::vector<std::thread> threads;
  std::once_flag stop_once;

  ServerState(const App& a, ServeOptions o) : app(a), options(o) {}
  void do_accept();
  void stop();
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ServerState* owner)
      : stream_(std::move(socket)), owner_(owner) {}
  ~Session() {
    std::lock_guard lock(owner_->mu);
    owner_->sessions.erase(this);
  }

  void start() {
    {
      std::lock_guard lock(owner_->mu);
      owner_->sessions.emplace(this, weak_from_this());
    }
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

  // Posted onto the session's strand by Server::stop().
  void close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->stream_.socket().close(ignored);
    });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(owner_->options.max_body_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return shut();
    if (ec == http::error::body_limit)
      return send_error(413, "payload_too_large",
                        "request body is larger than " +
                            std::to_string(owner_->options.max_body_bytes) + " bytes");
    if (ec == http::error::header_limit)
      return send_error(431, "headers_too_large", "request headers are too large");
    if (ec && ec.category() == beast::http::make_error_code(http::error::bad_target).category())
      return send_error(400, "bad_request", "malformed HTTP request: " + ec.message());
    if (ec) return shut();

    auto& bq = parser_->get();
    HttpRequest rq;
    rq.method = std::string(bq.method_string());
    rq.target = std::string(bq.target());
    for (const auto& f : bq) rq.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    rq.body = std::move(bq.body());
    bool keep_alive = bq.keep_alive();
    unsigned version = bq.version();

    HttpResponse r = owner_->app.handle(rq);  // never throws
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version);
    res->result(static_cast<unsigned>(r.status));
    for (auto& [k, v] : r.headers) {
      if (sdk_detail::iequals(k, "Content-Length") || sdk_detail::iequals(k, "Transfer-Encoding") ||
          sdk_detail::iequals(k, "Connection"))
        continue;
      res->insert(k, v);
    }
    if (rq.method != "HEAD") res->body() = std::move(r.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    write(std::move(res));
  }

  void send_error(int status, const std::string& code, const std::string& message) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(status));
    res->set(http::field::content_type, "application/json");
    res->body() = sdk_detail::error_body(code, message);
    res->keep_alive(false);
    res->prepare_payload();
    write(std::move(res));
  }

  void write(std::shared_ptr<http::response<http::string_body>> res) {
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](error_code ec, std::size_t) {
                        if (ec || res->need_eof()) return self->shut();
                        self->do_read();
                      });
  }

  void shut() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  ServerState* owner_;
};

struct Server::Impl : ServerState {
  using ServerState::ServerState;
};

void ServerState::do_accept() {
  acceptor.async_accept(asio::make_strand(io), [this](error_code ec, tcp::socket socket) {
    if (!ec) std::make_shared<Session>(std::move(socket), this)->start();
    if (acceptor.is_open()) do_accept();
  });
}

void ServerState::stop() {
  std::call_once(stop_once, [this] {
    asio::post(acceptor_strand, [this] {
      error_code ignored;
      acceptor.close(ignored);
      std::vector<std::shared_ptr<Session>> live;
      {
        std::lock_guard lock(mu);
        for (auto& [p, w] : sessions)
          if (auto s = w.lock()) live.push_back(std::move(s));
      }
      for (auto& s : live) s->close();
    });
    for (auto& t : threads)
      if (t.joinable()) t.join();
    std::lock_guard lock(mu);
    stopped = true;
    stopped_cv.notify_all();
  });
}

Server::Server(const App& app, const std::string& listen, ServeOptions options)
    : impl_(std::make_unique<Impl>(app, options)) {
  if (impl_->options.threads < 1) impl_->options.threads = 1;
  tcp::endpoint ep = parse_listen(listen);
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol());
  acc.set_option(asio::socket_base::reuse_address(true));
  acc.bind(ep);
  acc.listen(asio::socket_base::max_listen_connections);
  impl_->port = acc.local_endpoint().port();
  impl_->do_accept();
  for (int i = 0; i < impl_->options.threads; ++i)
    impl_->threads.emplace_back([io = &impl_->io] { io->run(); });
}

Server::~Server() { stop(); }

std::uint16_t Server::port() const {
  return impl_->port;
}

void Server::stop() { impl_->stop(); }

void Server::wait() {
  std::unique_lock lock(impl_->mu);
  impl_->stopped_cv.wait(lock, [this] { return impl_->stopped; });
}

void serve(const App& app, const std::string& listen, ServeOptions options) {
  Server server(app, listen, options);
  std::cerr << "treeflow: serving on " << listen.substr(0, listen.rfind(':')) << ":"
            << server.port() << " (Ctrl-C to stop)\n";
  asio::io_context signals_io;
  asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([&](error_code, int) { server.stop(); });
  signals_io.run();
}

}  // namespace treeflow
