// The engine's HTTP API (SPEC section 8): /v1 JSON routes, /healthz and
// /metrics, served with Boost.Beast on the engine's io_context. Reads go to a
// store Reader (WAL snapshot); writes are commands run by the scheduler in
// its next transaction. Every error is JSON: {"error":{"code","message"}}.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "engine/scheduler.h"

namespace boost::asio {
class io_context;
}

namespace treeflow::engine {
class Dispatcher;
}

namespace treeflow::api {

class ApiServer {
 public:
  ApiServer(boost::asio::io_context& io, engine::Scheduler& scheduler, store::Store& store,
            engine::Dispatcher& dispatcher, const engine::EngineOptions& options);
  ~ApiServer();

  // Binds and starts accepting; returns the port (useful with port 0).
  // Throws std::runtime_error with a clear message if the address is in use
  // or not loopback without tokens.
  std::uint16_t listen(const std::string& address);
  void stop();

  // Feeds the live event streams (GET /v1/runs/{id}/events). Call on the
  // io_context's thread.
  void publish(const std::vector<std::tuple<std::string, std::string, core::TaskState>>& transitions);
  // Whether any event stream is open (thread-safe).
  bool has_listeners() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace treeflow::api
