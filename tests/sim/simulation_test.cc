// Deterministic simulation of the engine's transaction logic (issue:
// reliability). A seed decides everything: a random tree of endpoints, their
// latency and answers (success, 5xx, 404, timeouts, duplicate and late
// deliveries), crashes before or after a commit, a user retrying failed runs
// and sometimes cancelling. The real Transitions code runs over an in-memory
// store with a fake clock; after every commit the invariants are checked on
// the committed state, and at the end the run must be finished with nothing
// lost or done twice.
//
// A failing seed prints itself; replay it with TREEFLOW_SIM_SEED=<seed>.
// TREEFLOW_SIM_SEEDS=<n> changes how many seeds run (default 2000; `make sim`).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "core/envelope.h"
#include "engine/transitions.h"
#include "memory_store.h"

namespace treeflow::sim {
namespace {

namespace json = boost::json;
using core::TaskState;
using engine::Answer;
using engine::Dispatch;

// ---------------------------------------------------------------- the tree ---

struct Spec {
  bool each = false;          // each over a list of ids, else one child (custom {"id"})
  bool children_input = false;  // sub spec only: payload = the chord, plus {"id"}
  bool proceed = false;       // on_failure: continue
  std::vector<int> kids;
};

struct NodeSpec {
  std::vector<Spec> immediate;
  std::vector<Spec> sub;
};

struct Tree {
  std::vector<NodeSpec> nodes;  // node 0 is the root
};

Tree make_tree(std::mt19937_64& rng) {
  Tree t;
  t.nodes.emplace_back();
  std::vector<std::pair<int, int>> stack{{0, 0}};  // (node, depth)
  auto coin = [&](double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; };
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<>(lo, hi)(rng); };
  const int max_nodes = pick(5, 60);
  while (!stack.empty() && static_cast<int>(t.nodes.size()) < max_nodes) {
    auto [n, depth] = stack.back();
    stack.pop_back();
    if (depth >= 6) continue;
    auto add_specs = [&](bool sub) {
      int count = pick(0, sub ? 1 : 2);
      std::vector<Spec> specs;
      for (int i = 0; i < count; ++i) {
        Spec s;
        s.each = coin(0.6);
        s.children_input = sub && !s.each && coin(0.4);
        s.proceed = !sub && coin(0.15);
        int k = s.each ? pick(0, 4) : 1;
        for (int j = 0; j < k && static_cast<int>(t.nodes.size()) < max_nodes; ++j) {
          int id = static_cast<int>(t.nodes.size());
          t.nodes.emplace_back();
          s.kids.push_back(id);
          stack.emplace_back(id, depth + 1);
        }
        if (!s.each && s.kids.empty()) continue;
        specs.push_back(std::move(s));
      }
      return specs;
    };
    auto imm = add_specs(false);
    auto sub = add_specs(true);
    t.nodes[n].immediate = std::move(imm);
    t.nodes[n].sub = std::move(sub);
  }
  return t;
}

// The response data of node k: its id and the id lists its specs iterate.
json::object node_data(const Tree& t, int k) {
  json::object d{{"id", k}};
  auto lists = [&](const std::vector<Spec>& specs, const char* prefix) {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      json::array a;
      for (int kid : specs[i].kids) a.push_back(kid);
      d[prefix + std::to_string(i)] = a;
    }
  };
  lists(t.nodes[k].immediate, "i");
  lists(t.nodes[k].sub, "s");
  return d;
}

json::array specs_json(const std::vector<Spec>& specs, const char* prefix) {
  json::array out;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const Spec& s = specs[i];
    json::object j{{"url", "/n"}};
    if (s.each) {
      j["input_type"] = "each";
      j["input_path"] = std::string("/") + prefix + std::to_string(i);
    } else if (s.children_input) {
      j["input_type"] = "children";
      j["custom_input"] = json::object{{"id", s.kids[0]}};
    } else {
      j["input_type"] = "custom";
      j["custom_input"] = json::object{{"id", s.kids[0]}};
    }
    if (s.proceed) j["on_failure"] = "continue";
    out.push_back(std::move(j));
  }
  return out;
}

// --------------------------------------------------------------- the world ---

