// A small synchronous HTTP/1.1 GET (Boost.Beast over the SDK's Asio), enough
// for the Trigger to fetch one page from the warehouse.
#pragma once

#include <chrono>
#include <string>

namespace blog {

struct HttpResult {
  int status = 0;
  std::string body;
};

// url: "http://host[:port]/path?query". Throws std::runtime_error on a bad
// URL, a connection error or a timeout (the caller answers 502/503 so the
// engine retries).
HttpResult http_get(const std::string& url,
                    std::chrono::seconds timeout = std::chrono::seconds(30));

}  // namespace blog
