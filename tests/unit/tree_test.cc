#include "core/tree.h"

#include <deque>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace treeflow::core {
namespace {

using EK = EventKind;
using FX = std::vector<EffectKind>;

const TaskState kAllStates[] = {TaskState::pending,   TaskState::running, TaskState::waiting,
                                TaskState::completed, TaskState::failed,  TaskState::cancelled};

// A representative node in each state, with a parent. The waiting node has
// two outstanding immediate children; the failed one is blocked by one of its
// two outstanding children (a descendant failure, not its own call).
Node canonical(TaskState s) {
  Node n;
  n.state = s;
  n.has_parent = true;
  if (s == TaskState::waiting || s == TaskState::failed) {
    n.waiting_on = Phase::immediate;
    n.outstanding = 2;
  }
  if (s == TaskState::failed) n.blocked = 1;
  return n;
}

struct Row {
  TaskState from;
  Event event;
  bool applies;          // false: ignored and unchanged
  TaskState to;          // when applies
  FX effects;            // when applies
};

std::string describe(const Row& r) {
  return std::string(to_string(r.from)) + " + " + std::string(to_string(r.event.kind)) +
         (r.event.edge == OnFailure::proceed ? "(continue)" : "") + " n=" +
         std::to_string(r.event.n);
}

// The full transition table: every EventKind (and both edges for the child
// events, both n==0 and n>0 for answered) from every TaskState.
std::vector<Row> table() {
  using S = TaskState;
  const Event answered2{EK::answered, 2}, answered0{EK::answered, 0};
  const Event join0{EK::join_fired, 0};
  const Event own_failed{EK::own_failed};
  const Event retried{EK::retried};
  const Event child_completed{EK::child_completed};
  const Event child_failed{EK::child_failed, 0, OnFailure::fail};
  const Event child_failed_ok{EK::child_failed, 0, OnFailure::proceed};
  const Event child_unfailed{EK::child_unfailed, 0, OnFailure::fail};
  const Event child_unfailed_ok{EK::child_unfailed, 0, OnFailure::proceed};
  const Event cancel{EK::cancel};
  std::vector<Row> rows;
  for (S s : kAllStates) {
    const bool running = s == S::running;
    const bool waiting_or_failed = s == S::waiting || s == S::failed;
    rows.push_back({s, answered2, running, S::waiting, {}});
    rows.push_back({s, answered0, running, S::waiting, {EffectKind::fire_join}});
    // The canonical waiting node still has 2 outstanding children: not due.
    rows.push_back({s, join0, false, s, {}});
    rows.push_back({s, own_failed, running, S::failed, {EffectKind::notify_failed}});
    // Only a task failed by its own call can be retried (see OwnFailureRetried).
    rows.push_back({s, retried, false, s, {}});
    rows.push_back({s, child_completed, waiting_or_failed, s, {}});
    rows.push_back({s, child_failed, waiting_or_failed, S::failed,
                    s == S::waiting ? FX{EffectKind::notify_failed} : FX{}});
    rows.push_back({s, child_failed_ok, waiting_or_failed, s, {}});
    // Only the failed node has a blocked child to undo; no node has a
    // failed-ok child.
    rows.push_back({s, child_unfailed, s == S::failed, S::waiting, {EffectKind::notify_unfailed}});
    rows.push_back({s, child_unfailed_ok, false, s, {}});
    rows.push_back({s, cancel, s != S::completed && s != S::cancelled, S::cancelled, {}});
  }
  return rows;
}

TEST(TreeStep, TransitionTableCoversEveryStateAndEvent) {
  auto rows = table();
  std::map<std::pair<int, int>, int> seen;
  for (const auto& r : rows) seen[{static_cast<int>(r.from), static_cast<int>(r.event.kind)}]++;
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kTaskStateCount) * 8);
}

