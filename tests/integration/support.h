// Support for end-to-end tests: the real `treeflow` binary as a child process
// (killable with SIGKILL and restartable on the same store), a small JSON
// client for its API, and endpoint servers built with the SDK on loopback.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "treeflow/treeflow.h"

namespace tftest {

namespace json = boost::json;
using namespace std::chrono_literals;

struct HttpResult {
  int status = 0;
  std::string body;
  json::value json() const {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    return ec ? json::value(nullptr) : v;
  }
};

// Runs the `treeflow` CLI with args; returns (exit status, stdout+stderr).
std::pair<int, std::string> cli(const std::vector<std::string>& args);

// One synchronous HTTP/1.1 call (Connection: close). Throws on transport errors.
HttpResult http(const std::string& method, const std::string& url, const std::string& body = "",
                const std::vector<std::pair<std::string, std::string>>& headers = {});

// A temp directory removed at destruction.
struct TempDir {
  std::filesystem::path path;
  TempDir();
  ~TempDir();
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// The engine binary as a child process.
class Engine {
 public:
  // extra: more arguments for `treeflow serve` (e.g. {"--config", path}).
  Engine(std::string db, std::vector<std::string> extra = {});
  // With env: extra environment variables for the child (e.g. TREEFLOW_CRASH_AT=...).
  void set_env(std::vector<std::string> env) { env_ = std::move(env); }
  ~Engine();
  void start();       // waits until /healthz answers
  void kill9();       // SIGKILL, then reap
  void stop();        // SIGTERM, then reap
  bool alive();
  int exit_code() const { return exit_code_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  // Peak resident memory of the engine process so far (KiB), from /proc.
  long peak_rss_kib() const;
  std::string log() const;

  // API helpers (throw on transport errors; assert nothing).
  HttpResult get(const std::string& path) { return http("GET", url() + path); }
  HttpResult post(const std::string& path, const json::value& body) {
    return http("POST", url() + path, json::serialize(body));
  }
  std::string start_run(const json::object& body);  // returns the run id (throws if not 201)
  json::object run(const std::string& id);
  // Polls until the run is not running or the timeout passes; returns the run.
  json::object wait_run(const std::string& id, std::chrono::milliseconds timeout = 120s);
  json::object task(const std::string& id);

 private:
  std::string db_;
  std::vector<std::string> extra_;
  std::vector<std::string> env_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
  std::string log_path_;
};

std::int64_t count(const json::object& run, const char* state);

// Thread-safe record of what endpoints saw.
struct Recorder {
  std::mutex mu;
  std::vector<treeflow::HttpRequest> requests;
  void add(const treeflow::HttpRequest& r) {
    std::lock_guard lk(mu);
    requests.push_back(r);
  }
  std::size_t size() {
    std::lock_guard lk(mu);
    return requests.size();
  }
  std::set<std::string> task_ids() {
    std::lock_guard lk(mu);
    std::set<std::string> s;
    for (auto& r : requests) s.insert(std::string(r.header("X-Workflow-Task-Id")));
    return s;
  }
  std::vector<treeflow::HttpRequest> snapshot() {
    std::lock_guard lk(mu);
    return requests;
  }
};

// Test endpoints: an SDK App (add handlers, then start()) served on a free
// loopback port; `base` is its URL.
struct Endpoints {
  treeflow::App app{treeflow::Options{}};
  std::unique_ptr<treeflow::Server> server;
  std::string base;
  void start() {
    server = std::make_unique<treeflow::Server>(app, "127.0.0.1:0");
    base = "http://127.0.0.1:" + std::to_string(server->port());
  }
};

// An envelope answer (as an SDK would send), for plain handlers.
treeflow::HttpResponse envelope(const treeflow::HttpRequest& req, json::value data,
                                json::array immediate = {}, json::array sub = {}, int status = 200);
treeflow::HttpResponse leaf(json::value data, int status = 200);

// Writes a config file with a fast-retry default queue (and extra TOML).
std::string fast_config(const TempDir& dir, const std::string& extra = "");

}  // namespace tftest
