// Outbound HTTP/1.1 client: see http_client.h for the contract.
//
// Shape: one Pool per (scheme, host, port). A request (an Exchange) waits in
// its pool's FIFO queue until it gets a connection: an idle one (reused), or
// a new one when fewer than max_connections_per_host are open. The exchange
// then owns the connection until the answer is read; afterwards the
// connection goes back to the idle list (keep-alive) or is closed.
//
// Lifetime: every pending handler holds a shared_ptr to Impl, so destroying
// the HttpClient never frees state an operation still uses; shutdown() closes
// every socket and cancels every timer so those handlers finish promptly.
// Everything runs on the io_context's one thread: no locks.
#include "net/http_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/asio/write.hpp>
#include <boost/url/parse.hpp>
#include <deque>
#include <exception>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace treeflow::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kShuttingDown = "client shutting down";
// Response header block limit (Beast's default of 8 KiB is tight for cookies).
constexpr std::uint32_t kResponseHeaderBytesMax = 64 * 1024;

// Where a URL points, as the pool and the request line need it.
struct Target {
  bool tls = false;
  std::string host;         // for the resolver, SNI and certificate checks
  std::string port;         // decimal
  std::string host_header;  // host[:port] as sent in Host
  std::string path;         // origin-form request target: path[?query]
  std::string pool_key;     // scheme://host:port
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool is_field_value(std::string_view s) {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

// Returns an error message, empty on success.
std::string parse_target(std::string_view url, Target& t) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return "invalid URL '" + std::string(url) + "': " + parsed.error().message();
  const boost::urls::url_view& u = *parsed;
  if (u.scheme_id() == boost::urls::scheme::http) {
    t.tls = false;
  } else if (u.scheme_id() == boost::urls::scheme::https) {
    t.tls = true;
  } else {
    return "unsupported URL scheme '" + std::string(u.scheme()) + "' (only http and https)";
  }
  if (!u.has_authority() || u.encoded_host().empty()) {
    return "invalid URL '" + std::string(url) + "': no host";
  }
  t.host = u.host_address();  // IPv6 without brackets
  std::uint16_t port = t.tls ? 443 : 80;
  if (u.has_port() && !u.port().empty()) {
    if (u.port_number() == 0) return "invalid URL '" + std::string(url) + "': bad port";
    port = u.port_number();
  }
  t.port = std::to_string(port);
  t.host_header = u.encoded_host();
  if (port != (t.tls ? 443 : 80)) t.host_header += ":" + t.port;
  t.path = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
  if (u.has_query()) {
    t.path += '?';
    t.path += u.encoded_query();
  }
  t.pool_key = (t.tls ? "https://" : "http://") + t.host + ":" + t.port;
  return {};
}

// Errors that mean "the server had already closed this keep-alive connection"
// when they happen before any byte of the answer.
bool is_stale_connection_error(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == asio::error::not_connected || ec == http::error::end_of_stream ||
         ec == ssl::error::stream_truncated;
}

struct Conn;
struct Pool;

// One request from send() to `done`.
struct Exchange {
  explicit Exchange(asio::io_context& io) : deadline_timer(io) {}

  std::function<void(OutboundResult)> done;
  std::string wire;          // the whole request as sent (head and body)
  bool close_after = false;  // the request said Connection: close
  std::optional<http::response_parser<http::string_body>> parser;
  asio::steady_timer deadline_timer;
  Clock::time_point start;
  std::chrono::milliseconds deadline{0};
  std::size_t max_response_bytes = 0;
  Pool* pool = nullptr;
  std::shared_ptr<Conn> conn;  // while the exchange owns a connection
  bool finished = false;       // `done` was called (or posted)
  bool reused = false;         // the current connection served earlier requests
  bool retried = false;        // already retried once on a fresh connection
  bool head = false;           // HEAD: the answer has no body
};

struct Conn {
  Conn(asio::io_context& io, Pool& p) : pool(&p), socket(io), idle_timer(io) {}

  tcp::socket& lowest() { return tls ? tls->next_layer() : socket; }

  enum class State { connecting, busy, idle, closed };