TEST(TreeStep, TransitionTable) {
  for (const Row& r : table()) {
    SCOPED_TRACE(describe(r));
    const Node before = canonical(r.from);
    const Step s = step(before, r.event);
    if (!r.applies) {
      EXPECT_FALSE(s.changed);
      EXPECT_FALSE(s.ignored_because.empty());
      EXPECT_TRUE(s.effects.empty());
      EXPECT_EQ(s.node.state, before.state);
      EXPECT_EQ(s.node.outstanding, before.outstanding);
      EXPECT_EQ(s.node.blocked, before.blocked);
      EXPECT_EQ(s.node.failed_ok, before.failed_ok);
      continue;
    }
    EXPECT_TRUE(s.changed);
    EXPECT_TRUE(s.ignored_because.empty()) << s.ignored_because;
    EXPECT_EQ(s.node.state, r.to) << to_string(s.node.state);
    EXPECT_EQ(s.effects, r.effects);
  }
}

TEST(TreeStep, CountersOfTheTable) {
  Node w = canonical(TaskState::waiting);
  auto a = step(canonical(TaskState::running), {EK::answered, 7});
  EXPECT_EQ(a.node.outstanding, 7);
  EXPECT_EQ(a.node.waiting_on, Phase::immediate);

  auto c = step(w, {EK::child_completed});
  EXPECT_EQ(c.node.outstanding, 1);
  EXPECT_EQ(c.node.state, TaskState::waiting);

  auto f = step(w, {EK::child_failed, 0, OnFailure::fail});
  EXPECT_EQ(f.node.blocked, 1);
  EXPECT_FALSE(f.node.own_failure);
  EXPECT_EQ(f.node.outstanding, 2);  // the failed child is not done

  auto fo = step(w, {EK::child_failed, 0, OnFailure::proceed});
  EXPECT_EQ(fo.node.failed_ok, 1);
  EXPECT_EQ(fo.node.outstanding, 1);

  auto of = step(canonical(TaskState::running), {EK::own_failed});
  EXPECT_TRUE(of.node.own_failure);

  auto r = step(of.node, {EK::retried});
  EXPECT_EQ(r.node.state, TaskState::pending);
  EXPECT_FALSE(r.node.own_failure);
  EXPECT_EQ(r.effects, FX{EffectKind::notify_unfailed});

  Node fl = canonical(TaskState::failed);
  auto fc = step(fl, {EK::child_completed});
  EXPECT_EQ(fc.node.outstanding, 1);
  EXPECT_EQ(fc.node.state, TaskState::failed) << "counts but never completes while blocked";
  auto ff = step(fl, {EK::child_failed, 0, OnFailure::fail});
  EXPECT_EQ(ff.node.blocked, 2);
  auto fu = step(fl, {EK::child_unfailed, 0, OnFailure::fail});
  EXPECT_EQ(fu.node.blocked, 0);
  Node own = canonical(TaskState::running);
  own = step(own, {EK::own_failed}).node;
  own.blocked = 1;  // hypothetical: own failure keeps it failed even when unblocked
  auto ou = step(own, {EK::child_unfailed, 0, OnFailure::fail});
  EXPECT_EQ(ou.node.state, TaskState::failed);
  EXPECT_TRUE(ou.effects.empty());

  auto x = step(w, {EK::cancel});
  EXPECT_TRUE(x.node.run_cancelled);
}

TEST(TreeStep, RootNotifiesNobody) {
  Node n;
  n.state = TaskState::running;
  n.has_parent = false;
  auto f = step(n, {EK::own_failed});
  EXPECT_EQ(f.node.state, TaskState::failed);
  EXPECT_TRUE(f.effects.empty());
  auto r = step(f.node, {EK::retried});
  EXPECT_EQ(r.node.state, TaskState::pending);
  EXPECT_TRUE(r.effects.empty());

  n.state = TaskState::running;
  auto a = step(n, {EK::answered, 0});
  auto j = step(a.node, {EK::join_fired, 0});
  EXPECT_EQ(j.node.state, TaskState::completed);
  EXPECT_TRUE(j.effects.empty());
}

TEST(TreeStep, JoinFiresOnlyWhenDueAndOnce) {
  Node n = canonical(TaskState::running);
  auto a = step(n, {EK::answered, 0});
  ASSERT_EQ(a.effects, FX{EffectKind::fire_join});
  auto j = step(a.node, {EK::join_fired, 3});
  EXPECT_TRUE(j.changed);
  EXPECT_TRUE(j.node.join_fired);
  EXPECT_EQ(j.node.waiting_on, Phase::sub);
  EXPECT_EQ(j.node.outstanding, 3);
  EXPECT_EQ(j.node.state, TaskState::waiting);
  auto again = step(j.node, {EK::join_fired, 3});
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.ignored_because, "join is not due");
}

