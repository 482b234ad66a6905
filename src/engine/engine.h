// The whole engine in one object: store + scheduler thread + dispatcher and
// API server on one io_context. `treeflow serve` is a thin wrapper.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/scheduler.h"

namespace treeflow::engine {

// Reads a TOML config file (docs/configuration.md) over `base`. Throws
// std::runtime_error naming the file, the key and what is wrong.
EngineOptions load_config(const std::string& path, EngineOptions base);

class Engine {
 public:
  explicit Engine(EngineOptions options);  // opens the store (throws StoreError)
  ~Engine();
  // Binds the API (returns the port), starts the scheduler.
  std::uint16_t start();
  // Runs the io_context on this thread until stop() or SIGINT/SIGTERM.
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace treeflow::engine
