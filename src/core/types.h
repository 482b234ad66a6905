// Core value types of treeflow: tasks, runs, next-step specs, queue policies
// and limits. Plain data, no I/O. Everything in src/core is pure: functions of
// their arguments, unit-tested without a store, a clock or a network.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

namespace treeflow::core {

// Milliseconds since the Unix epoch (wall clock). All times in the core are
// passed in explicitly; the core never reads a clock.
using TimeMs = std::int64_t;

// SPEC section 2. The numeric values are stored; never renumber them.
enum class TaskState : std::uint8_t {
  pending = 0,    // stored, waiting for its turn (or its not-before time)
  running = 1,    // leased: dispatched (or being run by an SDK on a direct call)
  waiting = 2,    // own call succeeded; waiting for its children / sub tasks
  completed = 3,  // own call and whole subtree completed
  failed = 4,     // attempts exhausted, permanent error, or a descendant failed
  cancelled = 5,
};
inline constexpr int kTaskStateCount = 6;
std::string_view to_string(TaskState s);
std::optional<TaskState> task_state_from_string(std::string_view s);
inline bool is_final(TaskState s) {
  return s == TaskState::completed || s == TaskState::cancelled;
}

enum class RunState : std::uint8_t { running = 0, completed = 1, failed = 2, cancelled = 3 };
std::string_view to_string(RunState s);
std::optional<RunState> run_state_from_string(std::string_view s);

// Why a task exists relative to its parent.
enum class Phase : std::uint8_t {
  root = 0,       // the run's root
  immediate = 1,  // spawned by the parent's immediate_next
  sub = 2,        // spawned by the parent's sub_task_next (the join)
};
std::string_view to_string(Phase p);  // "root" | "immediate" | "sub"

// SPEC section 4.
enum class InputType : std::uint8_t { response, each, custom, none, children };
std::string_view to_string(InputType t);
std::optional<InputType> input_type_from_string(std::string_view s);

// What a child's failure does to its parent (SPEC section 3, "Failure").
enum class OnFailure : std::uint8_t { fail = 0, proceed = 1 };  // JSON: "fail" | "continue"
std::string_view to_string(OnFailure f);  // "fail" | "continue"
std::optional<OnFailure> on_failure_from_string(std::string_view s);

using Headers = std::vector<std::pair<std::string, std::string>>;

// One entry of immediate_next / sub_task_next, as parsed from an envelope.
struct NextSpec {
  std::string url;               // absolute or relative to the parent's URL
  std::string method = "POST";   // upper-case
  InputType input_type = InputType::response;
  std::string input_path;        // JSON Pointer; empty = the whole data
  std::optional<boost::json::object> custom_input;
  Headers headers;               // override inherited request headers
  std::string queue;             // empty = inherit the parent's queue
  OnFailure on_failure = OnFailure::fail;
};

// The complete data an SDK-wrapped endpoint answers with (SPEC section 7).
struct Envelope {
  std::string id;
  int status_code = 200;
  Headers response_headers;
  boost::json::value data;  // the view's response data
  std::vector<NextSpec> immediate_next;
  std::vector<NextSpec> sub_task_next;
};

// Cloud Tasks RetryConfig + RateLimits + dispatch deadline (SPEC section 5).
// Defaults are Cloud Tasks' defaults (reference/cloud-tasks.md section 8).
struct RetryPolicy {
  int max_attempts = 100;              // including the first; -1 = unlimited
  std::int64_t max_retry_duration_ms = 0;  // 0 = unlimited
  std::int64_t min_backoff_ms = 100;
  std::int64_t max_backoff_ms = 3'600'000;
  int max_doublings = 16;
};

struct QueueConfig {
  std::string name = "default";
  RetryPolicy retry;
  double max_dispatches_per_second = 500;  // (0, 500]
  int max_burst_size = 100;                // output only in Cloud Tasks; derived from the rate
  int max_concurrent_dispatches = 1000;    // [1, 5000]
  std::int64_t dispatch_deadline_ms = 600'000;  // [15 s, 30 min]
  bool retry_4xx = false;  // treat 4xx other than 408/429 as retryable (SPEC section 5)
  bool paused = false;
};

// Limits on everything a user controls (TigerBeetle style). Each one that is
// hit produces an error that names the limit.
struct Limits {
  std::size_t max_payload_bytes = 1 << 20;          // a task's stored request body
  std::size_t max_response_bytes = 10 << 20;        // an endpoint's answer body
  std::size_t max_request_bytes = 2 << 20;          // an API request body
  std::size_t max_headers_bytes = 80 * 1024;        // all headers of a task
  std::size_t max_url_bytes = 8192;
  std::size_t max_fanout = 100'000;                 // children per answer (all specs)
  std::size_t max_specs = 100;                      // specs per list in an envelope
  int max_depth = 100'000;                          // root = depth 0
};

// A task as the tree logic needs it to create children from it.
struct TaskRequest {
  std::string method = "POST";
  std::string url;          // absolute, http or https; for GET it includes the query
  Headers headers;          // user headers only (never X-Workflow-*)
  std::string body;         // bytes sent; empty for GET/HEAD/DELETE
};

// A child to insert, fully resolved.
struct NewTask {
  std::string id;           // deterministic: child_task_id(parent, phase, spec, item)
  std::string parent_id;
  Phase phase = Phase::immediate;
  std::uint32_t spec_index = 0;
  std::uint32_t item_index = 0;
  int depth = 0;
  std::string queue;
  OnFailure on_failure = OnFailure::fail;
  TaskRequest request;
};

// Error value for core operations: a message that says what and where.
struct Error {
  std::string code;     // machine-readable, e.g. "envelope_invalid", "limit_fanout"
  std::string message;  // human-readable, names the spec / field / limit
};

// Minimal expected<T, Error>; C++23's std::expected is not available in g++ 12.
template <class T>
class Result {
 public:
  Result(T v) : ok_(true), value_(std::move(v)) {}            // NOLINT(implicit)
  Result(Error e) : ok_(false), error_(std::move(e)) {}       // NOLINT(implicit)
  explicit operator bool() const { return ok_; }
  bool ok() const { return ok_; }
  T& value() { return value_; }
  const T& value() const { return value_; }
  T& operator*() { return value_; }
  const T& operator*() const { return value_; }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }
  const Error& error() const { return error_; }

 private:
  bool ok_;
  T value_{};
  Error error_{};
};

}  // namespace treeflow::core