TEST(TreeStep, CancelledIgnoresEverything) {
  for (EK k : {EK::answered, EK::join_fired, EK::own_failed, EK::retried, EK::child_completed,
               EK::child_failed, EK::child_unfailed, EK::cancel}) {
    auto s = step(canonical(TaskState::cancelled), {k, 1});
    EXPECT_FALSE(s.changed) << to_string(k);
    EXPECT_EQ(s.ignored_because, "task is cancelled");
  }
}

TEST(TreeStep, RunCancelledInFlightCallsSpawnNothing) {
  Node n = canonical(TaskState::running);
  n.run_cancelled = true;
  auto a = step(n, {EK::answered, 5});
  EXPECT_EQ(a.node.state, TaskState::cancelled);
  EXPECT_TRUE(a.effects.empty());
  auto f = step(n, {EK::own_failed});
  EXPECT_EQ(f.node.state, TaskState::cancelled);
  EXPECT_TRUE(f.effects.empty());
}

TEST(TreeStep, RetryOfDescendantFailureIsRefused) {
  Node n = canonical(TaskState::waiting);
  auto f = step(n, {EK::child_failed, 0, OnFailure::fail});
  auto r = step(f.node, {EK::retried});
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(r.ignored_because, "failed because a descendant failed: retry the descendant");
}

TEST(TreeStep, MoreCompletionsThanChildrenIgnored) {
  Node n = canonical(TaskState::waiting);
  n.outstanding = 0;
  n.join_fired = true;
  n.waiting_on = Phase::sub;
  auto s = step(n, {EK::child_completed});
  EXPECT_FALSE(s.changed);
  EXPECT_EQ(s.ignored_because, "more child completions than children");
}

TEST(TreeStep, EventNamesAreDistinct) {
  std::map<std::string, int> names;
  for (EK k : {EK::answered, EK::join_fired, EK::own_failed, EK::retried, EK::child_completed,
               EK::child_failed, EK::child_unfailed, EK::cancel}) {
    names[std::string(to_string(k))]++;
  }
  EXPECT_EQ(names.size(), 8u);
  EXPECT_EQ(to_string(EK::child_unfailed), "child_unfailed");
}

TEST(TreeStep, Pure) {
  Node n = canonical(TaskState::waiting);
  Event e{EK::child_failed, 0, OnFailure::fail};
  auto a = step(n, e);
  auto b = step(n, e);
  EXPECT_EQ(a.node.state, b.node.state);
  EXPECT_EQ(a.node.blocked, b.node.blocked);
  EXPECT_EQ(a.effects, b.effects);
}

// ---------------------------------------------------------------------------
// A miniature store shell: nodes in a vector, propagation by a work queue (no
// recursion), the join creating `planned_subs[i]` sub tasks.

struct Sim {
  std::vector<Node> nodes;
  std::vector<std::int64_t> parent;
  std::vector<std::vector<std::size_t>> kids;
  std::map<std::size_t, std::vector<OnFailure>> planned_subs;
  int ignored = 0;

  std::size_t add(std::int64_t p, OnFailure edge = OnFailure::fail) {
    Node n;
    n.has_parent = p >= 0;
    n.edge = edge;
    nodes.push_back(n);
    parent.push_back(p);
    kids.emplace_back();
    if (p >= 0) kids[static_cast<std::size_t>(p)].push_back(nodes.size() - 1);
    return nodes.size() - 1;
  }

  void apply(std::size_t target, Event first) {
    std::deque<std::pair<std::size_t, Event>> work{{target, first}};
    while (!work.empty()) {
      auto [i, ev] = work.front();
      work.pop_front();
      Step s = step(nodes[i], ev);
      if (!s.ignored_because.empty()) ++ignored;
      nodes[i] = s.node;
      for (EffectKind fx : s.effects) {
        const auto p = static_cast<std::size_t>(parent[i]);
        switch (fx) {
          case EffectKind::fire_join: {
            auto subs = planned_subs[i];
            for (OnFailure e : subs) add(static_cast<std::int64_t>(i), e);
            work.push_back({i, {EK::join_fired, static_cast<std::int64_t>(subs.size())}});
            break;
          }
          case EffectKind::notify_completed: work.push_back({p, {EK::child_completed}}); break;
          case EffectKind::notify_failed:
            work.push_back({p, {EK::child_failed, 0, nodes[i].edge}});
            break;
          case EffectKind::notify_unfailed:
            work.push_back({p, {EK::child_unfailed, 0, nodes[i].edge}});
            break;
        }
      }
    }
  }

