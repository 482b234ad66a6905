// A small built-in HTTP/1.1 server (Boost.Beast, keep-alive) to host an App.
//
//   treeflow::Server server(app, "127.0.0.1:0");   // runs in the background
//   std::cout << server.port();
//   server.stop();
//
// Requests are read completely (up to ServeOptions::max_body_bytes) and
// passed to App::handle() on one of the server's I/O threads; a handler that
// blocks holds that thread, so give the server as many threads as requests
// you want served at once. Malformed requests are answered 400 JSON, bodies
// over the limit 413 JSON, then the connection is closed. Idle connections
// are closed after 60 s.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "treeflow/app.h"

namespace treeflow {

struct ServeOptions {
  int threads = 1;                              // I/O threads (at least 1)
  std::size_t max_body_bytes = 16 << 20;        // larger requests get 413
};

// Serves `app` on `listen` ("127.0.0.1:9000", "[::1]:9000", ":9000" for all
// interfaces; port 0 picks a free one) on background threads until stop() or
// destruction. The App must outlive the Server. Not copyable.
//
// The constructor throws std::invalid_argument for a malformed `listen` and
// boost::system::system_error when it cannot bind (port in use, ...).
// Thread-safety: port(), stop() and wait() may be called from any thread
// except that stop() must not be called from inside a request handler.
class Server {
 public:
  Server(const App& app, const std::string& listen, ServeOptions options = {});
  ~Server();  // stop()
  // The bound port (the chosen one when `listen` asked for port 0).
  std::uint16_t port() const;
  // Closes the listening socket and every connection, then joins the I/O
  // threads (after requests being handled finish). Idempotent.
  void stop();
  void wait();  // blocks until stop() (or SIGINT/SIGTERM when installed by serve())

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Blocking convenience: serves `app` until SIGINT or SIGTERM (installed with
// an asio::signal_set), then stops the server and returns. Prints the bound
// address to stderr. Throws like Server's constructor.
void serve(const App& app, const std::string& listen = "127.0.0.1:9000",
           ServeOptions options = {});

}  // namespace treeflow
