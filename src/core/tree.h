// The tree semantics of SPEC section 3 as one pure function: step(node, event)
// -> (node', effects). The store shell loads a node, applies an event, saves
// the node and turns the effects into more events (on the parent) or work (fire
// a join). No recursion: propagation up the tree is a loop in the shell, one
// event per ancestor, so a 100,000-deep chain costs 100,000 small steps and no
// stack.
//
// Bookkeeping is O(1) per event: `outstanding` counts the children of the
// current phase that have not completed yet; `blocked` counts direct children
// that are failed with on_failure=fail.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/types.h"

namespace treeflow::core {

// The part of a stored task the tree logic reads and writes.
struct Node {
  TaskState state = TaskState::pending;
  Phase waiting_on = Phase::immediate;  // while waiting: which children count
  std::int64_t outstanding = 0;         // children of that phase not yet done
  std::int64_t blocked = 0;             // direct children failed with on_failure=fail
  std::int64_t failed_ok = 0;           // direct children failed with on_failure=continue
  bool own_failure = false;             // failed by its own call (not a descendant)
  bool join_fired = false;              // sub tasks created (exactly once)
  bool has_parent = false;
  OnFailure edge = OnFailure::fail;     // the parent's policy for this task's failure
  bool run_cancelled = false;           // the run was cancelled: spawn nothing
};

enum class EventKind : std::uint8_t {
  answered,        // own call answered 2xx; n = number of immediate children created
  join_fired,      // the join created n sub tasks
  own_failed,      // own call failed for good (attempts exhausted or permanent error)
  retried,         // a user retried this task: back to pending with fresh attempts
  child_completed, // a child (of the current phase) completed
  child_failed,    // a child failed; edge says whether this node is blocked
  child_unfailed,  // a failed child went back to live (retried); edge as in child_failed
  cancel,          // the run is cancelled
};
std::string_view to_string(EventKind k);

struct Event {
  EventKind kind;
  std::int64_t n = 0;               // answered / join_fired: count of children created
  OnFailure edge = OnFailure::fail;  // child_failed / child_unfailed: the child's edge
};

enum class EffectKind : std::uint8_t {
  fire_join,        // create the sub tasks now, then apply join_fired{n}
  notify_completed, // send child_completed to the parent
  notify_failed,    // send child_failed{edge} to the parent
  notify_unfailed,  // send child_unfailed{edge} to the parent
};

struct Step {
  Node node;                        // the new node
  std::vector<EffectKind> effects;  // in order
  bool changed = false;             // anything to save
  // An event that does not apply (for example an answer for a task that is no
  // longer running): ignored, and said why, so duplicates are harmless.
  std::string_view ignored_because;
};

// Pure: the same (node, event) always gives the same Step.
Step step(const Node& node, const Event& event);

}  // namespace treeflow::core
