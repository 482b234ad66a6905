// Outbound HTTP/1.1 client of the dispatcher: keep-alive connection pools per
// (scheme, host, port), http and https (OpenSSL, certificates verified by
// default), a deadline per request, a cap on the answer's size.
//
// Threading: one HttpClient belongs to one io_context; call send() from that
// io_context's thread. The callback runs on that thread too, never from inside
// send() or shutdown() (those post it).
//
// Failures are values, never exceptions: `error` non-empty means the attempt
// failed (the dispatcher retries it per the queue's policy).
//  * no HTTP answer (bad URL, unsupported scheme, DNS, connect, TLS, I/O):
//    status 0 and an error naming the step ("cannot connect to h:p: ...",
//    "TLS certificate verification failed for h: ...").
//  * deadline passed: status 0, timed_out, "deadline of N ms exceeded".
//  * answer body larger than max_response_bytes: status = the answer's HTTP
//    status (0 if its header was not complete), "response body exceeds N
//    bytes", no body; the connection is closed.
//  * the client was shut down or destroyed: status 0, "client shutting down".
// A request whose reused keep-alive connection turns out closed by the server
// before any byte of the answer (EOF/reset) is resent once on a new connection.
// The `Connection: close` of a server (or of the request) is honoured.
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
  std::string url;        // absolute http(s) URL, query included
  core::Headers headers;  // sent as given, each checked (token name, no CR/LF/NUL in the value)
  // Header lines the caller formatted and vouches for ("Name: value\r\n"
  // each), sent after `headers` unchecked: the dispatcher's X-Workflow-*
  // headers, whose values it makes itself. A User-Agent here is not seen.
  std::string trusted_head;
  std::string body;
  std::chrono::milliseconds deadline{600'000};  // whole exchange, connect included
  std::size_t max_response_bytes = 10 << 20;
};

struct OutboundResult {
  int status = 0;          // HTTP status; 0 when there was no HTTP answer
  std::string error;       // why, when status == 0 (or the body was too large)
  bool timed_out = false;  // the deadline passed
  core::Headers headers;
  std::string body;
  std::int64_t latency_us = 0;
};

struct HttpClientOptions {
  std::size_t max_connections_per_host = 64;  // more requests wait for a free one
  bool verify_tls = true;
  std::string ca_file;                    // extra trusted CA (PEM); empty = system
  std::chrono::seconds idle_timeout{30};  // idle keep-alive connections are closed
  std::string user_agent = "treeflow";    // sent unless the request has one; empty = none
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
  // Headers are sent exactly as given, plus Host (unless given), User-Agent
  // (unless given) and Content-Length (for a body, and for an empty POST/PUT).
  void send(OutboundRequest request, std::function<void(OutboundResult)> done);

  // Closes every connection and fails queued and in-flight requests with
  // "client shutting down"; later send()s fail the same way. Idempotent; the
  // destructor calls it. Idle connections keep io_context::run() busy until
  // idle_timeout or shutdown().
  void shutdown();

  HttpClientStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace treeflow::net
