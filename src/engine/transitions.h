// What one store transaction of the scheduler does, separated from the
// thread that runs it: apply attempt outcomes and API commands through the
// pure tree logic, expire leases, lease due tasks, and flush counters. The
// scheduler drives it on its thread; the deterministic simulation
// (tests/sim) drives it with an in-memory store, a fake clock and fake
// endpoints, and crashes it between any two steps.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/scheduler.h"

namespace treeflow::engine {

// (run id, task id, new state)
using Transition = std::tuple<std::string, std::string, core::TaskState>;

// The scheduler's in-memory state that outlives one transaction. Lost in a
// crash (reset_after_crash); everything else is in the store.
struct DispatchState {
  core::Limits limits;
  std::unordered_map<std::string, core::QueueConfig> queues;
  std::unordered_map<std::string, std::size_t> inflight;           // per queue
  std::unordered_map<std::string, std::string> inflight_ids;       // task id -> queue
  std::unordered_map<std::string, core::TimeMs> next_due;          // per queue, a cache
  // Rows of tasks in flight as the store holds them, so that an answer does
  // not read its row back (a cache: TxContext::load takes a row out of it;
  // every write goes through load, so an entry is never stale).
  std::unordered_map<std::string, store::TaskRow> rows;
  std::vector<store::TaskRow> claimed;  // leased by the current transaction, cached at commit
  bool collect_transitions = true;      // false: nobody listens (take_transitions stays empty)
  // Big fan-outs whose children are not all stored yet (WriteTx::save_fanout),
  // oldest first; each transaction stores the next `fanout_chunk` of them.
  // Rebuilt from the store after a crash or a failed transaction
  // (set_fanouts): the children are then expanded again from the specs.
  struct Fanout {
    store::FanoutRef ref;
    std::vector<store::TaskRow> rows;  // empty until expanded (after a restart)
    std::size_t next = 0;              // rows[next..] are still to store
  };
  std::deque<Fanout> fanouts;
  std::size_t fanout_chunk = 1000;
  SchedulerStats* stats = nullptr;

  void set_fanouts(std::vector<store::FanoutRef> refs);
  // Whether a fan-out has children to store now (other than ones waiting for
  // a free slot of their queue): the scheduler does not sleep then.
  bool fanouts_ready() const;
  // How many tasks of `q` may be in flight: max_concurrent_dispatches, and
  // no more than two seconds of its rate (or its burst).
  static std::size_t lease_cap(const core::QueueConfig& q);

  // After a commit: answered tasks leave the in-flight set, dispatched ones enter it.
  void record_commit(const std::vector<Answer>& answers, const std::vector<Dispatch>& dispatches);
  void reset_after_crash();
};

class Transitions : public CommandContext {
 public:
  // One transaction's worth of work over `tx` at time `now`.
  static std::unique_ptr<Transitions> begin(DispatchState& state, store::WriteTx& tx,
                                            core::TimeMs now);

  // An attempt's outcome (a stale or duplicate one is ignored).
  virtual void on_answer(const Answer& answer) = 0;
  // Running tasks whose lease ran out and that are not in flight: a failed attempt.
  virtual void expire_leases() = 0;
  // The end of every transaction, once, after its answers and commands and
  // before its commit: stores the next children of big fan-outs, flushes the
  // transitions so far, leases what is due, flushes again. Returns the calls
  // to send once the commit is durable.
  std::vector<Dispatch> lease_and_flush() {
    store_fanouts();
    finish();
    auto dispatches = claim();
    finish();
    return dispatches;
  }
  virtual std::vector<Transition> take_transitions() = 0;
  virtual bool queues_changed() const = 0;

 protected:
  // Stores the next children of big fan-outs (DispatchState::fanouts): as
  // many as their queues have free slots for, leased as they are stored.
  virtual void store_fanouts() = 0;
  // Leases due tasks of every unpaused queue, up to its concurrency, and
  // returns them with the children this transaction stored already leased.
  virtual std::vector<Dispatch> claim() = 0;
  // Writes cached rows and run counters.
  virtual void finish() = 0;
};

}  // namespace treeflow::engine
