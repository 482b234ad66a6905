// The Store: everything the engine asks of its database, as verbs of the task
// lifecycle (SPEC section 2), in the manner of River's driver interface. The
// scheduler never writes SQL; SQLite (sqlite_store.cc) implements this, and a
// PostgreSQL implementation can follow with the same verbs.
//
// Writes happen inside a WriteTx, which the scheduler's single store thread
// opens, fills with many transitions (group commit) and commits once. Reads
// for the API go through a Reader, usable from another thread at the same
// time (SQLite WAL: readers see the last committed state).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tree.h"
#include "core/types.h"

namespace treeflow::store {

using core::TimeMs;

// One stored task.
struct TaskRow {
  std::int64_t seq = 0;  // insertion order (set by the store)
  std::string id;
  std::string run_id;
  std::string parent_id;  // empty for the root
  core::Phase phase = core::Phase::root;
  std::uint32_t spec_index = 0;
  std::uint32_t item_index = 0;
  int depth = 0;
  core::TaskState state = core::TaskState::pending;
  std::string queue = "default";
  core::TaskRequest request;
  core::OnFailure on_failure = core::OnFailure::fail;

  int attempts = 0;             // dispatches so far (incl. one in flight)
  TimeMs not_before = 0;        // pending: not dispatched before this time
  TimeMs first_attempt_at = 0;  // 0 until the first dispatch
  TimeMs lease_until = 0;       // running, direct call: dispatched by the engine after this
                                // (0 for calls the engine sent: they are tracked in memory,
                                // and a restart requeues every running task)
  int last_status = 0;          // last HTTP status (0: none / connection error)
  std::string last_error;       // why the last attempt failed, or why the task failed
  std::string response_data;    // JSON text of the response data (after a 2xx)
  std::string sub_specs;        // JSON array text of sub_task_next, until the join fired
  core::Node node;              // tree bookkeeping (state mirrored in `state`)
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  TimeMs finished_at = 0;
};

// Fields of TaskRow that are cheap to read in bulk (listing a tree).
struct TaskSummary {
  std::int64_t seq = 0;
  std::string id;
  std::string parent_id;
  core::Phase phase = core::Phase::root;
  core::TaskState state = core::TaskState::pending;
  std::string method;
  std::string url;
  int attempts = 0;
  int last_status = 0;
  std::string last_error;
  std::int64_t children = 0;  // number of direct children
};

using StateCounts = std::array<std::int64_t, core::kTaskStateCount>;

struct RunRow {
  std::string id;
  std::string name;  // optional user-given name (unique); empty if none
  std::string root_task_id;
  core::RunState state = core::RunState::running;
  bool cancelled = false;
  TimeMs created_at = 0;
  TimeMs finished_at = 0;
  StateCounts counts{};         // tasks of this run per TaskState (counters, never a scan)
  std::int64_t dispatches = 0;  // HTTP attempts sent
  std::int64_t retries = 0;     // attempts that failed and were scheduled again
};

// A big fan-out whose children are not all stored yet (WriteTx::save_fanout).
struct FanoutRef {
  std::string parent_id;
  std::string run_id;
  core::Phase phase = core::Phase::immediate;
  std::string specs;  // JSON array text of the specs the children come from
};

// Per-run counter changes accumulated during a transaction.
struct RunDelta {
  StateCounts counts{};
  std::int64_t dispatches = 0;
  std::int64_t retries = 0;
};

class WriteTx {
 public:
  virtual ~WriteTx() = default;

  // A task without its response_data (it can be large: a parent with 100,000
  // children is read once per transaction); response_data() reads it.
  virtual std::optional<TaskRow> task(std::string_view id) = 0;
  virtual std::string response_data(std::string_view id) = 0;
  virtual std::optional<RunRow> run(std::string_view id) = 0;
  virtual std::optional<std::string> run_id_by_name(std::string_view name) = 0;