  void dispatch(std::size_t i) {
    ASSERT_EQ(nodes[i].state, TaskState::pending);
    nodes[i].state = TaskState::running;
  }

  // i answers 2xx with immediate children of the given edges.
  std::vector<std::size_t> answer(std::size_t i, std::vector<OnFailure> edges = {}) {
    std::vector<std::size_t> created;
    for (OnFailure e : edges) created.push_back(add(static_cast<std::int64_t>(i), e));
    apply(i, {EK::answered, static_cast<std::int64_t>(edges.size())});
    return created;
  }

  void leaf(std::size_t i) {
    dispatch(i);
    answer(i);
  }

  void fail(std::size_t i) {
    dispatch(i);
    apply(i, {EK::own_failed});
  }

  TaskState state(std::size_t i) const { return nodes[i].state; }
};

constexpr auto F = OnFailure::fail;
constexpr auto C = OnFailure::proceed;

TEST(TreeScenario, FanOutOfThreeThenJoin) {
  Sim sim;
  auto root = sim.add(-1);
  sim.planned_subs[root] = {F};
  sim.dispatch(root);
  auto kids = sim.answer(root, {F, F, F});
  ASSERT_EQ(kids.size(), 3u);
  EXPECT_EQ(sim.state(root), TaskState::waiting);
  sim.leaf(kids[0]);
  sim.leaf(kids[2]);
  EXPECT_EQ(sim.nodes.size(), 4u) << "join must not fire before all immediate children";
  EXPECT_EQ(sim.nodes[root].outstanding, 1);
  sim.leaf(kids[1]);
  ASSERT_EQ(sim.nodes.size(), 5u) << "join fired: one sub task";
  EXPECT_TRUE(sim.nodes[root].join_fired);
  EXPECT_EQ(sim.nodes[root].waiting_on, Phase::sub);
  EXPECT_EQ(sim.state(root), TaskState::waiting);
  sim.leaf(4);
  EXPECT_EQ(sim.state(root), TaskState::completed);
  EXPECT_EQ(sim.ignored, 0);
}

TEST(TreeScenario, JoinWithZeroChildrenCompletesAtOnce) {
  Sim sim;
  auto root = sim.add(-1);
  sim.dispatch(root);
  sim.answer(root);
  EXPECT_EQ(sim.state(root), TaskState::completed);
  EXPECT_TRUE(sim.nodes[root].join_fired);
}

TEST(TreeScenario, NoImmediateChildrenButSubTasks) {
  Sim sim;
  auto root = sim.add(-1);
  sim.planned_subs[root] = {F, F};
  sim.dispatch(root);
  sim.answer(root);
  ASSERT_EQ(sim.nodes.size(), 3u);
  EXPECT_EQ(sim.state(root), TaskState::waiting);
  sim.leaf(1);
  EXPECT_EQ(sim.state(root), TaskState::waiting);
  sim.leaf(2);
  EXPECT_EQ(sim.state(root), TaskState::completed);
}

TEST(TreeScenario, FailureBlocksAndPropagates) {
  Sim sim;
  auto root = sim.add(-1);
  sim.planned_subs[root] = {F};
  sim.dispatch(root);
  auto mid = sim.answer(root, {F, F});
  sim.dispatch(mid[0]);
  auto leaves = sim.answer(mid[0], {F, F});
  sim.fail(leaves[0]);
  EXPECT_EQ(sim.state(leaves[0]), TaskState::failed);
  EXPECT_EQ(sim.state(mid[0]), TaskState::failed);
  EXPECT_FALSE(sim.nodes[mid[0]].own_failure);
  EXPECT_EQ(sim.state(root), TaskState::failed);
  EXPECT_EQ(sim.nodes[root].blocked, 1);
  // Work elsewhere goes on, but nothing can complete the root.
  sim.leaf(leaves[1]);
  sim.leaf(mid[1]);
  EXPECT_EQ(sim.state(root), TaskState::failed);
  EXPECT_FALSE(sim.nodes[root].join_fired) << "sub tasks are never created under a failure";
  EXPECT_EQ(sim.nodes.size(), 5u);
}