  Pool* pool;
  tcp::socket socket;  // plain; moved into `tls` for https
  std::optional<ssl::stream<tcp::socket>> tls;
  asio::steady_timer idle_timer;
  beast::flat_buffer buffer;  // read buffer, kept across requests
  State state = State::connecting;
  Clock::time_point idle_since;
  bool idle_timer_armed = false;
  std::shared_ptr<Exchange> ex;  // the exchange using it (busy/connecting)
};

struct Pool {
  explicit Pool(asio::io_context& io) : resolver(io) {}

  bool tls = false;
  std::string host;
  std::string port;
  tcp::resolver resolver;
  tcp::resolver::results_type endpoints;     // cached; empty = resolve first
  std::vector<std::shared_ptr<Conn>> conns;  // every open or opening connection
  std::vector<std::shared_ptr<Conn>> idle;   // subset; most recently used last
  std::deque<std::shared_ptr<Exchange>> queue;
};

OutboundResult error_result(std::string error) {
  OutboundResult r;
  r.error = std::move(error);
  return r;
}

}  // namespace

struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  Impl(asio::io_context& io_context, HttpClientOptions opts)
      : io(io_context), options(std::move(opts)), ssl_ctx(ssl::context::tls_client) {
    if (options.max_connections_per_host == 0) options.max_connections_per_host = 1;
    error_code ec;
    if (options.verify_tls) {
      ssl_ctx.set_default_verify_paths(ec);
      if (ec) ssl_ctx_error = "cannot load the system CA certificates: " + ec.message();
      if (!options.ca_file.empty()) {
        ssl_ctx.load_verify_file(options.ca_file, ec);
        if (ec) ssl_ctx_error = "cannot load ca_file '" + options.ca_file + "': " + ec.message();
      }
    }
  }

  void send(OutboundRequest&& request, std::function<void(OutboundResult)>&& done);
  void shutdown();

  Pool& pool_for(const Target& t);
  // The parsed URL and its pool, from a small cache: most requests go to a
  // few URLs, and parsing one costs as much as the rest of send().
  const std::pair<Target, Pool*>* target_for(const std::string& url, std::string& error);
  void pump(Pool& pool);
  void start_on(const std::shared_ptr<Conn>& conn, const std::shared_ptr<Exchange>& ex);
  void open_conn(Pool& pool, const std::shared_ptr<Exchange>& ex);
  void connect(const std::shared_ptr<Conn>& conn, const std::shared_ptr<Exchange>& ex);
  void on_connected(const std::shared_ptr<Conn>& conn, const std::shared_ptr<Exchange>& ex,
                    const error_code& ec);
  void on_handshake(const std::shared_ptr<Conn>& conn, const std::shared_ptr<Exchange>& ex,
                    const error_code& ec);
  void write(const std::shared_ptr<Conn>& conn, const std::shared_ptr<Exchange>& ex);
  void read(const std::shared_ptr<Conn>& conn, const std::shared_ptr<Exchange>& ex);
  void on_read(const std::shared_ptr<Conn>& conn, const std::shared_ptr<Exchange>& ex,
               const error_code& ec);
  void io_failed(const std::shared_ptr<Conn>& conn, const std::shared_ptr<Exchange>& ex,
                 std::string_view what, const error_code& ec);
  void fail_conn(const std::shared_ptr<Conn>& conn, const std::shared_ptr<Exchange>& ex,
                 std::string error);
  void release(const std::shared_ptr<Conn>& conn);
  void discard(const std::shared_ptr<Conn>& conn, bool pump_after);
  void arm_idle_timer(const std::shared_ptr<Conn>& conn);
  void on_deadline(const std::shared_ptr<Exchange>& ex);
  void finish(const std::shared_ptr<Exchange>& ex, OutboundResult result, bool post = false);

  asio::io_context& io;
  HttpClientOptions options;
  ssl::context ssl_ctx;
  std::string ssl_ctx_error;  // non-empty: https requests fail with it
  std::unordered_map<std::string, std::unique_ptr<Pool>> pools;
  std::unordered_map<std::string, std::pair<Target, Pool*>> targets;  // by URL; see target_for
  HttpClientStats stats;
  bool shutting_down = false;
};

