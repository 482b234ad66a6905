#include "http_get.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <stdexcept>

namespace blog {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

HttpResult http_get(const std::string& url, std::chrono::seconds timeout) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->scheme() != "http")
    throw std::runtime_error("bad warehouse URL \"" + url + "\" (want http://host:port/...)");
  std::string host = parsed->host();
  std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
  std::string target = std::string(parsed->encoded_path());
  if (target.empty()) target = "/";
  if (parsed->has_query()) target += "?" + std::string(parsed->encoded_query());

  try {
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    tcp::resolver resolver(ioc);
    stream.connect(resolver.resolve(host, port));

    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, parsed->encoded_host_and_port());
    req.set(http::field::user_agent, "blog_endpoints");
    req.set(http::field::accept, "application/json");
    http::write(stream, req);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::read(stream, buffer, parser);

    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return HttpResult{static_cast<int>(parser.get().result_int()), parser.get().body()};
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("GET " + url + ": " + e.code().message());
  }
}

}  // namespace blog