struct Delivery {
  core::TimeMs at;
  Answer answer;
  int epoch;  // the engine process that sent it; answers to a dead one are lost
};

struct World {
  std::uint64_t seed;
  std::mt19937_64 rng;
  Tree tree;
  MemState store;
  engine::SchedulerStats stats;
  engine::DispatchState state;
  core::TimeMs now = 1'700'000'000'000;
  core::TimeMs next_sweep = 0;
  std::vector<Delivery> inflight;
  std::vector<Answer> ready;
  std::map<int, int> executions;  // node -> successful calls (side effects)
  std::set<int> poisoned;         // nodes that answer 404 until the user "fixes" them
  std::string run_id;
  int epoch = 0;
  int crashes = 0, retries_by_user = 0, steps = 0;
  bool cancel_planned = false;
  std::ostringstream trace;

  explicit World(std::uint64_t s) : seed(s), rng(s) {
    tree = make_tree(rng);
    core::QueueConfig q;
    q.retry.min_backoff_ms = 10;
    q.retry.max_backoff_ms = 200;
    q.retry.max_attempts = 4;
    q.max_concurrent_dispatches = 1 + static_cast<int>(rng() % 8);
    q.dispatch_deadline_ms = 15'000;
    state.queues["default"] = q;
    state.stats = &stats;
    state.fanout_chunk = static_cast<std::size_t>(pick(1, 4));  // big fan-outs, in small
    cancel_planned = coin(0.05);
  }

  bool coin(double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; }
  int pick(int lo, int hi) { return std::uniform_int_distribution<>(lo, hi)(rng); }

  // What endpoint "/n" does with one dispatched attempt.
  void endpoint(const Dispatch& d) {
    boost::system::error_code ec;
    json::value body = core::parse_json(d.request.body, ec);
    ASSERT_FALSE(ec) << "payload not JSON: " << d.request.body;
    int k = -1;
    if (body.is_int64()) k = static_cast<int>(body.as_int64());
    if (body.is_object()) k = static_cast<int>(body.at("id").as_int64());
    ASSERT_GE(k, 0) << d.request.body;
    ASSERT_LT(k, static_cast<int>(tree.nodes.size()));
    // A chord's payload holds the immediate children's data, in order.
    if (body.is_object() && body.as_object().contains("input")) {
      int parent = -1;
      for (std::size_t p = 0; p < tree.nodes.size(); ++p)
        for (auto& s : tree.nodes[p].sub)
          if (!s.kids.empty() && s.kids[0] == k && s.children_input) parent = static_cast<int>(p);
      ASSERT_GE(parent, 0);
      std::vector<json::value> expect;
      std::vector<bool> may_fail;
      for (auto& s : tree.nodes[parent].immediate)
        for (int kid : s.kids) {
          expect.push_back(node_data(tree, kid));
          may_fail.push_back(s.proceed);
        }
      const auto& input = body.at("input").as_array();
      ASSERT_EQ(input.size(), expect.size()) << "chord of node " << parent;
      for (std::size_t i = 0; i < input.size(); ++i) {
        if (may_fail[i] && input[i].is_object() && input[i].as_object().contains("error")) continue;
        ASSERT_EQ(input[i], expect[i]) << "chord of node " << parent << " item " << i;
      }
    }
    Answer a;
    a.task_id = d.task_id;
    a.attempt = d.attempt;
    core::TimeMs latency = pick(1, 40);
    double r = std::uniform_real_distribution<>(0, 1)(rng);
    if (poisoned.count(k) || (r < 0.01 && k != 0)) {
      poisoned.insert(k);
      a.status = 404;  // permanent: fails the task at once
    } else if (r < 0.15) {
      a.status = 503;
    } else if (r < 0.20) {
      a.error = "connection reset";
    } else if (r < 0.22) {
      a.error = "deadline exceeded";
      a.status = 0;
      latency = d.deadline_ms;  // the answer never came; the client gives up
    } else {
      a.status = 200;
      a.envelope = true;
      json::object env{{"id", d.task_id},
                       {"response", json::object{{"status_code", 200}, {"data", node_data(tree, k)}}},
                       {"immediate_next", specs_json(tree.nodes[k].immediate, "i")},
                       {"sub_task_next", specs_json(tree.nodes[k].sub, "s")}};
      a.body = json::serialize(env);
      executions[k]++;
    }
    inflight.push_back({now + latency, a, epoch});
    if (coin(0.03)) inflight.push_back({now + latency + pick(0, 50), a, epoch});  // duplicate
  }