void HttpClient::Impl::send(OutboundRequest&& request, std::function<void(OutboundResult)>&& done) {
  auto ex = std::make_shared<Exchange>(io);
  ex->start = Clock::now();
  ex->done = std::move(done);
  ++stats.requests;
  if (shutting_down) return finish(ex, error_result(std::string(kShuttingDown)), true);
  try {
    std::string err;
    const auto* cached = target_for(request.url, err);
    if (!cached) return finish(ex, error_result(std::move(err)), true);
    const Target& t = cached->first;
    if (t.tls && !ssl_ctx_error.empty()) return finish(ex, error_result(ssl_ctx_error), true);
    if (!is_token(request.method)) {
      return finish(ex, error_result("invalid HTTP method '" + request.method + "'"), true);
    }
    bool has_host = false;
    bool has_user_agent = false;
    std::size_t head_bytes = request.method.size() + t.path.size() + t.host_header.size() + 96 +
                             request.trusted_head.size();
    for (const auto& [name, value] : request.headers) {
      if (!is_token(name) || !is_field_value(value)) {
        return finish(ex, error_result("invalid header '" + name + "'"), true);
      }
      has_host = has_host || iequals(name, "host");
      has_user_agent = has_user_agent || iequals(name, "user-agent");
      head_bytes += name.size() + value.size() + 4;
    }

    // The request in one buffer, written with one call (Beast's serializer
    // costs more than the rest of the exchange on loopback).
    std::string& w = ex->wire;
    w.reserve(head_bytes + options.user_agent.size() + request.body.size());
    w.append(request.method).append(" ").append(t.path).append(" HTTP/1.1\r\n");
    if (!has_host) w.append("Host: ").append(t.host_header).append("\r\n");
    for (const auto& [name, value] : request.headers) {
      // The framing is the client's: it sets Content-Length from the body.
      if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) continue;
      if (iequals(name, "connection")) {
        std::string v(value);
        std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
        ex->close_after = ex->close_after || v.find("close") != std::string::npos;
      }
      w.append(name).append(": ").append(value).append("\r\n");
    }
    w.append(request.trusted_head);
    if (!has_user_agent && !options.user_agent.empty())
      w.append("User-Agent: ").append(options.user_agent).append("\r\n");
    // Content-Length for a body, and for an empty POST or PUT (as Beast's
    // prepare_payload); none for an empty GET.
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "OPTIONS")
      w.append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n");
    w.append("\r\n").append(request.body);
    ex->head = request.method == "HEAD";

    ex->deadline = request.deadline;
    ex->max_response_bytes = request.max_response_bytes;
    Pool& pool = *cached->second;
    ex->pool = &pool;
    ex->deadline_timer.expires_after(request.deadline);
    ex->deadline_timer.async_wait([self = shared_from_this(), ex](const error_code& ec) {
      if (!ec) self->on_deadline(ex);
    });
    pool.queue.push_back(ex);
    pump(pool);
  } catch (const std::exception& e) {
    finish(ex, error_result(std::string("cannot send request: ") + e.what()), true);
  }
}

const std::pair<Target, Pool*>* HttpClient::Impl::target_for(const std::string& url,
                                                            std::string& error) {
  if (auto it = targets.find(url); it != targets.end()) return &it->second;
  Target t;
  error = parse_target(url, t);
  if (!error.empty()) return nullptr;
  if (targets.size() >= 1024) targets.clear();  // bounded: URLs with item queries are unique
  Pool& pool = pool_for(t);
  return &targets.emplace(url, std::pair<Target, Pool*>{std::move(t), &pool}).first->second;
}

Pool& HttpClient::Impl::pool_for(const Target& t) {
  auto it = pools.find(t.pool_key);
  if (it != pools.end()) return *it->second;
  auto pool = std::make_unique<Pool>(io);
  pool->tls = t.tls;
  pool->host = t.host;
  pool->port = t.port;
  return *pools.emplace(t.pool_key, std::move(pool)).first->second;
}

