#include "engine/transitions.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "core/envelope.h"
#include "core/ids.h"
#include "core/inputs.h"
#include "core/queue.h"
#include "core/retry.h"
#include "core/tree.h"
#include "core/url.h"
#include "engine/crash.h"

namespace treeflow::engine {

namespace json = boost::json;
using core::TaskState;
using core::TimeMs;
using store::TaskRow;

namespace {

CommandResult ok(json::value v) { return CommandResult{true, std::move(v), {}}; }
CommandResult fail(int status, std::string code, std::string message) {
  return CommandResult{false, nullptr, ApiError{status, std::move(code), std::move(message)}};
}

std::string new_run_id() {
  unsigned char e[16];
  if (RAND_bytes(e, sizeof e) != 1) throw std::runtime_error("RAND_bytes failed");
  return core::run_id_from_entropy(e);
}

// How a payload (any JSON) becomes a request body: "" and null give no body;
// other strings are sent as they are; everything else as JSON text.
std::string body_of(const json::value& payload) {
  if (payload.is_null()) return {};
  if (const auto* s = payload.if_string()) return std::string(*s);
  return json::serialize(payload);
}

bool method_has_body(std::string_view m) { return m != "GET" && m != "HEAD" && m != "DELETE"; }

}  // namespace

// Everything one transaction does. Lives for one loop iteration.
class TxContext final : public Transitions {
 public:
  TxContext(DispatchState& st, store::WriteTx& tx, TimeMs now) : st_(st), tx_(tx), now_(now) {
    st_.claimed.clear();  // staged by a transaction that did not commit
  }

  TimeMs now() const override { return now_; }

  // --- loading and saving ----------------------------------------------------
  TaskRow* load(const std::string& id) {
    auto it = cache_.find(id);
    if (it != cache_.end()) return &it->second.row;
    std::optional<TaskRow> row;
    if (auto f = st_.rows.find(id); f != st_.rows.end()) {
      row = std::move(f->second);
      st_.rows.erase(f);
    } else {
      row = tx_.task(id);
    }
    if (!row) return nullptr;
    auto [ins, okk] = cache_.emplace(id, Cached{std::move(*row), TaskState::pending, false});
    ins->second.original = ins->second.row.state;
    return &ins->second.row;
  }

  store::RunRow* load_run(const std::string& id) {
    auto it = runs_.find(id);
    if (it != runs_.end()) return &it->second;
    auto r = tx_.run(id);
    if (!r) return nullptr;
    return &runs_.emplace(id, std::move(*r)).first->second;
  }

  void touch(TaskRow& row) {
    row.updated_at = now_;
    cache_[row.id].dirty = true;
    touched_runs_.insert(row.run_id);
  }

  void set_state(TaskRow& row, TaskState st) {
    if (row.state == st) return;
    auto& d = deltas_[row.run_id];
    d.counts[static_cast<int>(row.state)] -= 1;
    d.counts[static_cast<int>(st)] += 1;
    row.state = st;
    row.node.state = st;
    if (st == TaskState::completed || st == TaskState::failed || st == TaskState::cancelled)
      row.finished_at = now_;
    else
      row.finished_at = 0;
    if (st == TaskState::completed) st_.stats->tasks_completed++;
    if (st == TaskState::failed) st_.stats->tasks_failed++;
    if (st_.collect_transitions) transitions_.emplace_back(row.run_id, row.id, st);
    touch(row);
  }

  // --- the tree: apply an event and everything it causes, iteratively --------
  void apply(const std::string& task_id, core::Event ev) {
    work_.emplace_back(task_id, ev);
    while (!work_.empty()) {
      auto [id, e] = std::move(work_.front());
      work_.pop_front();
      TaskRow* row = load(id);
      if (!row) {
        spdlog::error("tree event {} for unknown task {}", core::to_string(e.kind), id);
        continue;
      }
      store::RunRow* run = load_run(row->run_id);
      row->node.state = row->state;
      row->node.run_cancelled = run && run->cancelled;
      core::Step st = core::step(row->node, e);
      if (!st.ignored_because.empty()) {
        spdlog::debug("task {}: {} ignored: {}", id, core::to_string(e.kind), st.ignored_because);
      }
      if (!st.changed) continue;
      TaskState new_state = st.node.state;
      row->node = st.node;
      set_state(*row, new_state);
      touch(*row);
      for (core::EffectKind eff : st.effects) {
        switch (eff) {
          case core::EffectKind::fire_join:
            fire_join(*row);
            break;
          case core::EffectKind::notify_completed:
            work_.emplace_back(row->parent_id, core::Event{core::EventKind::child_completed});
            break;
          case core::EffectKind::notify_failed:
            work_.emplace_back(row->parent_id,
                               core::Event{core::EventKind::child_failed, 0, row->on_failure});
            break;
          case core::EffectKind::notify_unfailed:
            work_.emplace_back(row->parent_id,
                               core::Event{core::EventKind::child_unfailed, 0, row->on_failure});
            break;
        }
      }
    }
  }

