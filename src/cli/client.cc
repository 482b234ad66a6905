#include "cli/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "core/envelope.h"

namespace treeflow::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

ApiReply call(const std::string& server, const std::string& method, const std::string& path,
              const std::string& body, int timeout_ms) {
  auto u = boost::urls::parse_uri(server);
  if (!u || u->scheme() != "http" || u->host().empty())
    throw std::runtime_error("--server \"" + server + "\": expected http://HOST:PORT");
  std::string host = u->host();
  std::string port = u->has_port() ? std::string(u->port()) : "80";
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto eps = resolver.resolve(host, port, ec);
  if (ec) throw std::runtime_error("cannot resolve " + host + ": " + ec.message());
  stream.connect(eps, ec);
  if (ec)
    throw std::runtime_error("cannot reach the engine at " + server + " (" + ec.message() +
                             "). Is `treeflow serve` running? Use --server or $TREEFLOW_SERVER.");
  http::request<http::string_body> req{http::string_to_verb(method), path, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "treeflow-cli");
  if (const char* tok = std::getenv("TREEFLOW_TOKEN"); tok && *tok)
    req.set(http::field::authorization, std::string("Bearer ") + tok);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) throw std::runtime_error("sending to " + server + " failed: " + ec.message());
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 << 20);
  http::read(stream, buf, parser, ec);
  if (ec) throw std::runtime_error("reading the answer of " + server + " failed: " + ec.message());
  auto& res = parser.get();
  ApiReply r;
  r.status = static_cast<int>(res.result_int());
  json::value v = core::parse_json(res.body(), ec);
  r.body = ec ? json::value(json::string(res.body())) : v;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return r;
}

std::string error_message(const ApiReply& r) {
  if (auto* o = r.body.if_object())
    if (auto* e = o->if_contains("error"))
      if (auto* eo = e->if_object())
        if (auto* m = eo->if_contains("message"); m && m->is_string())
          return std::string(m->as_string());
  if (auto* s = r.body.if_string()) return std::string(*s);
  return "HTTP " + std::to_string(r.status);
}

}  // namespace treeflow::cli