  virtual void insert_run(const RunRow& run) = 0;
  // Inserts tasks whose id does not exist yet, in their given state (pending,
  // or running when leased as they are stored); sets `seq` of each new one and
  // 0 for the others; returns how many were new. (Ids are deterministic, so a
  // replayed answer inserts nothing.)
  virtual std::size_t insert_tasks(std::span<TaskRow> tasks) = 0;
  // A big fan-out whose children the scheduler stores a chunk per
  // transaction (so that one answer with 100,000 items does not hold every
  // other run up); a restart resumes from here (Store::load_fanouts). Keyed
  // by (parent, phase); deleted once every child is stored.
  // The batch is the specs (JSON text) the children are expanded from again.
  virtual void save_fanout(const FanoutRef& fanout) = 0;
  virtual void delete_fanout(std::string_view parent_id, core::Phase phase) = 0;
  // Writes the mutable fields of the task (state, attempts, times, errors,
  // sub specs, node, and response_data when with_response) — compare with
  // `expected` state first; returns false (and writes nothing) if the stored
  // state differs.
  virtual bool update_task(const TaskRow& task, core::TaskState expected, bool with_response) = 0;
  virtual void update_run_state(std::string_view run_id, core::RunState state, bool cancelled,
                                TimeMs finished_at) = 0;
  virtual void add_run_delta(std::string_view run_id, const RunDelta& delta) = 0;

  // Leases up to `limit` pending tasks of `queue` that are due at `now`
  // (not_before <= now), oldest first: state running, attempts + 1,
  // first_attempt_at set if unset, lease_until as given. Counts are NOT
  // updated here (the caller owns the run deltas).
  virtual std::vector<TaskRow> claim_due(std::string_view queue, TimeMs now, std::size_t limit,
                                         TimeMs lease_until) = 0;
  // Earliest not_before of a pending task of `queue`, if any.
  virtual std::optional<TimeMs> next_due(std::string_view queue) = 0;
  // Running tasks with a lease (direct calls) that ran out before `now`.
  virtual std::vector<std::string> expired_leases(TimeMs now, std::size_t limit) = 0;

  // Ids of a run's tasks in one of `states`, in creation order. A walk of
  // the run's tree (no index by run: it cost every task an index entry, for
  // cancel and retry of a whole run only).
  virtual std::vector<std::string> run_task_ids(std::string_view run_id,
                                                const std::vector<core::TaskState>& states) = 0;
  // Response data (JSON text) and state of a task's children of `phase`, in order.
  virtual std::vector<std::pair<core::TaskState, std::string>> children_data(
      std::string_view parent_id, core::Phase phase) = 0;
  // Pending tasks of a queue (for purge), at most `limit`.
  virtual std::vector<std::string> pending_in_queue(std::string_view queue,
                                                    std::size_t limit) = 0;

  virtual void save_queue(const core::QueueConfig& q) = 0;

  virtual void commit() = 0;  // durable when it returns; the tx is finished
};

// A consistent read view for the API (one SQLite read transaction).
class Reader {
 public:
  virtual ~Reader() = default;
  virtual std::optional<RunRow> run(std::string_view id) = 0;
  virtual std::vector<RunRow> runs(std::optional<core::RunState> state, std::string_view before_id,
                                   std::size_t limit) = 0;
  virtual std::optional<TaskRow> task(std::string_view id) = 0;
  // Direct children of a task (all phases) in creation order, after `after_seq`.
  virtual std::vector<TaskSummary> children(std::string_view parent_id, std::int64_t after_seq,
                                            std::size_t limit) = 0;
  virtual std::int64_t child_count(std::string_view parent_id) = 0;
  virtual std::vector<core::QueueConfig> queues() = 0;
  // Tasks per state over every run, for /metrics.
  virtual StateCounts task_counts() = 0;
};

struct StoreOptions {
  std::string path;             // file path of the SQLite database
  bool synchronous_full = true; // fsync every commit (durable against power loss)
  bool read_only = false;
};

class Store {
 public:
  virtual ~Store() = default;
  // Only one WriteTx at a time (the scheduler's thread).
  virtual std::unique_ptr<WriteTx> begin() = 0;
  // A new read view; may be used from any single thread at a time.
  virtual std::unique_ptr<Reader> read() = 0;
  // Crash recovery at start-up: every running task goes back to pending
  // (at-least-once); returns per-run how many moved, so counters stay exact.
  virtual std::vector<std::pair<std::string, std::int64_t>> requeue_running(TimeMs now) = 0;
  virtual std::vector<core::QueueConfig> load_queues() = 0;
  // Every saved fan-out (WriteTx::save_fanout), oldest first.
  virtual std::vector<FanoutRef> load_fanouts() = 0;
  virtual std::int64_t size_bytes() = 0;
};

// Opens (creating if needed) the SQLite store. Throws StoreError with a clear
// message (file unreadable, not a treeflow database, corrupt, read-only, disk
// full); never overwrites a file that is not a treeflow database.
std::unique_ptr<Store> open_sqlite(const StoreOptions& options);

struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace treeflow::store