// Hands queued exchanges the connections they may have, oldest first.
void HttpClient::Impl::pump(Pool& pool) {
  while (!pool.queue.empty() && !shutting_down) {
    std::shared_ptr<Exchange> ex = pool.queue.front();
    if (ex->finished) {  // its deadline passed while it waited
      pool.queue.pop_front();
      continue;
    }
    if (!pool.idle.empty()) {
      std::shared_ptr<Conn> conn = std::move(pool.idle.back());
      pool.idle.pop_back();
      pool.queue.pop_front();
      ++stats.connections_reused;
      ex->reused = true;
      start_on(conn, ex);
      continue;
    }
    if (pool.conns.size() < options.max_connections_per_host) {
      pool.queue.pop_front();
      open_conn(pool, ex);
      continue;
    }
    break;
  }
}

void HttpClient::Impl::start_on(const std::shared_ptr<Conn>& conn,
                                const std::shared_ptr<Exchange>& ex) {
  conn->state = Conn::State::busy;
  conn->ex = ex;
  ex->conn = conn;
  write(conn, ex);
}

void HttpClient::Impl::open_conn(Pool& pool, const std::shared_ptr<Exchange>& ex) {
  auto conn = std::make_shared<Conn>(io, pool);
  pool.conns.push_back(conn);
  conn->ex = ex;
  ex->conn = conn;
  ex->reused = false;
  if (!pool.endpoints.empty()) return connect(conn, ex);
  pool.resolver.async_resolve(pool.host, pool.port, tcp::resolver::numeric_service,
                              [self = shared_from_this(), conn, ex](
                                  const error_code& ec, tcp::resolver::results_type results) {
                                if (conn->state == Conn::State::closed)
                                  return;  // deadline or shutdown
                                if (ec) {
                                  return self->fail_conn(
                                      conn, ex,
                                      "cannot resolve " + conn->pool->host + ": " + ec.message());
                                }
                                conn->pool->endpoints = std::move(results);
                                self->connect(conn, ex);
                              });
}

void HttpClient::Impl::connect(const std::shared_ptr<Conn>& conn,
                               const std::shared_ptr<Exchange>& ex) {
  asio::async_connect(
      conn->socket, conn->pool->endpoints,
      [self = shared_from_this(), conn, ex](const error_code& ec, const tcp::endpoint&) {
        self->on_connected(conn, ex, ec);
      });
}

void HttpClient::Impl::on_connected(const std::shared_ptr<Conn>& conn,
                                    const std::shared_ptr<Exchange>& ex, const error_code& ec) {
  if (conn->state == Conn::State::closed) return;
  Pool& pool = *conn->pool;
  if (ec) {
    pool.endpoints = {};  // the address may have changed: resolve again next time
    return fail_conn(conn, ex,
                     "cannot connect to " + pool.host + ":" + pool.port + ": " + ec.message());
  }
  ++stats.connections_opened;
  error_code ignored;
  conn->socket.set_option(tcp::no_delay(true), ignored);
  if (!pool.tls) {
    conn->state = Conn::State::busy;
    return write(conn, ex);
  }
  conn->tls.emplace(std::move(conn->socket), ssl_ctx);
  if (options.verify_tls) {
    conn->tls->set_verify_mode(ssl::verify_peer, ignored);
    conn->tls->set_verify_callback(ssl::host_name_verification(pool.host), ignored);
  } else {
    conn->tls->set_verify_mode(ssl::verify_none, ignored);
  }
  asio::ip::make_address(pool.host, ignored);
  if (ignored) {  // SNI carries names only, never IP literals (RFC 6066)
    SSL_set_tlsext_host_name(conn->tls->native_handle(), pool.host.c_str());
  }
  conn->tls->async_handshake(ssl::stream_base::client,
                             [self = shared_from_this(), conn, ex](const error_code& hec) {
                               self->on_handshake(conn, ex, hec);
                             });
}

void HttpClient::Impl::on_handshake(const std::shared_ptr<Conn>& conn,
                                    const std::shared_ptr<Exchange>& ex, const error_code& ec) {
  if (conn->state == Conn::State::closed) return;
  if (!ec) {
    conn->state = Conn::State::busy;
    return write(conn, ex);
  }
  const std::string& host = conn->pool->host;
  long verify = SSL_get_verify_result(conn->tls->native_handle());
  bool verify_failed =
      verify != X509_V_OK ||
      (ec.category() == asio::error::get_ssl_category() &&
       ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED);
  if (verify_failed) {
    std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify)
                                          : "the certificate does not match the host name";
    return fail_conn(conn, ex, "TLS certificate verification failed for " + host + ": " + why);
  }
  fail_conn(conn, ex, "TLS handshake with " + host + " failed: " + ec.message());
}

