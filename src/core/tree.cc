#include "core/tree.h"

namespace treeflow::core {

std::string_view to_string(EventKind k) {
  switch (k) {
    case EventKind::answered: return "answered";
    case EventKind::join_fired: return "join_fired";
    case EventKind::own_failed: return "own_failed";
    case EventKind::retried: return "retried";
    case EventKind::child_completed: return "child_completed";
    case EventKind::child_failed: return "child_failed";
    case EventKind::child_unfailed: return "child_unfailed";
    case EventKind::cancel: return "cancel";
  }
  return "?";
}

namespace {

// A child of the current phase is done (completed, or failed with continue).
void child_done(Step& s) {
  Node& n = s.node;
  if (n.outstanding <= 0) {
    s.ignored_because = "more child completions than children";
    return;
  }
  --n.outstanding;
  s.changed = true;
  if (n.state != TaskState::waiting || n.outstanding != 0) return;  // failed: only count
  if (n.waiting_on == Phase::immediate && !n.join_fired) {
    s.effects.push_back(EffectKind::fire_join);
  } else {
    n.state = TaskState::completed;
    if (n.has_parent) s.effects.push_back(EffectKind::notify_completed);
  }
}

}  // namespace

Step step(const Node& node, const Event& ev) {
  Step s{node, {}, false, {}};
  Node& n = s.node;
  if (n.state == TaskState::cancelled) {
    s.ignored_because = "task is cancelled";
    return s;
  }
  switch (ev.kind) {
    case EventKind::answered:
      if (n.state != TaskState::running) {
        s.ignored_because = "answer for a task that is not running";
        return s;
      }
      s.changed = true;
      if (n.run_cancelled) {
        n.state = TaskState::cancelled;
        return s;
      }
      n.state = TaskState::waiting;
      n.waiting_on = Phase::immediate;
      n.outstanding = ev.n;
      if (ev.n == 0) s.effects.push_back(EffectKind::fire_join);
      return s;

    case EventKind::join_fired:
      if (n.state != TaskState::waiting || n.waiting_on != Phase::immediate || n.outstanding != 0 ||
          n.join_fired) {
        s.ignored_because = "join is not due";
        return s;
      }
      s.changed = true;
      n.join_fired = true;
      n.waiting_on = Phase::sub;
      n.outstanding = ev.n;
      if (ev.n == 0) {
        n.state = TaskState::completed;
        if (n.has_parent) s.effects.push_back(EffectKind::notify_completed);
      }
      return s;

    case EventKind::own_failed:
      if (n.state != TaskState::running) {
        s.ignored_because = "failure for a task that is not running";
        return s;
      }
      s.changed = true;
      if (n.run_cancelled) {
        n.state = TaskState::cancelled;
        return s;
      }
      n.state = TaskState::failed;
      n.own_failure = true;
      if (n.has_parent) s.effects.push_back(EffectKind::notify_failed);
      return s;

    case EventKind::retried:
      if (n.state != TaskState::failed || !n.own_failure) {
        s.ignored_because = n.state == TaskState::failed
                                ? "failed because a descendant failed: retry the descendant"
                                : "only a failed task can be retried";
        return s;
      }
      s.changed = true;
      n.state = TaskState::pending;
      n.own_failure = false;
      if (n.has_parent) s.effects.push_back(EffectKind::notify_unfailed);
      return s;

    case EventKind::child_completed:
      if (n.state != TaskState::waiting && n.state != TaskState::failed) {
        s.ignored_because = "child event for a task that is not waiting";
        return s;
      }
      child_done(s);
      return s;

    case EventKind::child_failed:
      if (n.state != TaskState::waiting && n.state != TaskState::failed) {
        s.ignored_because = "child event for a task that is not waiting";
        return s;
      }
      if (ev.edge == OnFailure::proceed) {
        ++n.failed_ok;
        child_done(s);
        s.changed = true;
        return s;
      }
      s.changed = true;
      ++n.blocked;
      if (n.state == TaskState::waiting) {
        n.state = TaskState::failed;
        n.own_failure = false;
        if (n.has_parent) s.effects.push_back(EffectKind::notify_failed);
      }
      return s;

    case EventKind::child_unfailed:
      if (n.state != TaskState::waiting && n.state != TaskState::failed) {
        s.ignored_because = "child event for a task that is not waiting";
        return s;
      }
      if (ev.edge == OnFailure::proceed) {
        if (n.failed_ok <= 0) {
          s.ignored_because = "no child failed with on_failure=continue";
          return s;
        }
        s.changed = true;
        --n.failed_ok;
        ++n.outstanding;
        return s;
      }
      if (n.blocked <= 0) {
        s.ignored_because = "no blocking child to unfail";
        return s;
      }
      s.changed = true;
      --n.blocked;
      if (n.blocked == 0 && n.state == TaskState::failed && !n.own_failure) {
        n.state = TaskState::waiting;
        if (n.has_parent) s.effects.push_back(EffectKind::notify_unfailed);
      }
      return s;

    case EventKind::cancel:
      if (n.state == TaskState::completed) {
        s.ignored_because = "task is completed";
        return s;
      }
      s.changed = true;
      n.state = TaskState::cancelled;
      n.run_cancelled = true;
      return s;
  }
  return s;
}

}  // namespace treeflow::core
