// The dispatcher: sends leased tasks over HTTP, honouring each queue's token
// bucket (max_dispatches_per_second, max_burst_size), adds the headers of
// SPEC section 6 (and the HMAC signature), and reports every outcome to the
// scheduler. Runs on the engine's io_context thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/scheduler.h"

namespace boost::asio {
class io_context;
}

namespace treeflow::net {
class HttpClient;
}

namespace treeflow::engine {

// Dispatch latency histogram (seconds), Prometheus-style cumulative buckets.
struct LatencyHistogram {
  static constexpr std::array<double, 13> kBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,    1,     2.5,  5,    10};
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets{};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> sum_us{0};
  void observe(std::int64_t us);
};

class Dispatcher {
 public:
  Dispatcher(boost::asio::io_context& io, Scheduler& scheduler, net::HttpClient& client,
             const EngineOptions& options);
  ~Dispatcher();

  // Thread-safe: hands leased tasks to the io thread.
  void enqueue(std::vector<Dispatch> tasks);

  const LatencyHistogram& latency() const;
  std::uint64_t sent() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// X-Workflow-Signature value for a body at unix time `t` (docs/protocol.md).
std::string sign(const std::string& secret, std::int64_t t, const std::string& body);

}  // namespace treeflow::engine
