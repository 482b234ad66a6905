// The scheduler: the one thread that writes the store. It turns answers and
// API commands into transitions (via the pure core), commits many of them per
// transaction (group commit), leases due tasks and hands them to the
// dispatcher. Nothing is dispatched before the transaction that leased it is
// durable.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/json/value.hpp>

#include "core/types.h"
#include "store/store.h"

namespace treeflow::engine {

struct EngineOptions {
  std::string db_path = "treeflow.db";
  bool sync_full = true;
  std::string listen = "127.0.0.1:8700";
  std::vector<std::string> tokens_read, tokens_write, tokens_admin;  // bearer tokens
  core::Limits limits;
  std::string signing_secret;
  std::vector<core::QueueConfig> queues;  // from the config file (merged over stored ones)
  std::size_t max_connections_per_host = 64;
  bool verify_tls = true;
  std::string ca_file;
};

// One attempt to send.
struct Dispatch {
  std::string task_id;
  std::string run_id;
  std::string parent_id;
  std::string queue;
  int attempt = 1;
  core::TaskRequest request;
  std::int64_t deadline_ms = 600'000;
};

// The outcome of one attempt, from the dispatcher or an SDK's report.
struct Answer {
  std::string task_id;
  int attempt = 0;                 // must match the stored attempt (stale answers are dropped)
  int status = 0;                  // 0: no HTTP answer
  std::string error;               // transport error or "response too large"
  bool envelope = false;           // X-Workflow-Envelope: 1
  std::string body;
  std::optional<std::int64_t> retry_after_ms;
};

// An API error: HTTP status, machine code, message.
struct ApiError {
  int http_status = 400;
  std::string code;
  std::string message;
};

struct CommandResult {
  bool ok = true;
  boost::json::value value;  // when ok
  ApiError error;            // when !ok
};

class Scheduler;
struct DispatchState;

// What an API command may do inside the scheduler's transaction.
class CommandContext {
 public:
  virtual ~CommandContext() = default;
  virtual core::TimeMs now() const = 0;
  // POST /v1/runs body.
  virtual CommandResult start_run(const boost::json::object& body) = 0;
  // POST /v1/tasks/{id}/complete (an SDK's report of a direct call).
  virtual CommandResult complete_task(const std::string& task_id,
                                      const boost::json::object& body) = 0;
  virtual CommandResult cancel_run(const std::string& run_id) = 0;
  virtual CommandResult retry_task(const std::string& task_id) = 0;
  virtual CommandResult retry_run(const std::string& run_id) = 0;
  virtual CommandResult update_queue(const std::string& name, const boost::json::object& patch,
                                     bool create) = 0;
  virtual CommandResult set_queue_paused(const std::string& name, bool paused) = 0;
  virtual CommandResult purge_queue(const std::string& name) = 0;
};

struct SchedulerStats {
  std::atomic<std::uint64_t> transactions{0};
  std::atomic<std::uint64_t> dispatches{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> answers{0};
  std::atomic<std::uint64_t> tasks_created{0};
  std::atomic<std::uint64_t> tasks_completed{0};
  std::atomic<std::uint64_t> tasks_failed{0};
  std::atomic<std::uint64_t> joins_fired{0};
};

class Scheduler {
 public:
  using DispatchSink = std::function<void(std::vector<Dispatch>)>;
  using Command = std::function<CommandResult(CommandContext&)>;
  using Done = std::function<void(CommandResult)>;
  // Called after each commit with the tasks whose state changed (for the
  // live event stream): (run id, task id, new state).
  using TransitionSink =
      std::function<void(const std::vector<std::tuple<std::string, std::string, core::TaskState>>&)>;

  Scheduler(store::Store& store, const EngineOptions& options, DispatchSink dispatch);
  ~Scheduler();

  // `wanted` (thread-safe) says whether anyone listens now; transitions are
  // collected only then.
  void set_transition_sink(TransitionSink sink, std::function<bool()> wanted = {});

  // Recovers what a crash left (running -> pending) and starts the thread.
  void start();
  void stop();

  // Thread-safe. Answers are applied in the next transaction (all that
  // arrived meanwhile: at most what is in flight).
  void post_answer(Answer answer);
  // Thread-safe. `done` runs on the scheduler thread after the commit.
  void submit(Command command, Done done);

  // Current queue configs (copy; thread-safe).
  std::vector<core::QueueConfig> queues() const;
  const SchedulerStats& stats() const { return stats_; }
  std::size_t inflight() const { return inflight_total_.load(); }

 private:
  void loop();
  void snapshot_queues_locked();
  std::vector<core::QueueConfig> queue_snapshot_;  // guarded by mu_

  store::Store& store_;
  EngineOptions options_;
  DispatchSink dispatch_;
  TransitionSink transitions_;
  std::function<bool()> transitions_wanted_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Answer> answers_;
  std::vector<std::pair<Command, Done>> commands_;
  bool stopping_ = false;
  std::thread thread_;

  // Scheduler-thread state (see transitions.h).
  std::unique_ptr<DispatchState> state_ptr_;
  DispatchState& state_;
  core::TimeMs next_lease_sweep_ = 0;
  std::atomic<std::size_t> inflight_total_{0};
  SchedulerStats stats_;
};

core::TimeMs now_ms();

}  // namespace treeflow::engine
