// Outbound HTTP/1.1 client of the dispatcher: keep-alive connection pools per
// (scheme, host, port), http and https (OpenSSL, certificates verified by
// default), a deadline per request, a cap on the answer's size.
//
// Threading: one HttpClient belongs to one io_context; call send() from that
// io_context's thread. The callback runs on that thread too.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/types.h"

namespace boost::asio {
class io_context;
}

namespace treeflow::net {

struct OutboundRequest {
  std::string method = "POST";
  std::string url;            // absolute http(s) URL, query included
  core::Headers headers;      // sent as given (the dispatcher adds X-Workflow-*)
  std::string body;
  std::chrono::milliseconds deadline{600'000};  // whole exchange, connect included
  std::size_t max_response_bytes = 10 << 20;
};

struct OutboundResult {
  int status = 0;             // HTTP status; 0 when there was no HTTP answer
  std::string error;          // why, when status == 0 (or the body was too large)
  bool timed_out = false;     // the deadline passed
  core::Headers headers;
  std::string body;
  std::int64_t latency_us = 0;
};

struct HttpClientOptions {
  std::size_t max_connections_per_host = 64;  // more requests wait for a free one
  bool verify_tls = true;
  std::string ca_file;                        // extra trusted CA (PEM); empty = system
  std::chrono::seconds idle_timeout{30};      // idle keep-alive connections are closed
};

struct HttpClientStats {
  std::uint64_t requests = 0;
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_reused = 0;
};

class HttpClient {
 public:
  HttpClient(boost::asio::io_context& io, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request; `done` is called exactly once, on the io thread.
  // A URL that cannot be parsed or has another scheme gives status 0 + error.
  void send(OutboundRequest request, std::function<void(OutboundResult)> done);

  // Closes idle connections and fails queued requests ("client shutting down").
  void shutdown();

  HttpClientStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace treeflow::net
