#include "engine/scheduler.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/queue.h"
#include "engine/crash.h"
#include "engine/transitions.h"

namespace treeflow::engine {

using core::TaskState;
using core::TimeMs;

TimeMs now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Scheduler::Scheduler(store::Store& store, const EngineOptions& options, DispatchSink dispatch)
    : store_(store),
      options_(options),
      dispatch_(std::move(dispatch)),
      state_ptr_(std::make_unique<DispatchState>()),
      state_(*state_ptr_) {
  state_.limits = options_.limits;
  state_.stats = &stats_;
  // Queues: stored ones, then the config file's over them, then "default".
  for (auto& q : store_.load_queues()) state_.queues[q.name] = q;
  bool changed = false;
  for (auto& q : options_.queues) {
    bool paused = state_.queues.count(q.name) ? state_.queues[q.name].paused : q.paused;
    state_.queues[q.name] = q;
    state_.queues[q.name].paused = paused;
    changed = true;
  }
  if (!state_.queues.count("default")) {
    state_.queues["default"] = core::QueueConfig{};
    changed = true;
  }
  if (changed) {
    auto tx = store_.begin();
    for (auto& [n, q] : state_.queues) tx->save_queue(q);
    tx->commit();
  }
  {
    std::lock_guard lk(mu_);
    snapshot_queues_locked();
  }
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::set_transition_sink(TransitionSink sink, std::function<bool()> wanted) {
  transitions_ = std::move(sink);
  transitions_wanted_ = std::move(wanted);
}

void Scheduler::start() {
  auto moved = store_.requeue_running(now_ms());
  std::int64_t total = 0;
  for (auto& [run, n] : moved) total += n;
  if (total > 0)
    spdlog::info("recovered {} task(s) that were running when the engine stopped; they will be "
                 "dispatched again",
                 total);
  state_.set_fanouts(store_.load_fanouts());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "tf-store");  // named for top -H and perf
    loop();
  });
}

void Scheduler::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::post_answer(Answer answer) {
  {
    std::lock_guard lk(mu_);
    answers_.push_back(std::move(answer));
  }
  cv_.notify_one();
}

void Scheduler::submit(Command command, Done done) {
  {
    std::lock_guard lk(mu_);
    commands_.emplace_back(std::move(command), std::move(done));
  }
  cv_.notify_one();
}

std::vector<core::QueueConfig> Scheduler::queues() const {
  std::lock_guard lk(mu_);
  return queue_snapshot_;
}

void Scheduler::snapshot_queues_locked() {
  queue_snapshot_.clear();
  for (auto& [n, q] : state_.queues) queue_snapshot_.push_back(q);
  std::sort(queue_snapshot_.begin(), queue_snapshot_.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
}

void Scheduler::loop() {
  std::vector<Answer> answers;
  std::vector<std::pair<Command, Done>> commands;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      TimeMs now = now_ms();
      TimeMs wake = next_lease_sweep_;
      for (auto& [name, q] : state_.queues) {
        if (q.paused) continue;
        if (state_.inflight[name] >= static_cast<std::size_t>(q.max_concurrent_dispatches)) continue;
        auto due = state_.next_due.find(name);
        wake = std::min(wake, due == state_.next_due.end() ? now : due->second);
      }
      if (answers_.empty() && commands_.empty() && !stopping_ && wake > now &&
          !state_.fanouts_ready()) {
        cv_.wait_for(lk, std::chrono::milliseconds(std::min<TimeMs>(wake - now, 1000)));
      }
      if (stopping_) return;
      answers.swap(answers_);
      commands.swap(commands_);
    }
    TimeMs now = now_ms();
    state_.collect_transitions = transitions_ && (!transitions_wanted_ || transitions_wanted_());
    std::vector<Dispatch> dispatches;
    std::vector<CommandResult> results;
    std::vector<std::tuple<std::string, std::string, TaskState>> transitions;
    bool committed = false;
    try {
      auto tx = store_.begin();
      auto work = Transitions::begin(state_, *tx, now);
      Transitions& ctx = *work;
      for (auto& a : answers) {
        ctx.on_answer(a);
        stats_.answers++;
      }
      for (auto& [cmd, done] : commands) {
        try {
          results.push_back(cmd(ctx));
        } catch (const store::StoreError&) {
          throw;
        } catch (const std::exception& e) {
          results.push_back(CommandResult{false, nullptr, ApiError{500, "internal", e.what()}});
        }
      }
      if (now >= next_lease_sweep_) {
        ctx.expire_leases();
        next_lease_sweep_ = now + 1000;
      }
      dispatches = ctx.lease_and_flush();
      crash_point("before_commit");
      tx->commit();
      committed = true;
      crash_point("after_commit");
      stats_.transactions++;
      transitions = ctx.take_transitions();
      if (ctx.queues_changed()) {
        std::lock_guard lk(mu_);
        snapshot_queues_locked();
      }
    } catch (const std::exception& e) {
      // Nothing of this batch is stored. Answers are applied again in the next
      // transaction; commands fail (the caller may retry them).
      spdlog::error("store transaction failed (will retry): {}", e.what());
      results.assign(commands.size(),
                     CommandResult{false, nullptr, ApiError{503, "store_error", e.what()}});
      dispatches.clear();
      state_.next_due.clear();
      try {
        state_.set_fanouts(store_.load_fanouts());
      } catch (...) {
      }
      try {
        state_.queues.clear();
        for (auto& q : store_.load_queues()) state_.queues[q.name] = q;
      } catch (...) {
      }
      if (!state_.queues.count("default")) state_.queues["default"] = core::QueueConfig{};
      {
        std::lock_guard lk(mu_);
        answers_.insert(answers_.begin(), std::make_move_iterator(answers.begin()),
                        std::make_move_iterator(answers.end()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (committed) {
      state_.record_commit(answers, dispatches);
      inflight_total_ = state_.inflight_ids.size();
      stats_.dispatches += dispatches.size();
      if (!dispatches.empty()) dispatch_(std::move(dispatches));
    }
    for (std::size_t i = 0; i < commands.size(); ++i)
      if (commands[i].second) commands[i].second(std::move(results[i]));
    if (transitions_ && !transitions.empty()) transitions_(transitions);
    answers.clear();
    commands.clear();
  }
}

}  // namespace treeflow::engine
