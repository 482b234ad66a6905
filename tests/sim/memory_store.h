// An in-memory Store for the deterministic simulation: the same verbs as the
// SQLite store, over maps. A transaction works on a copy of the committed
// state and replaces it on commit, so "crashing" (dropping a transaction
// before commit) leaves exactly what was committed, as a real crash does.
#pragma once

#include <algorithm>
#include <map>
#include <memory>

#include "store/store.h"

namespace treeflow::sim {

using store::RunRow;
using store::TaskRow;

struct MemState {
  std::map<std::string, TaskRow> tasks;
  std::map<std::string, RunRow> runs;
  std::int64_t next_seq = 1;
  std::map<std::string, core::QueueConfig> queues;
  std::vector<store::FanoutRef> fanouts;  // saved, oldest first
};

class MemoryTx final : public store::WriteTx {
 public:
  MemoryTx(MemState& committed) : committed_(committed), s_(committed) {}

  std::optional<TaskRow> task(std::string_view id) override {
    auto it = s_.tasks.find(std::string(id));
    if (it == s_.tasks.end()) return std::nullopt;
    TaskRow t = it->second;
    t.response_data.clear();  // as the SQLite store: read separately
    return t;
  }
  std::string response_data(std::string_view id) override {
    auto it = s_.tasks.find(std::string(id));
    return it == s_.tasks.end() ? std::string() : it->second.response_data;
  }
  std::optional<RunRow> run(std::string_view id) override {
    auto it = s_.runs.find(std::string(id));
    if (it == s_.runs.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> run_id_by_name(std::string_view name) override {
    for (auto& [id, r] : s_.runs)
      if (!name.empty() && r.name == name) return id;
    return std::nullopt;
  }
  void insert_run(const RunRow& r) override { s_.runs[r.id] = r; }
  std::size_t insert_tasks(std::span<TaskRow> tasks) override {
    std::size_t n = 0;
    for (auto& t : tasks) {
      t.seq = 0;
      if (s_.tasks.count(t.id)) continue;
      t.seq = s_.next_seq++;
      TaskRow c = t;
      c.node.state = c.state;
      c.node.has_parent = !c.parent_id.empty();
      c.node.edge = c.on_failure;
      s_.tasks[c.id] = c;
      ++n;
    }
    return n;
  }
  bool update_task(const TaskRow& t, core::TaskState expected, bool with_response) override {
    auto it = s_.tasks.find(t.id);
    if (it == s_.tasks.end() || it->second.state != expected) return false;
    std::int64_t seq = it->second.seq;
    std::string response = std::move(it->second.response_data);
    it->second = t;
    it->second.seq = seq;
    if (!with_response) it->second.response_data = std::move(response);
    it->second.node.state = t.state;
    return true;
  }
  void update_run_state(std::string_view run_id, core::RunState state, bool cancelled,
                        core::TimeMs finished_at) override {
    auto& r = s_.runs.at(std::string(run_id));
    r.state = state;
    r.cancelled = cancelled;
    r.finished_at = finished_at;
  }
  void add_run_delta(std::string_view run_id, const store::RunDelta& d) override {
    auto& r = s_.runs.at(std::string(run_id));
    for (int i = 0; i < core::kTaskStateCount; ++i) r.counts[i] += d.counts[i];
    r.dispatches += d.dispatches;
    r.retries += d.retries;
  }
  std::vector<TaskRow> claim_due(std::string_view queue, core::TimeMs now, std::size_t limit,
                                 core::TimeMs lease_until) override {
    std::vector<TaskRow*> due;
    for (auto& [id, t] : s_.tasks)
      if (t.state == core::TaskState::pending && t.queue == queue && t.not_before <= now)
        due.push_back(&t);
    std::sort(due.begin(), due.end(), [](auto* a, auto* b) {
      return std::tie(a->not_before, a->seq) < std::tie(b->not_before, b->seq);
    });
    if (due.size() > limit) due.resize(limit);
    std::vector<TaskRow> out;
    for (auto* t : due) {
      t->state = core::TaskState::running;
      t->node.state = t->state;
      t->attempts += 1;
      t->lease_until = lease_until;
      t->updated_at = now;
      if (t->first_attempt_at == 0) t->first_attempt_at = now;
      out.push_back(*t);
    }
    return out;
  }
  std::optional<core::TimeMs> next_due(std::string_view queue) override {
    std::optional<core::TimeMs> best;
    for (auto& [id, t] : s_.tasks)
      if (t.state == core::TaskState::pending && t.queue == queue && (!best || t.not_before < *best))
        best = t.not_before;
    return best;
  }
  std::vector<std::string> expired_leases(core::TimeMs now, std::size_t limit) override {
    std::vector<std::string> out;
    for (auto& [id, t] : s_.tasks)
      if (t.state == core::TaskState::running && t.lease_until > 0 && t.lease_until < now &&
          out.size() < limit)
        out.push_back(id);
    return out;
  }
  std::vector<std::string> run_task_ids(std::string_view run_id,
                                        const std::vector<core::TaskState>& states) override {
    std::vector<std::pair<std::int64_t, std::string>> found;
    for (auto& [id, t] : s_.tasks)
      if (t.run_id == run_id && std::find(states.begin(), states.end(), t.state) != states.end())
        found.emplace_back(t.seq, id);
    std::sort(found.begin(), found.end());
    std::vector<std::string> out;
    for (auto& [seq, id] : found) out.push_back(id);
    return out;
  }
  std::vector<std::pair<core::TaskState, std::string>> children_data(std::string_view parent_id,
                                                                     core::Phase phase) override {
    std::vector<const TaskRow*> kids;
    for (auto& [id, t] : s_.tasks)
      if (t.parent_id == parent_id && t.phase == phase) kids.push_back(&t);
    std::sort(kids.begin(), kids.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
    std::vector<std::pair<core::TaskState, std::string>> out;
    for (auto* k : kids)
      out.emplace_back(k->state,
                       k->state == core::TaskState::completed ? k->response_data : k->last_error);
    return out;
  }
  std::vector<std::string> pending_in_queue(std::string_view queue, std::size_t limit) override {
    std::vector<std::string> out;
    for (auto& [id, t] : s_.tasks)
      if (t.state == core::TaskState::pending && t.queue == queue && out.size() < limit)
        out.push_back(id);
    return out;
  }
  void save_queue(const core::QueueConfig& q) override { s_.queues[q.name] = q; }
  void save_fanout(const store::FanoutRef& f) override {
    delete_fanout(f.parent_id, f.phase);
    s_.fanouts.push_back(f);
  }
  void delete_fanout(std::string_view parent_id, core::Phase phase) override {
    std::erase_if(s_.fanouts, [&](const store::FanoutRef& f) {
      return f.parent_id == parent_id && f.phase == phase;
    });
  }
  void commit() override { committed_ = std::move(s_); }

 private:
  MemState& committed_;
  MemState s_;  // the working copy
};

// Crash recovery on the committed state, as SqliteStore::requeue_running does.
inline void requeue_running(MemState& s, core::TimeMs now) {
  for (auto& [id, t] : s.tasks) {
    if (t.state != core::TaskState::running) continue;
    auto& r = s.runs.at(t.run_id);
    r.counts[static_cast<int>(core::TaskState::running)] -= 1;
    r.counts[static_cast<int>(core::TaskState::pending)] += 1;
    t.state = core::TaskState::pending;
    t.node.state = t.state;
    t.not_before = now;
    t.lease_until = 0;
  }
}

}  // namespace treeflow::sim