  // The join: create the sub tasks from the stored specs, exactly once.
  void fire_join(TaskRow& row) {
    auto made = expand_stored(row, core::Phase::sub, row.sub_specs);
    if (!made) return fail_task(row, made.error().message);
    std::vector<TaskRow> children = std::move(*made);
    st_.stats->joins_fired++;
    crash_point("before_join_insert");
    auto n = static_cast<std::int64_t>(children.size());
    insert_children(std::move(children), row.sub_specs);
    row.sub_specs.clear();
    touch(row);
    work_.emplace_front(row.id, core::Event{core::EventKind::join_fired, n});
  }

  // A task fails for a reason of its own that is not a failed attempt (a bad
  // envelope, a spec error at the join): it is failed, its parent told.
  void fail_task(TaskRow& row, std::string reason) {
    spdlog::warn("task {} failed: {}", row.id, reason);
    row.last_error = std::move(reason);
    row.node.own_failure = true;
    row.node.state = TaskState::failed;
    set_state(row, TaskState::failed);
    if (!row.parent_id.empty())
      work_.emplace_back(row.parent_id,
                         core::Event{core::EventKind::child_failed, 0, row.on_failure});
  }

  // A parent's children of `phase` from stored state: the specs' JSON text,
  // the parent's stored data and, for a chord, its immediate children's.
  core::Result<std::vector<TaskRow>> expand_stored(const TaskRow& row, core::Phase phase,
                                                   const std::string& specs_text) {
    if (specs_text.empty()) return std::vector<TaskRow>{};
    const char* what = phase == core::Phase::sub ? "sub_task_next" : "immediate_next";
    boost::system::error_code ec;
    json::value v = core::parse_json(specs_text, ec);
    auto specs = core::parse_specs(ec ? json::value() : v, what, phase == core::Phase::sub,
                                   st_.limits);
    if (!specs) return core::Error{specs.error().code, std::string("stored ") + what + ": " + specs.error().message};
    json::value data =
        parse_or_null(row.response_data.empty() ? tx_.response_data(row.id) : row.response_data);
    std::vector<json::value> cdata;
    bool need_children = std::any_of(specs->begin(), specs->end(), [](const core::NextSpec& sp) {
      return sp.input_type == core::InputType::children;
    });
    if (need_children) {
      flush_tasks();  // the children's latest states may still be in the cache
      for (auto& [state, text] : tx_.children_data(row.id, core::Phase::immediate)) {
        if (state == TaskState::completed)
          cdata.push_back(parse_or_null(text));
        else
          cdata.push_back(json::object{{"error", text}});
      }
    }
    return expand(row, phase, *specs, data, need_children ? &cdata : nullptr);
  }

  static json::value parse_or_null(std::string_view text) {
    if (text.empty()) return nullptr;
    boost::system::error_code ec;
    json::value v = core::parse_json(text, ec);
    return ec ? json::value(nullptr) : v;
  }

  core::Result<std::vector<TaskRow>> expand(const TaskRow& parent, core::Phase phase,
                                            const std::vector<core::NextSpec>& specs,
                                            const json::value& data,
                                            const std::vector<json::value>* cdata) {
    core::ExpandInput in;
    in.parent_id = parent.id;
    in.parent_request = &parent.request;
    in.parent_queue = parent.queue;
    in.parent_depth = parent.depth;
    in.phase = phase;
    in.specs = &specs;
    in.data = &data;
    in.children_data = cdata;
    in.limits = &st_.limits;
    auto made = core::expand(in);
    if (!made) return made.error();
    std::vector<TaskRow> rows;
    rows.reserve(made->size());
    for (auto& nt : *made) {
      if (!st_.queues.count(nt.queue))
        return core::Error{"queue_unknown",
                           std::string(phase == core::Phase::sub ? "sub_task_next" : "immediate_next") +
                               "[" + std::to_string(nt.spec_index) + "]: unknown queue \"" +
                               nt.queue + "\""};
      TaskRow r;
      r.id = std::move(nt.id);
      r.run_id = parent.run_id;
      r.parent_id = std::move(nt.parent_id);
      r.phase = nt.phase;
      r.spec_index = nt.spec_index;
      r.item_index = nt.item_index;
      r.depth = nt.depth;
      r.state = TaskState::pending;
      r.queue = std::move(nt.queue);
      r.on_failure = nt.on_failure;
      r.request = std::move(nt.request);
      r.not_before = now_;
      r.created_at = now_;
      r.updated_at = now_;
      rows.push_back(std::move(r));
    }
    return rows;
  }

  // Stores a parent's new children (all of one phase). Beyond the first
  // fanout_chunk, they are saved as one batch and stored a chunk per
  // transaction (store_fanouts), so that dispatch starts at once.
  void insert_children(std::vector<TaskRow> children, const std::string& specs_text) {
    if (children.size() <= st_.fanout_chunk) {
      store_children(children, Storing::lease_or_pending);
      return;
    }
    const TaskRow& first = children.front();
    store::FanoutRef ref{first.parent_id, first.run_id, first.phase, specs_text};
    tx_.save_fanout(ref);
    st_.fanouts.push_back({std::move(ref), std::move(children), 0});  // stored by store_fanouts
  }

  // How store_children treats each child.
  enum class Storing {
    lease_or_pending,  // leased if its queue has room, else pending
    wait_for_slots,    // the same, but stop at the first that cannot be leased now
    as_given,          // in the state it has (cancelled children of a cancelled run)
  };

