// A minimal synchronous HTTP/1.1 POST over Beast with a deadline; one
// io_context per call (never the caller's, so a Server handler cannot
// deadlock its own io_context).
#include "engine_client.h"

#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

namespace treeflow::sdk_detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

struct Call {
  asio::io_context io;
  tcp::resolver resolver{io};
  beast::tcp_stream stream{io};
  http::request<http::string_body> req;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  std::chrono::steady_clock::time_point deadline;
  std::string host, port;
  EngineReply reply;
  bool done = false;

  void fail(const char* stage, error_code ec) {
    if (done) return;
    done = true;
    if (ec == beast::error::timeout || ec == asio::error::operation_aborted)
      reply.error = std::string(stage) + ": timed out";
    else
      reply.error = std::string(stage) + ": " + ec.message();
  }
  std::chrono::steady_clock::duration remaining() const {
    auto r = deadline - std::chrono::steady_clock::now();
    return r.count() > 0 ? r : std::chrono::steady_clock::duration{1};
  }

  void start() {
    resolver.async_resolve(host, port, [this](error_code ec, tcp::resolver::results_type rs) {
      if (ec) return fail("resolve", ec);
      stream.expires_after(remaining());
      stream.async_connect(rs, [this](error_code ec2, const tcp::endpoint&) {
        if (ec2) return fail("connect", ec2);
        stream.expires_after(remaining());
        http::async_write(stream, req, [this](error_code ec3, std::size_t) {
          if (ec3) return fail("send", ec3);
          stream.expires_after(remaining());
          http::async_read(stream, buffer, parser, [this](error_code ec4, std::size_t) {
            if (ec4) return fail("read answer", ec4);
            done = true;
            reply.status = static_cast<int>(parser.get().result_int());
            reply.body = std::move(parser.get().body());
            error_code ignored;
            stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
          });
        });
      });
    });
  }
};

}  // namespace

EngineReply engine_post(const std::string& engine_url, const std::string& path,
                        const std::string& json_body, std::chrono::milliseconds timeout,
                        const std::string& token) {
  auto parsed = boost::urls::parse_uri(engine_url);
  if (!parsed) return {0, {}, "not a valid URL"};
  if (parsed->scheme() != "http")
    return {0, {}, "only http:// engine URLs are supported by the SDK"};
  if (parsed->host_address().empty()) return {0, {}, "the URL has no host"};

  Call c;
  c.host = parsed->host_address();
  c.port = parsed->has_port() ? std::string(parsed->port()) : "80";
  std::string base(parsed->encoded_path());
  while (!base.empty() && base.back() == '/') base.pop_back();
  c.req.method(http::verb::post);
  c.req.target(base + path);
  c.req.version(11);
  c.req.set(http::field::host, std::string(parsed->encoded_host_and_port()));
  c.req.set(http::field::user_agent, "treeflow-sdk/0.1");
  c.req.set(http::field::content_type, "application/json");
  c.req.set(http::field::accept, "application/json");
  if (!token.empty()) c.req.set(http::field::authorization, "Bearer " + token);
  c.req.body() = json_body;
  c.req.prepare_payload();
  c.parser.body_limit(8u << 20);
  c.deadline = std::chrono::steady_clock::now() + timeout;
  c.start();
  // The stream's own timers cover connect/write/read; this covers resolve.
  c.io.run_for(timeout + std::chrono::milliseconds(200));
  if (!c.done) {
    c.done = true;
    c.reply.error = "timed out after " + std::to_string(timeout.count()) + " ms";
    c.resolver.cancel();
    error_code ignored;
    c.stream.socket().close(ignored);
    c.io.restart();
    c.io.run();
  }
  return std::move(c.reply);
}

}  // namespace treeflow::sdk_detail