TEST(TreeScenario, UnfailReArms) {
  Sim sim;
  auto root = sim.add(-1);
  sim.planned_subs[root] = {F};
  sim.dispatch(root);
  auto mid = sim.answer(root, {F});
  sim.dispatch(mid[0]);
  auto leaves = sim.answer(mid[0], {F, F});
  sim.fail(leaves[0]);
  sim.leaf(leaves[1]);
  ASSERT_EQ(sim.state(root), TaskState::failed);
  // The user retries the failed leaf: ancestors go back to waiting.
  sim.apply(leaves[0], {EK::retried});
  EXPECT_EQ(sim.state(leaves[0]), TaskState::pending);
  EXPECT_EQ(sim.state(mid[0]), TaskState::waiting);
  EXPECT_EQ(sim.state(root), TaskState::waiting);
  EXPECT_EQ(sim.nodes[root].blocked, 0);
  sim.leaf(leaves[0]);
  EXPECT_EQ(sim.state(mid[0]), TaskState::completed);
  ASSERT_TRUE(sim.nodes[root].join_fired);
  sim.leaf(sim.nodes.size() - 1);
  EXPECT_EQ(sim.state(root), TaskState::completed);
}

TEST(TreeScenario, TwoBlockedChildrenNeedBothRetried) {
  Sim sim;
  auto root = sim.add(-1);
  sim.dispatch(root);
  auto kids = sim.answer(root, {F, F});
  sim.fail(kids[0]);
  sim.fail(kids[1]);
  EXPECT_EQ(sim.nodes[root].blocked, 2);
  sim.apply(kids[0], {EK::retried});
  EXPECT_EQ(sim.state(root), TaskState::failed) << "still blocked by the other child";
  sim.apply(kids[1], {EK::retried});
  EXPECT_EQ(sim.state(root), TaskState::waiting);
  sim.leaf(kids[0]);
  sim.leaf(kids[1]);
  EXPECT_EQ(sim.state(root), TaskState::completed);
}

TEST(TreeScenario, OnFailureContinueCountsAndLetsJoinFire) {
  Sim sim;
  auto root = sim.add(-1);
  sim.planned_subs[root] = {F};
  sim.dispatch(root);
  auto kids = sim.answer(root, {C, C, F});
  sim.fail(kids[0]);
  EXPECT_EQ(sim.state(root), TaskState::waiting);
  EXPECT_EQ(sim.nodes[root].failed_ok, 1);
  EXPECT_EQ(sim.nodes[root].blocked, 0);
  sim.leaf(kids[1]);
  sim.leaf(kids[2]);
  ASSERT_TRUE(sim.nodes[root].join_fired);
  sim.leaf(sim.nodes.size() - 1);
  EXPECT_EQ(sim.state(root), TaskState::completed);
  EXPECT_EQ(sim.state(kids[0]), TaskState::failed);
}

TEST(TreeScenario, ContinueChildRetriedBeforeJoinIsCountedAgain) {
  Sim sim;
  auto root = sim.add(-1);
  sim.dispatch(root);
  auto kids = sim.answer(root, {C, F});
  sim.fail(kids[0]);
  sim.apply(kids[0], {EK::retried});
  EXPECT_EQ(sim.nodes[root].failed_ok, 0);
  EXPECT_EQ(sim.nodes[root].outstanding, 2);
  sim.leaf(kids[1]);
  EXPECT_EQ(sim.state(root), TaskState::waiting) << "waits for the retried child";
  sim.leaf(kids[0]);
  EXPECT_EQ(sim.state(root), TaskState::completed);
}

TEST(TreeScenario, ContinueEdgeOfAFailedSubtree) {
  // mid (edge continue) fails because its own child failed: the root carries on.
  Sim sim;
  auto root = sim.add(-1);
  sim.dispatch(root);
  auto mid = sim.answer(root, {C});
  sim.dispatch(mid[0]);
  auto leaf = sim.answer(mid[0], {F});
  sim.fail(leaf[0]);
  EXPECT_EQ(sim.state(mid[0]), TaskState::failed);
  EXPECT_EQ(sim.state(root), TaskState::completed);
}