  // Stores children (of one parent and phase), in order. A child whose queue
  // has a free slot and no older due task is stored already leased
  // (running, attempt 1) and dispatched with this transaction's claims: no
  // claim UPDATE, no due-index entry. The others are stored pending; with
  // wait_for_slots a fan-out keeps them for a later transaction instead.
  // Returns how many it took.
  std::size_t store_children(std::span<TaskRow> children, Storing how) {
    bool wait_for_slots = how == Storing::wait_for_slots;
    std::size_t n = how == Storing::as_given ? children.size() : 0;
    for (; n < children.size(); ++n) {
      TaskRow& c = children[n];
      std::size_t slots = free_slots(c.queue);
      auto due = st_.next_due.find(c.queue);
      bool known = due != st_.next_due.end();  // unknown: the store may hold due tasks
      bool older_due = !known || due->second <= now_;
      // A fan-out waits while its queue is full, or has older due tasks for
      // claim() to lease first (this transaction's claim refreshes that).
      if (wait_for_slots && !queue_of(c.queue).paused && (slots == 0 || older_due)) break;
      if (slots > 0 && !older_due) {
        c.state = TaskState::running;
        c.node.state = TaskState::running;
        c.attempts = 1;
        c.first_attempt_at = now_;
        c.lease_until = 0;
        ++leased_[c.queue];
      } else if (known) {
        due->second = std::min(due->second, now_);
      } else {
        st_.next_due.emplace(c.queue, now_);
      }
    }
    if (n == 0) return 0;
    auto part = children.first(n);
    std::size_t added = tx_.insert_tasks(part);
    if (added != n)
      spdlog::warn("task {}: {} of {} children existed already (replayed answer)",
                   part.front().parent_id, n - added, n);
    auto& d = deltas_[part.front().run_id];
    touched_runs_.insert(part.front().run_id);
    st_.stats->tasks_created += added;
    for (TaskRow& c : part) {
      bool leased = c.state == TaskState::running;
      if (c.seq == 0) {  // it existed: whatever it is, claim() handles it
        if (leased) --leased_[c.queue];
        continue;
      }
      d.counts[static_cast<int>(c.state)] += 1;
      if (!leased) continue;
      d.dispatches += 1;
      if (st_.collect_transitions) transitions_.emplace_back(c.run_id, c.id, TaskState::running);
      c.node.has_parent = true;
      c.node.edge = c.on_failure;
      c.updated_at = c.created_at;
      leased_rows_.push_back(std::move(c));
    }
    return n;
  }

  // Slots of a queue not in flight nor leased in this transaction (the
  // answers of this transaction free theirs).
  std::size_t free_slots(const std::string& name) {
    const core::QueueConfig& q = queue_of(name);
    if (q.paused) return 0;
    std::size_t used = st_.inflight[name] + leased_[name];
    std::size_t freed = freed_[name];
    used = used > freed ? used - freed : 0;
    std::size_t cap = DispatchState::lease_cap(q);
    return cap > used ? cap - used : 0;
  }

  void store_fanouts() override { store_fanouts(st_.fanout_chunk, Storing::wait_for_slots); }

  void store_fanouts(std::size_t budget, Storing how) {
    for (auto it = st_.fanouts.begin(); budget > 0 && it != st_.fanouts.end();) {
      auto& f = *it;
      if (f.rows.empty() && !expand_again(f)) {
        tx_.delete_fanout(f.ref.parent_id, f.ref.phase);
        it = st_.fanouts.erase(it);
        continue;
      }
      std::size_t k = std::min(budget, f.rows.size() - f.next);
      std::size_t took = store_children(std::span<TaskRow>(f.rows).subspan(f.next, k), how);
      f.next += took;
      budget -= took;
      if (took > 0) crash_point("after_fanout_chunk");
      if (f.next == f.rows.size()) {
        tx_.delete_fanout(f.ref.parent_id, f.ref.phase);
        it = st_.fanouts.erase(it);
        continue;
      }
      ++it;  // its queue is full: the next fan-out may have room
    }
  }

  // After a restart: the children again, from what the store holds (the ones
  // stored already are skipped by insert_tasks). False: nothing to store.
  bool expand_again(DispatchState::Fanout& f) {
    TaskRow* parent = load(f.ref.parent_id);
    store::RunRow* run = parent ? load_run(parent->run_id) : nullptr;
    if (!parent || !run || run->cancelled) return false;
    auto made = expand_stored(*parent, f.ref.phase, f.ref.specs);
    if (!made) {
      // Only a lowered limit can make this differ from the first time.
      fail_task(*parent, "cannot store the rest of its children after a restart: " +
                             made.error().message);
      return false;
    }
    f.rows = std::move(*made);
    f.next = 0;
    return !f.rows.empty();
  }

  bool has_fanouts(const std::string& run_id) const {
    return std::any_of(st_.fanouts.begin(), st_.fanouts.end(),
                       [&](const auto& f) { return f.ref.run_id == run_id; });
  }