void HttpClient::Impl::write(const std::shared_ptr<Conn>& conn,
                             const std::shared_ptr<Exchange>& ex) {
  auto on_written = [self = shared_from_this(), conn, ex](const error_code& ec, std::size_t) {
    if (conn->state == Conn::State::closed || ex->finished) return;
    if (ec) return self->io_failed(conn, ex, "write", ec);
    self->read(conn, ex);
  };
  if (conn->tls) {
    asio::async_write(*conn->tls, asio::buffer(ex->wire), std::move(on_written));
  } else {
    asio::async_write(conn->socket, asio::buffer(ex->wire), std::move(on_written));
  }
}

void HttpClient::Impl::read(const std::shared_ptr<Conn>& conn,
                            const std::shared_ptr<Exchange>& ex) {
  auto& parser = ex->parser.emplace();
  parser.body_limit(ex->max_response_bytes);
  parser.header_limit(kResponseHeaderBytesMax);
  if (ex->head) parser.skip(true);
  auto on_read = [self = shared_from_this(), conn, ex](const error_code& ec, std::size_t) {
    self->on_read(conn, ex, ec);
  };
  if (conn->tls) {
    http::async_read(*conn->tls, conn->buffer, parser, std::move(on_read));
  } else {
    http::async_read(conn->socket, conn->buffer, parser, std::move(on_read));
  }
}