TEST(TreeScenario, DuplicateAnswersIgnored) {
  Sim sim;
  auto root = sim.add(-1);
  sim.dispatch(root);
  auto kids = sim.answer(root, {F, F});
  const Node before = sim.nodes[root];
  Step dup = step(sim.nodes[root], {EK::answered, 2});
  EXPECT_FALSE(dup.changed);
  EXPECT_EQ(dup.ignored_because, "answer for a task that is not running");
  EXPECT_EQ(dup.node.outstanding, before.outstanding);
  sim.leaf(kids[0]);
  // A duplicate delivery of the completed leaf's answer.
  Step dup2 = step(sim.nodes[kids[0]], {EK::answered, 0});
  EXPECT_FALSE(dup2.changed);
  EXPECT_TRUE(dup2.effects.empty());
  // A duplicate failure report of a completed task.
  Step dup3 = step(sim.nodes[kids[0]], {EK::own_failed});
  EXPECT_FALSE(dup3.changed);
  sim.leaf(kids[1]);
  EXPECT_EQ(sim.state(root), TaskState::completed);
}

TEST(TreeScenario, CancelStopsTheRun) {
  Sim sim;
  auto root = sim.add(-1);
  sim.dispatch(root);
  auto kids = sim.answer(root, {F, F});
  sim.dispatch(kids[0]);
  for (std::size_t i = 0; i < sim.nodes.size(); ++i) sim.apply(i, {EK::cancel});
  EXPECT_EQ(sim.state(root), TaskState::cancelled);
  EXPECT_EQ(sim.state(kids[1]), TaskState::cancelled);
  // The in-flight call answers: ignored, nothing spawned.
  auto before = sim.nodes.size();
  sim.apply(kids[0], {EK::answered, 3});
  EXPECT_EQ(sim.state(kids[0]), TaskState::cancelled);
  EXPECT_EQ(sim.nodes.size(), before);
}

TEST(TreeScenario, HundredThousandDeepChainCompletesTheRoot) {
  constexpr std::size_t kDepth = 100'000;
  Sim sim;
  sim.nodes.reserve(kDepth + 1);
  std::size_t cur = sim.add(-1);
  for (std::size_t d = 0; d < kDepth; ++d) {
    sim.dispatch(cur);
    cur = sim.answer(cur, {F})[0];
  }
  ASSERT_EQ(sim.nodes.size(), kDepth + 1);
  EXPECT_EQ(sim.state(0), TaskState::waiting);
  sim.leaf(cur);  // the deepest task answers: completion climbs 100,000 levels
  EXPECT_EQ(sim.state(0), TaskState::completed);
  for (std::size_t i = 0; i <= kDepth; i += 9973) EXPECT_EQ(sim.state(i), TaskState::completed);
  EXPECT_EQ(sim.ignored, 0);
}

TEST(TreeScenario, DeepChainFailureAndRetryClimbIteratively) {
  constexpr std::size_t kDepth = 100'000;
  Sim sim;
  std::size_t cur = sim.add(-1);
  for (std::size_t d = 0; d < kDepth; ++d) {
    sim.dispatch(cur);
    cur = sim.answer(cur, {F})[0];
  }
  sim.fail(cur);
  EXPECT_EQ(sim.state(0), TaskState::failed);
  sim.apply(cur, {EK::retried});
  EXPECT_EQ(sim.state(0), TaskState::waiting);
  sim.leaf(cur);
  EXPECT_EQ(sim.state(0), TaskState::completed);
}

TEST(TreeScenario, PaginatedChainOfSubTasks) {
  // Trigger page 1 -> sub task Trigger page 2 -> ... (the flagship shape).
  Sim sim;
  std::size_t page = sim.add(-1);
  for (int p = 0; p < 50; ++p) {
    sim.planned_subs[page] = {F};
    sim.dispatch(page);
    auto items = sim.answer(page, {F, F});
    sim.leaf(items[0]);
    sim.leaf(items[1]);
    page = sim.nodes.size() - 1;  // the sub task just created
  }
  sim.leaf(page);  // last page: no next
  EXPECT_EQ(sim.state(0), TaskState::completed);
}

}  // namespace
}  // namespace treeflow::core