  // --- answers ---------------------------------------------------------------
  void on_answer(const Answer& a) override {
    if (answered_.insert(a.task_id).second)
      if (auto f = st_.inflight_ids.find(a.task_id); f != st_.inflight_ids.end()) ++freed_[f->second];
    TaskRow* row = load(a.task_id);
    if (!row) return;
    if (row->state != TaskState::running || row->attempts != a.attempt) {
      spdlog::debug("stale answer for task {} (attempt {}, stored {} {})", a.task_id, a.attempt,
                    core::to_string(row->state), row->attempts);
      return;
    }
    const core::QueueConfig& q = queue_of(row->queue);
    row->last_status = a.status;
    row->lease_until = 0;
    core::Outcome outcome =
        a.error.empty() ? core::classify_status(a.status, q) : core::Outcome::retryable;
    if (outcome == core::Outcome::success) return on_success(*row, a);

    std::string reason = !a.error.empty() ? a.error : "HTTP " + std::to_string(a.status);
    if (!a.error.empty() && a.status != 0) reason += " (HTTP " + std::to_string(a.status) + ")";
    if (outcome == core::Outcome::retryable) {
      auto d = core::decide_retry(q.retry, row->attempts, row->first_attempt_at, now_,
                                  a.retry_after_ms);
      if (!d.give_up) {
        row->last_error = reason;
        row->not_before = d.not_before;
        set_state(*row, TaskState::pending);
        deltas_[row->run_id].retries += 1;
        st_.stats->retries++;
        auto& nd = st_.next_due[row->queue];
        nd = std::min(nd, d.not_before);
        return;
      }
      reason += " — giving up after " + std::to_string(row->attempts) + " attempt(s)";
    } else {
      reason += " — not retried (permanent error)";
    }
    row->last_error = reason;
    apply(row->id, core::Event{core::EventKind::own_failed});
  }

  void on_success(TaskRow& row, const Answer& a) {
    json::value data;
    std::vector<core::NextSpec> immediate;
    std::vector<core::NextSpec> sub;
    if (a.envelope) {
      auto env = core::parse_envelope(a.body, st_.limits);
      if (!env) {
        row.last_error = "envelope: " + env.error().message;
        return apply(row.id, core::Event{core::EventKind::own_failed});
      }
      data = std::move(env->data);
      immediate = std::move(env->immediate_next);
      sub = std::move(env->sub_task_next);
    } else {
      // A leaf: its data is its body, kept as it came when it is JSON.
      row.response_data = core::leaf_data_text(a.body);
      cache_[row.id].response_dirty = true;
      row.last_error.clear();
      row.sub_specs.clear();
      return apply(row.id, core::Event{core::EventKind::answered, 0});
    }
    store::RunRow* run = load_run(row.run_id);
    std::vector<TaskRow> children;
    if (!(run && run->cancelled) && !immediate.empty()) {
      auto made = expand(row, core::Phase::immediate, immediate, data, nullptr);
      if (!made) {
        row.last_error = made.error().message;
        return apply(row.id, core::Event{core::EventKind::own_failed});
      }
      children = std::move(*made);
    }
    if (!sub.empty()) {
      // Check the sub specs against this data now, so that a bad spec fails
      // this answer (retryable as a whole) rather than the join later.
      std::vector<json::value> no_children;
      auto dry = expand(row, core::Phase::sub, sub, data, &no_children);
      if (!dry) {
        row.last_error = dry.error().message;
        return apply(row.id, core::Event{core::EventKind::own_failed});
      }
    }
    row.response_data = json::serialize(data);
    cache_[row.id].response_dirty = true;
    row.last_error.clear();
    row.sub_specs = sub.empty() ? std::string() : json::serialize(core::to_json(sub));
    auto n = static_cast<std::int64_t>(children.size());
    insert_children(std::move(children), n > static_cast<std::int64_t>(st_.fanout_chunk)
                                             ? json::serialize(core::to_json(immediate))
                                             : std::string());
    crash_point("after_children_insert");
    apply(row.id, core::Event{core::EventKind::answered, n});
  }

  const core::QueueConfig& queue_of(const std::string& name) {
    auto it = st_.queues.find(name);
    if (it != st_.queues.end()) return it->second;
    return st_.queues.at("default");
  }