void HttpClient::Impl::on_read(const std::shared_ptr<Conn>& conn,
                               const std::shared_ptr<Exchange>& ex, const error_code& ec) {
  if (conn->state == Conn::State::closed || ex->finished) return;
  auto& parser = *ex->parser;
  if (ec == http::error::body_limit) {
    OutboundResult r;
    r.status = parser.is_header_done() ? parser.get().result_int() : 0;
    r.error = "response body exceeds " + std::to_string(ex->max_response_bytes) + " bytes";
    discard(conn, true);
    return finish(ex, std::move(r));
  }
  if (ec) return io_failed(conn, ex, "read", ec);

  auto& res = parser.get();
  int status = res.result_int();
  if (status >= 100 && status < 200 && status != 101) {  // interim answer: read the real one
    ex->retried = true;  // bytes arrived: the request reached the server, never resend it
    return read(conn, ex);
  }

  OutboundResult r;
  r.status = status;
  r.headers.reserve(static_cast<std::size_t>(std::distance(res.begin(), res.end())));
  for (const auto& field : res) {
    r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  r.body = std::move(res.body());
  bool keep_alive = status != 101 && res.keep_alive() && !ex->close_after;
  ex->conn.reset();
  if (keep_alive) {
    release(conn);
  } else {
    discard(conn, true);
  }
  finish(ex, std::move(r));
}

void HttpClient::Impl::io_failed(const std::shared_ptr<Conn>& conn,
                                 const std::shared_ptr<Exchange>& ex, std::string_view what,
                                 const error_code& ec) {
  bool nothing_received = !ex->parser || (!ex->parser->got_some() && conn->buffer.size() == 0);
  if (ex->reused && !ex->retried && nothing_received && is_stale_connection_error(ec)) {
    // The server closed this idle keep-alive connection before our request
    // reached it: nothing was processed, so try once more on a new connection.
    // The freed slot goes to this exchange, not to the queue.
    Pool& pool = *conn->pool;
    discard(conn, false);
    ex->retried = true;
    ex->parser.reset();
    return open_conn(pool, ex);
  }
  fail_conn(conn, ex,
            std::string(what) + " failed on " + conn->pool->host + ":" + conn->pool->port + ": " +
                ec.message());
}

void HttpClient::Impl::fail_conn(const std::shared_ptr<Conn>& conn,
                                 const std::shared_ptr<Exchange>& ex, std::string error) {
  discard(conn, true);
  finish(ex, error_result(std::move(error)));
}

// A connection whose exchange is over and that may serve the next one.
void HttpClient::Impl::release(const std::shared_ptr<Conn>& conn) {
  conn->ex.reset();
  if (shutting_down) return discard(conn, false);
  conn->state = Conn::State::idle;
  conn->idle_since = Clock::now();
  conn->pool->idle.push_back(conn);
  arm_idle_timer(conn);
  pump(*conn->pool);
}

void HttpClient::Impl::discard(const std::shared_ptr<Conn>& conn, bool pump_after) {
  if (conn->state == Conn::State::closed) return;
  bool was_idle = conn->state == Conn::State::idle;
  conn->state = Conn::State::closed;
  error_code ignored;
  conn->lowest().close(ignored);  // pending operations complete with operation_aborted
  if (conn->idle_timer_armed) conn->idle_timer.cancel();
  if (conn->ex) {
    conn->ex->conn.reset();
    conn->ex.reset();
  }
  Pool& pool = *conn->pool;
  std::erase(pool.conns, conn);
  if (was_idle) std::erase(pool.idle, conn);
  if (pump_after) pump(pool);
}

// One timer per connection, armed lazily: it fires at most once per
// idle_timeout and re-arms itself only while the connection stays idle, so a
// busy connection costs no timer operation per request.
void HttpClient::Impl::arm_idle_timer(const std::shared_ptr<Conn>& conn) {
  if (conn->idle_timer_armed) return;
  conn->idle_timer_armed = true;
  conn->idle_timer.expires_at(conn->idle_since + options.idle_timeout);
  conn->idle_timer.async_wait([self = shared_from_this(), conn](const error_code& ec) {
    conn->idle_timer_armed = false;
    if (ec || conn->state != Conn::State::idle) return;  // busy: release() re-arms
    if (Clock::now() - conn->idle_since >= self->options.idle_timeout) {
      return self->discard(conn, false);
    }
    self->arm_idle_timer(conn);
  });
}

void HttpClient::Impl::on_deadline(const std::shared_ptr<Exchange>& ex) {
  if (ex->finished) return;
  if (std::shared_ptr<Conn> conn = ex->conn) {
    discard(conn, true);  // a half-done exchange leaves the connection unusable
  } else {
    std::string().swap(ex->wire);  // still queued: no operation uses the request; free it now
  }
  OutboundResult r;
  r.timed_out = true;
  r.error = "deadline of " + std::to_string(ex->deadline.count()) + " ms exceeded";
  finish(ex, std::move(r));
}

// Calls `done` exactly once. `post` defers it so that send() and shutdown()
// never run the caller's callback from inside themselves.
void HttpClient::Impl::finish(const std::shared_ptr<Exchange>& ex, OutboundResult result,
                              bool post) {
  if (ex->finished) return;
  ex->finished = true;
  ex->deadline_timer.cancel();
  ex->conn.reset();
  result.latency_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - ex->start).count();
  auto done = std::move(ex->done);
  if (!done) return;
  if (post) {
    asio::post(io,
               [done = std::move(done), r = std::move(result)]() mutable { done(std::move(r)); });
  } else {
    done(std::move(result));
  }
}

void HttpClient::Impl::shutdown() {
  if (shutting_down) return;
  shutting_down = true;
  for (auto& [key, pool] : pools) {
    pool->resolver.cancel();
    auto queue = std::move(pool->queue);
    pool->queue.clear();
    auto conns = pool->conns;
    for (auto& conn : conns) {
      std::shared_ptr<Exchange> ex = conn->ex;
      discard(conn, false);
      if (ex) finish(ex, error_result(std::string(kShuttingDown)), true);
    }
    for (auto& ex : queue) finish(ex, error_result(std::string(kShuttingDown)), true);
  }
}

HttpClient::HttpClient(asio::io_context& io, HttpClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

HttpClient::~HttpClient() {
  if (impl_) impl_->shutdown();
}

void HttpClient::send(OutboundRequest request, std::function<void(OutboundResult)> done) {
  impl_->send(std::move(request), std::move(done));
}

void HttpClient::shutdown() { impl_->shutdown(); }

HttpClientStats HttpClient::stats() const { return impl_->stats; }

}  // namespace treeflow::net