  void crash(const char* where) {
    ++crashes;
    ++epoch;
    trace << "step " << steps << ": crash " << where << "\n";
    state.reset_after_crash();
    requeue_running(store, now);
    state.set_fanouts(store.fanouts);  // as Scheduler::start does
    ready.clear();
    // Answers still on the wire belonged to the dead process's connections.
    std::erase_if(inflight, [&](const Delivery& d) { return d.epoch != epoch; });
  }

  // One scheduler transaction, maybe crashing before or after the commit.
  void transaction() {
    MemoryTx tx(store);
    auto t = engine::Transitions::begin(state, tx, now);
    std::vector<Answer> answers = std::move(ready);
    ready.clear();
    for (auto& a : answers) t->on_answer(a);
    std::string started;  // known to the client only once committed
    if (run_id.empty()) {
      auto r = t->start_run(json::object{{"url", "http://sim.test/n"}, {"payload", json::object{{"id", 0}}}});
      ASSERT_TRUE(r.ok) << r.error.message;
      started = std::string(r.value.at("run_id").as_string());
    } else {
      const RunRow& run = store.runs.at(run_id);
      if (run.state == core::RunState::failed && coin(0.3)) {
        poisoned.clear();  // the user fixed the endpoint
        auto r = t->retry_run(run_id);
        ASSERT_TRUE(r.ok) << r.error.message;
        ++retries_by_user;
        trace << "step " << steps << ": retry run\n";
      }
      if (cancel_planned && run.state == core::RunState::running && coin(0.02)) {
        auto r = t->cancel_run(run_id);
        ASSERT_TRUE(r.ok) << r.error.message;
        cancel_planned = false;
        trace << "step " << steps << ": cancel\n";
      }
    }
    if (now >= next_sweep) {
      t->expire_leases();
      next_sweep = now + 1000;
    }
    auto dispatches = t->lease_and_flush();
    if (coin(0.02)) return crash("before commit");  // tx dropped: rolled back
    tx.commit();
    if (!started.empty()) run_id = started;
    state.record_commit(answers, dispatches);
    for (auto& [run, task, st] : t->take_transitions())
      trace << "step " << steps << ": " << task.substr(0, 6) << " -> " << core::to_string(st) << "\n";
    for (auto& a : answers)
      trace << "step " << steps << ": answer " << a.task_id.substr(0, 6) << " attempt " << a.attempt
            << " status " << a.status << "\n";
    check_invariants();
    if (::testing::Test::HasFatalFailure()) return;
    if (coin(0.02)) return crash("after commit, before dispatch");
    for (auto& d : dispatches) {
      endpoint(d);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  bool finished() const {
    if (run_id.empty()) return false;
    const RunRow& r = store.runs.at(run_id);
    return r.state == core::RunState::completed || r.state == core::RunState::cancelled;
  }

  void step() {
    ++steps;
    // Deliver what has arrived by now, in random order.
    std::shuffle(inflight.begin(), inflight.end(), rng);
    for (auto it = inflight.begin(); it != inflight.end();) {
      if (it->at <= now) {
        ready.push_back(std::move(it->answer));
        it = inflight.erase(it);
      } else {
        ++it;
      }
    }
    transaction();
    // Advance the clock: to the next delivery or due task, never backwards.
    core::TimeMs next = now + 1000;
    for (auto& d : inflight) next = std::min(next, d.at);
    for (auto& [id, t] : store.tasks)
      if (t.state == TaskState::pending) next = std::min(next, std::max(t.not_before, now));
    now = std::max(now + 1, next);
  }

  // ------------------------------------------------------------ invariants ---
  void check_invariants() {
    std::map<std::string, std::vector<const TaskRow*>> kids;
    for (auto& [id, t] : store.tasks) kids[t.parent_id].push_back(&t);
    store::StateCounts recount{};
    std::set<int> seen_nodes;
    for (auto& [id, t] : store.tasks) {
      recount[static_cast<int>(t.state)]++;
      ASSERT_EQ(t.node.state, t.state) << id;
      // Exactly one task per tree node.
      boost::system::error_code ec;
      json::value b = core::parse_json(t.request.body, ec);
      int k = b.is_int64() ? static_cast<int>(b.as_int64()) : static_cast<int>(b.at("id").as_int64());
      ASSERT_TRUE(seen_nodes.insert(k).second) << "node " << k << " has two tasks";
      // The counters of each task equal a recount of its children.
      std::int64_t outstanding = 0, blocked = 0, failed_ok = 0;
      bool immediate_done = true;
      for (const TaskRow* c : kids[id]) {
        bool done_ok = c->state == TaskState::completed;
        bool failed_proceed = c->state == TaskState::failed && c->on_failure == core::OnFailure::proceed;
        if (c->phase == core::Phase::immediate && !done_ok && !failed_proceed) immediate_done = false;
        if (failed_proceed) failed_ok++;  // over both phases: failed_ok is not reset by the join
        if (c->phase != t.node.waiting_on) continue;
        if (c->state == TaskState::failed && !failed_proceed) blocked++;
        if (!done_ok && !failed_proceed) outstanding++;
      }
      // Children of a saved fan-out not stored yet count as pending ones.
      std::int64_t unstored_immediate = 0;
      for (auto& f : store.fanouts) {
        if (f.parent_id != id) continue;
        ASSERT_NE(t.state, TaskState::completed) << "node " << k << " completed with children unstored";
        std::int64_t expect = 0, have = 0;
        for (auto& s : f.phase == core::Phase::immediate ? tree.nodes[k].immediate : tree.nodes[k].sub)
          expect += static_cast<std::int64_t>(s.kids.size());
        for (const TaskRow* c : kids[id]) have += c->phase == f.phase;
        ASSERT_LT(have, expect) << "node " << k << ": a saved fan-out with every child stored";
        if (f.phase == t.node.waiting_on) outstanding += expect - have;
        if (f.phase == core::Phase::immediate) unstored_immediate = expect - have;
      }
      if (t.state == TaskState::waiting || (t.state == TaskState::failed && !t.node.own_failure)) {
        ASSERT_EQ(t.node.outstanding, outstanding) << "task " << id << " node " << k;
        ASSERT_EQ(t.node.blocked, blocked) << "task " << id << " node " << k;
        ASSERT_EQ(t.node.failed_ok, failed_ok) << "task " << id << " node " << k;
      }
      // A join fires only after every immediate child's subtree completed.
      if (t.node.join_fired && t.state != TaskState::cancelled) {
        std::string children;
        for (const TaskRow* c : kids[id])
          children += c->id.substr(0, 6) + ":" + std::string(core::to_string(c->state)) + "/" +
                      std::to_string(static_cast<int>(c->phase)) + " ";
        ASSERT_TRUE(immediate_done) << "join of node " << k << " (" << core::to_string(t.state)
                                    << ") fired early; id " << id.substr(0, 6)
                                    << " children: " << children;
      }
      bool has_sub_kids = false;
      for (const TaskRow* c : kids[id]) has_sub_kids |= c->phase == core::Phase::sub;
      if (has_sub_kids) {
        ASSERT_TRUE(t.node.join_fired) << "node " << k;
      }
      // A completed task's children all exist and are done; failure blocks ancestors.
      if (t.state == TaskState::completed) {
        std::size_t expect = 0;
        for (auto& s : tree.nodes[k].immediate) expect += s.kids.size();
        for (auto& s : tree.nodes[k].sub) expect += s.kids.size();
        ASSERT_EQ(kids[id].size(), expect) << "completed node " << k << " lacks children";
        for (const TaskRow* c : kids[id])
          ASSERT_TRUE(c->state == TaskState::completed ||
                      (c->state == TaskState::failed && c->on_failure == core::OnFailure::proceed))
              << "node " << k << " completed before a child";
      }
      if (t.state == TaskState::waiting || t.state == TaskState::completed) {
        std::size_t expect = 0;
        for (auto& s : tree.nodes[k].immediate) expect += s.kids.size();
        std::size_t have = 0;
        for (const TaskRow* c : kids[id]) have += c->phase == core::Phase::immediate;
        ASSERT_EQ(have + static_cast<std::size_t>(unstored_immediate), expect)
            << "node " << k << ": immediate children lost or doubled";
      }
    }
    const RunRow& run = store.runs.at(run_id);
    for (int i = 0; i < core::kTaskStateCount; ++i)
      ASSERT_EQ(run.counts[i], recount[i]) << "run counter " << core::to_string(static_cast<TaskState>(i));
  }
};

struct Figures {
  std::uint64_t crashes = 0, tasks = 0, completed = 0, cancelled = 0, user_retries = 0, steps = 0;
};

void simulate(std::uint64_t seed, Figures& f) {
  World w(seed);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (replay: TREEFLOW_SIM_SEED=" +
               std::to_string(seed) + ")");
  while (!w.finished() && w.steps < 20000) {
    w.step();
    if (::testing::Test::HasFatalFailure()) {
      std::printf("%s", w.trace.str().c_str());
      return;
    }
  }
  ASSERT_TRUE(w.finished()) << "run did not finish in 20000 steps; state "
                            << core::to_string(w.store.runs.at(w.run_id).state) << "\n"
                            << w.trace.str();
  const RunRow& r = w.store.runs.at(w.run_id);
  f.crashes += static_cast<std::uint64_t>(w.crashes);
  f.tasks += w.store.tasks.size();
  f.completed += r.state == core::RunState::completed;
  f.cancelled += r.state == core::RunState::cancelled;
  f.user_retries += static_cast<std::uint64_t>(w.retries_by_user);
  f.steps += static_cast<std::uint64_t>(w.steps);
  EXPECT_EQ(r.counts[static_cast<int>(TaskState::pending)] + r.counts[static_cast<int>(TaskState::running)], 0)
      << "run " << core::to_string(r.state) << "\n" << w.trace.str();
  for (auto& [id, t] : w.store.tasks)
    EXPECT_TRUE(t.state != TaskState::pending && t.state != TaskState::running)
        << "task " << id << " is " << core::to_string(t.state) << " (parent " << t.parent_id
        << ", phase " << static_cast<int>(t.phase) << ", error " << t.last_error << ")";
  if (r.state == core::RunState::completed) {
    // Every node ran (at least once: delivery is at least once) unless it was
    // under a child that failed with on_failure=continue.
    for (auto& [id, t] : w.store.tasks)
      if (t.state == TaskState::completed) {
        boost::system::error_code ec;
        json::value b = core::parse_json(t.request.body, ec);
        int k = b.is_int64() ? static_cast<int>(b.as_int64()) : static_cast<int>(b.at("id").as_int64());
        EXPECT_GE(w.executions[k], 1) << "node " << k;
      }
    EXPECT_EQ(r.counts[static_cast<int>(TaskState::waiting)], 0);
  }
}

std::uint64_t env_u64(const char* name, std::uint64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : def;
}

TEST(Simulation, ManySeedsKeepEveryInvariant) {
  Figures f;
  if (const char* one = std::getenv("TREEFLOW_SIM_SEED"); one && *one) {
    simulate(std::strtoull(one, nullptr, 10), f);
    return;
  }
  std::uint64_t n = env_u64("TREEFLOW_SIM_SEEDS", 2000);
  std::uint64_t first = env_u64("TREEFLOW_SIM_FIRST", 1);
  for (std::uint64_t seed = first; seed < first + n; ++seed) {
    simulate(seed, f);
    if (HasFailure()) {
      std::printf("simulation failed at seed %llu\n", static_cast<unsigned long long>(seed));
      return;
    }
  }
  EXPECT_EQ(f.completed + f.cancelled, n);
  EXPECT_GT(f.crashes, n / 2);  // the crash paths were exercised
  std::printf("[ figures ] %llu seeds: %llu tasks, %llu steps, %llu crashes survived, %llu runs "
              "completed, %llu cancelled, %llu user retries of failed runs\n",
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(f.tasks),
              static_cast<unsigned long long>(f.steps), static_cast<unsigned long long>(f.crashes),
              static_cast<unsigned long long>(f.completed), static_cast<unsigned long long>(f.cancelled),
              static_cast<unsigned long long>(f.user_retries));
}

}  // namespace
}  // namespace treeflow::sim