  // --- commands --------------------------------------------------------------
  CommandResult start_run(const json::object& body) override {
    const json::object* req = &body;
    if (auto* r = body.if_contains("request")) {
      if (!r->is_object()) return fail(400, "invalid_argument", "request: expected an object");
      req = &r->as_object();
    }
    auto str = [&](const json::object& o, const char* k, std::string def) -> std::optional<std::string> {
      auto* v = o.if_contains(k);
      if (!v || v->is_null()) return def;
      if (!v->is_string()) return std::nullopt;
      return std::string(v->as_string());
    };
    auto url = str(*req, "url", "");
    if (!url || url->empty()) return fail(400, "invalid_argument", "url: required (a string)");
    auto valid = core::validate_target_url(*url, st_.limits);
    if (!valid) return fail(400, "invalid_url", valid.error().message);
    auto method = str(*req, "method", "POST");
    if (!method) return fail(400, "invalid_argument", "method: expected a string");
    std::transform(method->begin(), method->end(), method->begin(), ::toupper);
    static const std::array<std::string_view, 6> methods{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
    if (std::find(methods.begin(), methods.end(), *method) == methods.end())
      return fail(400, "invalid_argument", "method: \"" + *method + "\" is not one of GET POST PUT PATCH DELETE HEAD");
    auto queue = str(body, "queue", "default");
    if (!queue) return fail(400, "invalid_argument", "queue: expected a string");
    if (!st_.queues.count(*queue)) return fail(404, "queue_not_found", "queue \"" + *queue + "\" does not exist");
    auto name = str(body, "name", "");
    if (!name) return fail(400, "invalid_argument", "name: expected a string");
    if (!name->empty()) {
      if (!core::is_valid_name(*name))
        return fail(400, "invalid_argument", "name: \"" + *name + "\" may contain only letters, digits, - and _ (1 to 500 characters)");
      if (tx_.run_id_by_name(*name))
        return fail(409, "already_exists", "a run named \"" + *name + "\" already exists");
    }
    core::Headers headers;
    if (auto* h = req->if_contains("headers"); h && !h->is_null()) {
      if (!h->is_object()) return fail(400, "invalid_argument", "headers: expected an object of strings");
      for (const auto& kv : h->as_object()) {
        if (!kv.value().is_string())
          return fail(400, "invalid_argument", "headers." + std::string(kv.key()) + ": expected a string");
        headers.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
      }
    }
    headers = core::strip_engine_headers(headers);
    auto hv = core::validate_headers(headers, st_.limits);
    if (!hv) return fail(400, hv.error().code, hv.error().message);
    json::value payload = nullptr;
    if (auto* p = req->if_contains("payload")) payload = *p;
    core::TaskRequest request;
    request.method = *method;
    request.url = *url;
    request.headers = std::move(headers);
    if (method_has_body(*method)) {
      request.body = body_of(payload);
    } else if (payload.is_object() && !payload.as_object().empty()) {
      auto u = core::append_query(request.url, payload.as_object());
      if (!u) return fail(400, "invalid_argument", "payload: " + u.error().message);
      request.url = *u;
    }
    if (request.body.size() > st_.limits.max_payload_bytes)
      return fail(413, "payload_too_large", "payload is " + std::to_string(request.body.size()) + " bytes; the limit is " + std::to_string(st_.limits.max_payload_bytes));
    TimeMs not_before = now_;
    if (auto* st = body.if_contains("schedule_time"); st && !st->is_null()) {
      if (st->is_int64()) {
        not_before = st->as_int64();
      } else if (st->is_string()) {
        auto d = core::parse_duration_ms(st->as_string());
        if (!d) return fail(400, "invalid_argument", "schedule_time: expected epoch milliseconds or a delay like \"30s\"");
        not_before = now_ + *d;
      } else {
        return fail(400, "invalid_argument", "schedule_time: expected epoch milliseconds or a delay like \"30s\"");
      }
      if (not_before > now_ + 30LL * 24 * 3600 * 1000)
        return fail(400, "invalid_argument", "schedule_time: must be no more than 720h in the future");
    }
    bool direct = false;
    if (auto* d = body.if_contains("direct")) direct = d->is_bool() && d->as_bool();

    store::RunRow run;
    run.id = new_run_id();
    run.name = *name;
    run.root_task_id = core::root_task_id(run.id);
    run.created_at = now_;
    tx_.insert_run(run);
    TaskRow root;
    root.id = run.root_task_id;
    root.run_id = run.id;
    root.phase = core::Phase::root;
    root.queue = *queue;
    root.request = std::move(request);
    root.created_at = now_;
    root.updated_at = now_;
    root.not_before = not_before;
    const core::QueueConfig& q = queue_of(*queue);
    if (direct) {
      // The SDK runs this first attempt itself; the lease covers it.
      root.state = TaskState::running;
      root.attempts = 1;
      root.first_attempt_at = now_;
      root.lease_until = now_ + q.dispatch_deadline_ms;
    }
    tx_.insert_tasks(std::span<TaskRow>(&root, 1));
    deltas_[run.id].counts[static_cast<int>(root.state)] += 1;
    if (direct) deltas_[run.id].dispatches += 1;
    touched_runs_.insert(run.id);
    st_.stats->tasks_created++;
    if (!direct) st_.next_due[*queue] = std::min(st_.next_due[*queue], not_before);
    runs_.emplace(run.id, run);
    return ok(json::object{{"run_id", run.id},
                           {"task_id", root.id},
                           {"state", core::to_string(root.state)}});
  }

  CommandResult complete_task(const std::string& task_id, const json::object& body) override {
    TaskRow* row = load(task_id);
    if (!row) return fail(404, "not_found", "no task " + task_id);
    if (row->state != TaskState::running)
      return fail(409, "not_running", "task " + task_id + " is " + std::string(core::to_string(row->state)) + ", not running: the report is ignored");
    auto* sc = body.if_contains("status_code");
    if (!sc || !sc->is_int64())
      return fail(400, "invalid_argument", "status_code: required (an integer)");
    Answer a;
    a.task_id = task_id;
    a.attempt = row->attempts;
    a.status = static_cast<int>(sc->as_int64());
    if (auto* env = body.if_contains("envelope")) {
      a.envelope = true;
      a.body = json::serialize(*env);
    } else if (auto* d = body.if_contains("data")) {
      a.body = json::serialize(*d);
    }
    on_answer(a);
    const TaskRow* after = load(task_id);
    return ok(json::object{{"task_id", task_id},
                           {"state", core::to_string(after->state)},
                           {"error", after->last_error}});
  }

  CommandResult cancel_run(const std::string& run_id) override {
    store::RunRow* run = load_run(run_id);
    if (!run) return fail(404, "not_found", "no run " + run_id);
    if (run->cancelled) return ok(json::object{{"run_id", run_id}, {"state", "cancelled"}});
    if (run->state == core::RunState::completed)
      return fail(409, "already_completed", "run " + run_id + " has completed; nothing to cancel");
    // Children of fan-outs not stored yet are stored cancelled, so that the
    // tree shows every child its parent counts.
    for (auto it = st_.fanouts.begin(); it != st_.fanouts.end();) {
      if (it->ref.run_id != run_id) {
        ++it;
        continue;
      }
      if (!it->rows.empty() || expand_again(*it)) {
        auto rest = std::span<TaskRow>(it->rows).subspan(it->next);
        for (TaskRow& c : rest) {
          c.state = TaskState::cancelled;
          c.node.state = TaskState::cancelled;
          c.finished_at = now_;
        }
        store_children(rest, Storing::as_given);
      }
      tx_.delete_fanout(it->ref.parent_id, it->ref.phase);
      it = st_.fanouts.erase(it);
    }
    run->cancelled = true;
    touched_runs_.insert(run_id);
    flush_tasks();  // the scans below read the store
    // Every pending, running or waiting task becomes cancelled; in-flight
    // calls finish but their answers are ignored (they spawn nothing).
    // Failed tasks stay failed: they record what went wrong.
    std::size_t n = 0;
    for (const auto& id :
         tx_.run_task_ids(run_id, {TaskState::pending, TaskState::running, TaskState::waiting})) {
      TaskRow* row = load(id);
      if (!row || row->state == TaskState::completed || row->state == TaskState::cancelled)
        continue;  // completed earlier in this transaction
      row->node.state = row->state;
      row->node.run_cancelled = true;
      row->node.state = TaskState::cancelled;
      set_state(*row, TaskState::cancelled);
      ++n;
    }
    return ok(json::object{{"run_id", run_id}, {"state", "cancelled"}, {"tasks_cancelled", n}});
  }

  // Back to pending with fresh attempts; ancestors un-fail via the tree.
  // Walks the path an un-fail would climb (O(depth), retries are rare): up
  // through parents this failure blocks, to the first edge with
  // on_failure=continue. If the parent there has already proceeded past the
  // failure (its join fired, or it completed), reviving the task would put a
  // live subtree under a parent that no longer waits for it.
  bool ancestor_moved_on(const TaskRow& row) {
    const TaskRow* cur = &row;
    while (!cur->parent_id.empty()) {
      const TaskRow* parent = load(cur->parent_id);
      if (!parent) return true;
      if (cur->on_failure == core::OnFailure::proceed)
        return parent->state == TaskState::completed ||
               (cur->phase == core::Phase::immediate && parent->node.join_fired);
      bool blocked_only_by_cur = parent->state == TaskState::failed && !parent->node.own_failure &&
                                 parent->node.blocked == 1;
      if (!blocked_only_by_cur) return false;
      cur = parent;
    }
    return false;
  }

  bool retry_one(TaskRow& row) {
    if (row.state != TaskState::failed || !row.node.own_failure) return false;
    // A task whose join failed (its children's data exceeded a limit) has
    // children already; sending its call again would not re-create them.
    if (!row.node.join_fired && !tx_.response_data(row.id).empty()) return false;
    if (ancestor_moved_on(row)) return false;
    row.attempts = 0;
    row.first_attempt_at = 0;
    row.not_before = now_;
    row.response_data.clear();
    cache_[row.id].response_dirty = true;
    apply(row.id, core::Event{core::EventKind::retried});
    auto& nd = st_.next_due[row.queue];
    nd = std::min(nd, now_);
    return row.state == TaskState::pending;
  }

  CommandResult retry_task(const std::string& task_id) override {
    TaskRow* row = load(task_id);
    if (!row) return fail(404, "not_found", "no task " + task_id);
    store::RunRow* run = load_run(row->run_id);
    if (run && run->cancelled) return fail(409, "run_cancelled", "run " + row->run_id + " is cancelled; its tasks cannot be retried");
    if (row->state != TaskState::failed)
      return fail(409, "not_failed", "task " + task_id + " is " + std::string(core::to_string(row->state)) + "; only a failed task can be retried");
    if (!row->node.own_failure)
      return fail(409, "descendant_failed", "task " + task_id + " failed because a descendant failed; retry that task, or the whole run (treeflow retry " + row->run_id + ")");
    if (!retry_one(*row))
      return fail(409, "not_retryable", "task " + task_id + " cannot be retried: " + (tx_.response_data(task_id).empty() ? "an ancestor has already proceeded past this failure (on_failure=continue)" : "its join failed (" + row->last_error + ")"));
    return ok(json::object{{"task_id", task_id}, {"state", "pending"}});
  }

  CommandResult retry_run(const std::string& run_id) override {
    store::RunRow* run = load_run(run_id);
    if (!run) return fail(404, "not_found", "no run " + run_id);
    if (run->cancelled) return fail(409, "run_cancelled", "run " + run_id + " is cancelled; it cannot be retried");
    flush_tasks();  // the scan below reads the store
    std::size_t n = 0;
    for (const auto& id : tx_.run_task_ids(run_id, {TaskState::failed})) {
      TaskRow* row = load(id);
      if (row && row->node.own_failure && retry_one(*row)) ++n;
    }
    return ok(json::object{{"run_id", run_id}, {"tasks_retried", n}});
  }

  CommandResult update_queue(const std::string& name, const json::object& patch, bool create) override {
    if (!core::is_valid_name(name))
      return fail(400, "invalid_argument", "queue name \"" + name + "\" may contain only letters, digits, - and _ (1 to 500 characters)");
    auto it = st_.queues.find(name);
    if (it == st_.queues.end() && !create) return fail(404, "queue_not_found", "queue \"" + name + "\" does not exist");
    core::QueueConfig base;
    if (it != st_.queues.end()) base = it->second;
    base.name = name;
    auto r = core::apply_queue_patch(base, patch);
    if (!r) return fail(400, r.error().code, r.error().message);
    r->name = name;
    st_.queues[name] = *r;
    tx_.save_queue(*r);
    queues_changed_ = true;
    return ok(core::to_json(*r));
  }

  CommandResult set_queue_paused(const std::string& name, bool paused) override {
    auto it = st_.queues.find(name);
    if (it == st_.queues.end()) return fail(404, "queue_not_found", "queue \"" + name + "\" does not exist");
    it->second.paused = paused;
    tx_.save_queue(it->second);
    queues_changed_ = true;
    if (!paused) st_.next_due[name] = 0;
    return ok(core::to_json(it->second));
  }

  CommandResult purge_queue(const std::string& name) override {
    if (!st_.queues.count(name)) return fail(404, "queue_not_found", "queue \"" + name + "\" does not exist");
    // Purged tasks fail loudly (their ancestors do not wait forever); a retry
    // brings them back. Children of fan-outs not stored yet are stored first.
    store_fanouts(std::numeric_limits<std::size_t>::max(), Storing::lease_or_pending);
    flush_tasks();  // the scan below reads the store
    std::size_t n = 0;
    for (;;) {
      auto ids = tx_.pending_in_queue(name, 1000);
      if (ids.empty()) break;
      for (auto& id : ids) {
        TaskRow* row = load(id);
        if (!row || row->state != TaskState::pending) continue;
        row->node.state = TaskState::running;  // purge fails it as if its attempt failed for good
        row->state = TaskState::running;
        auto& d = deltas_[row->run_id];
        d.counts[static_cast<int>(TaskState::pending)] -= 1;
        d.counts[static_cast<int>(TaskState::running)] += 1;
        row->last_error = "purged from queue " + name;
        apply(row->id, core::Event{core::EventKind::own_failed});
        ++n;
      }
      flush_tasks();
    }
    return ok(json::object{{"queue", name}, {"tasks_purged", n}});
  }

  // --- leases and dispatch -----------------------------------------------------
  void expire_leases() override {
    for (const auto& id : tx_.expired_leases(now_, 1000)) {
      if (st_.inflight_ids.count(id)) continue;
      TaskRow* row = load(id);
      if (!row) continue;
      Answer a;
      a.task_id = id;
      a.attempt = row->attempts;
      a.error = "lease expired: no answer was reported within the dispatch deadline";
      on_answer(a);
    }
  }

  Dispatch dispatch_of(const TaskRow& r, const core::QueueConfig& q) {
    Dispatch ds;
    ds.task_id = r.id;
    ds.run_id = r.run_id;
    ds.parent_id = r.parent_id;
    ds.queue = r.queue;
    ds.attempt = r.attempts;
    ds.request = r.request;
    ds.deadline_ms = q.dispatch_deadline_ms;
    return ds;
  }

  std::vector<Dispatch> claim() override {
    std::vector<Dispatch> out;
    // Children stored leased earlier in this transaction, unless a command
    // since (a cancel) changed them.
    for (auto& r : leased_rows_) {
      auto c = cache_.find(r.id);
      if (c != cache_.end() && c->second.row.state != TaskState::running) {
        deltas_[r.run_id].dispatches -= 1;
        continue;
      }
      out.push_back(dispatch_of(r, queue_of(r.queue)));
      st_.claimed.push_back(c != cache_.end() ? c->second.row : std::move(r));
    }
    leased_rows_.clear();
    for (auto& [name, q] : st_.queues) {
      if (q.paused) continue;
      std::size_t budget = free_slots(name);
      if (budget == 0) continue;
      auto due = st_.next_due.find(name);
      if (due != st_.next_due.end() && due->second > now_) continue;
      // No lease: the call is tracked in memory until it answers (within its
      // deadline), and a restart requeues every running task.
      auto rows = tx_.claim_due(name, now_, budget, 0);
      for (auto& r : rows) {
        auto& d = deltas_[r.run_id];
        d.counts[static_cast<int>(TaskState::pending)] -= 1;
        d.counts[static_cast<int>(TaskState::running)] += 1;
        d.dispatches += 1;
        touched_runs_.insert(r.run_id);
        if (st_.collect_transitions) transitions_.emplace_back(r.run_id, r.id, TaskState::running);
        out.push_back(dispatch_of(r, q));
        st_.claimed.push_back(std::move(r));
      }
      if (rows.size() < budget) {
        auto nd = tx_.next_due(name);
        st_.next_due[name] = nd ? *nd : std::numeric_limits<TimeMs>::max();
      } else {
        st_.next_due[name] = now_;
      }
    }
    return out;
  }

  // --- finishing the transaction ----------------------------------------------
  void flush_tasks() {
    for (auto& [id, c] : cache_) {
      if (!c.dirty) continue;
      if (!tx_.update_task(c.row, c.original, c.response_dirty))
        throw store::StoreError("task " + id + " changed under the scheduler (expected state " +
                                std::string(core::to_string(c.original)) + ")");
      c.original = c.row.state;
      c.dirty = false;
      c.response_dirty = false;
    }
  }

  void finish() override {
    flush_tasks();
    for (const auto& run_id : touched_runs_) {
      store::RunRow* run = load_run(run_id);
      if (!run) continue;
      auto d = deltas_.find(run_id);
      if (d != deltas_.end()) {
        tx_.add_run_delta(run_id, d->second);
        for (int i = 0; i < core::kTaskStateCount; ++i) run->counts[i] += d->second.counts[i];
        run->dispatches += d->second.dispatches;
        run->retries += d->second.retries;
      }
      core::RunState st = core::RunState::running;
      if (run->cancelled) {
        st = core::RunState::cancelled;
      } else {
        TaskRow* root = load(run->root_task_id);
        TaskState rs = root ? root->state : TaskState::pending;
        // A run ends only when nothing more can run: with on_failure=continue
        // the root can complete while a failed child's other descendants are
        // still at work.
        bool idle = run->counts[static_cast<int>(TaskState::pending)] +
                            run->counts[static_cast<int>(TaskState::running)] ==
                        0 &&
                    !has_fanouts(run_id);
        if (rs == TaskState::completed && idle) {
          st = core::RunState::completed;
        } else if (rs == TaskState::failed && idle) {
          st = core::RunState::failed;
        }
      }
      TimeMs fin = st == core::RunState::running ? 0 : (run->finished_at ? run->finished_at : now_);
      if (st != run->state || fin != run->finished_at) {
        tx_.update_run_state(run_id, st, run->cancelled, fin);
        run->state = st;
        run->finished_at = fin;
      }
    }
    deltas_.clear();
    touched_runs_.clear();
  }

  std::vector<Transition> take_transitions() override {
    return std::move(transitions_);
  }

  bool queues_changed() const override { return queues_changed_; }

 private:
  struct Cached {
    TaskRow row;
    TaskState original;
    bool dirty;
    bool response_dirty = false;  // response_data changed (written only then)
  };
  DispatchState& st_;
  store::WriteTx& tx_;
  TimeMs now_;
  std::unordered_map<std::string, Cached> cache_;
  std::unordered_map<std::string, store::RunRow> runs_;
  std::unordered_map<std::string, store::RunDelta> deltas_;
  std::unordered_set<std::string> touched_runs_;
  std::deque<std::pair<std::string, core::Event>> work_;
  std::vector<Transition> transitions_;
  bool queues_changed_ = false;
  std::unordered_map<std::string, std::size_t> leased_;  // per queue, in this transaction
  std::unordered_map<std::string, std::size_t> freed_;   // per queue: in-flight tasks answered
  std::unordered_set<std::string> answered_;
  std::vector<TaskRow> leased_rows_;  // children stored leased, dispatched by claim()
};

std::unique_ptr<Transitions> Transitions::begin(DispatchState& state, store::WriteTx& tx,
                                               core::TimeMs now) {
  return std::make_unique<TxContext>(state, tx, now);
}

void DispatchState::record_commit(const std::vector<Answer>& answers,
                                  const std::vector<Dispatch>& dispatches) {
  for (const auto& a : answers) {
    auto it = inflight_ids.find(a.task_id);
    if (it == inflight_ids.end()) continue;
    auto& n = inflight[it->second];
    if (n > 0) --n;
    inflight_ids.erase(it);
  }
  for (const auto& d : dispatches) {
    inflight_ids[d.task_id] = d.queue;
    ++inflight[d.queue];
  }
  for (auto& r : claimed) rows.insert_or_assign(r.id, std::move(r));
  claimed.clear();
}

std::size_t DispatchState::lease_cap(const core::QueueConfig& q) {
  auto cap = static_cast<std::size_t>(std::max(q.max_concurrent_dispatches, 0));
  auto rate_cap = static_cast<std::size_t>(
      std::max<double>(q.max_burst_size, std::ceil(q.max_dispatches_per_second * 2)));
  return std::min(cap, std::max<std::size_t>(rate_cap, 1));
}

bool DispatchState::fanouts_ready() const {
  for (const auto& f : fanouts) {
    if (f.rows.empty()) return true;  // to expand again
    const std::string& name = f.rows[f.next].queue;
    auto q = queues.find(name);
    if (q == queues.end() || q->second.paused) return true;  // stored pending
    auto n = inflight.find(name);
    if ((n == inflight.end() ? 0 : n->second) < lease_cap(q->second)) return true;
  }
  return false;
}

void DispatchState::set_fanouts(std::vector<store::FanoutRef> refs) {
  fanouts.clear();
  for (auto& r : refs) fanouts.push_back({std::move(r), {}, 0});
}

void DispatchState::reset_after_crash() {
  inflight.clear();
  inflight_ids.clear();
  next_due.clear();
  rows.clear();
  claimed.clear();
}

}  // namespace treeflow::engine
