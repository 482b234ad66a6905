// A small built-in HTTP/1.1 server (Boost.Beast, keep-alive) to host an App.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "treeflow/app.h"

namespace treeflow {

struct ServeOptions {
  int threads = 1;                              // I/O threads
  std::size_t max_body_bytes = 16 << 20;        // larger requests get 413
};

// Serves `app` on `listen` ("127.0.0.1:9000"; port 0 picks a free one) on
// background threads until stop() or destruction. The App must outlive it.
class Server {
 public:
  Server(const App& app, const std::string& listen, ServeOptions options = {});
  ~Server();
  std::uint16_t port() const;
  void stop();
  void wait();  // blocks until stop() (or SIGINT/SIGTERM when installed by serve())

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Blocking convenience: serve until SIGINT or SIGTERM.
void serve(const App& app, const std::string& listen = "127.0.0.1:9000",
           ServeOptions options = {});

}  // namespace treeflow
