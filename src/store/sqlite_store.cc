// The SQLite implementation of the Store (WAL, one writer, many readers).
#include <sys/stat.h>

#include <boost/json.hpp>
#include <mutex>

#include "core/envelope.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace treeflow::store {

namespace json = boost::json;
using core::TaskState;

namespace {

constexpr int kApplicationId = 0x74726565;  // "tree"
// 2: task ids cluster siblings (core/ids.h). A store of version 1 holds ids
// of the old form, which a replayed answer would not match.
constexpr int kSchemaVersion = 2;
constexpr std::int64_t kQuickCheckMaxBytes = 64 << 20;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  name TEXT UNIQUE,
  root_task_id TEXT NOT NULL,
  state INTEGER NOT NULL,
  cancelled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0,
  n_pending INTEGER NOT NULL DEFAULT 0,
  n_running INTEGER NOT NULL DEFAULT 0,
  n_waiting INTEGER NOT NULL DEFAULT 0,
  n_completed INTEGER NOT NULL DEFAULT 0,
  n_failed INTEGER NOT NULL DEFAULT 0,
  n_cancelled INTEGER NOT NULL DEFAULT 0,
  dispatches INTEGER NOT NULL DEFAULT 0,
  retries INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tasks (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  run_id TEXT NOT NULL,
  parent_id TEXT NOT NULL,
  phase INTEGER NOT NULL,
  spec_index INTEGER NOT NULL,
  item_index INTEGER NOT NULL,
  depth INTEGER NOT NULL,
  state INTEGER NOT NULL,
  queue TEXT NOT NULL,
  method TEXT NOT NULL,
  url TEXT NOT NULL,
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  on_failure INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before INTEGER NOT NULL DEFAULT 0,
  first_attempt_at INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER NOT NULL DEFAULT 0,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  response_data BLOB DEFAULT '',  -- NULL: in `responses`
  sub_specs TEXT NOT NULL DEFAULT '',
  waiting_on INTEGER NOT NULL DEFAULT 1,
  outstanding INTEGER NOT NULL DEFAULT 0,
  blocked INTEGER NOT NULL DEFAULT 0,
  failed_ok INTEGER NOT NULL DEFAULT 0,
  own_failure INTEGER NOT NULL DEFAULT 0,
  join_fired INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_due ON tasks(queue, not_before, seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS tasks_lease ON tasks(lease_until) WHERE state = 1 AND lease_until > 0;
CREATE INDEX IF NOT EXISTS tasks_parent ON tasks(parent_id, seq);
DROP INDEX IF EXISTS tasks_run;  -- earlier builds made it; see run_task_ids
CREATE TABLE IF NOT EXISTS fanouts (
  parent_id TEXT NOT NULL,
  phase INTEGER NOT NULL,
  run_id TEXT NOT NULL,
  specs TEXT NOT NULL,
  PRIMARY KEY (parent_id, phase)
);
CREATE TABLE IF NOT EXISTS responses (
  seq INTEGER PRIMARY KEY,  -- the task's
  data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS queues (
  name TEXT PRIMARY KEY,
  config TEXT NOT NULL
);
)sql";

// A task's response data, inline or in `responses`.
#define RESPONSE_DATA \
  "coalesce(tasks.response_data, (SELECT data FROM responses WHERE responses.seq = tasks.seq))"
// Responses above this size live in `responses`: SQLite reads and rewrites a
// whole row on every UPDATE, and a parent's row changes with every batch of
// its children (a 1.2 MB response was copied twice per transaction).
constexpr std::size_t kInlineResponseMax = 1024;

// Column lists as macros, so that the statements are string literals
// (Db::prepare caches those by address).
#define TASK_COLS_BUT_RESPONSE(response)                                                         \
  "seq, id, run_id, parent_id, phase, spec_index, item_index, depth, state, queue, method, url, " \
  "headers, body, on_failure, attempts, not_before, first_attempt_at, lease_until, last_status, " \
  "last_error, " response ", sub_specs, waiting_on, outstanding, blocked, failed_ok, "            \
  "own_failure, join_fired, created_at, updated_at, finished_at"
#define TASK_COLS TASK_COLS_BUT_RESPONSE(RESPONSE_DATA)
// The same columns without the response (read separately when needed).
#define TASK_COLS_LIGHT TASK_COLS_BUT_RESPONSE("''")

#define RUN_COLS                                                                                 \
  "id, coalesce(name, ''), root_task_id, state, cancelled, created_at, finished_at, n_pending, " \
  "n_running, n_waiting, n_completed, n_failed, n_cancelled, dispatches, retries"

std::string headers_to_json(const core::Headers& h) {
  if (h.empty()) return "[]";
  json::array a;
  a.reserve(h.size());
  for (const auto& [k, v] : h) a.push_back(json::array{json::string(k), json::string(v)});
  return json::serialize(a);
}

core::Headers headers_from_json(std::string_view s) {
  core::Headers h;
  if (s.empty()) return h;
  boost::system::error_code ec;
  json::value v = core::parse_json(s, ec);
  if (ec || !v.is_array()) return h;
  for (const auto& p : v.as_array()) {
    const auto* pa = p.if_array();
    if (!pa || pa->size() != 2 || !(*pa)[0].is_string() || !(*pa)[1].is_string()) continue;
    h.emplace_back(std::string((*pa)[0].as_string()), std::string((*pa)[1].as_string()));
  }
  return h;
}

TaskRow read_task(const Stmt& s) {
  TaskRow t;
  t.seq = s.i64(0);
  t.id = s.text(1);
  t.run_id = s.text(2);
  t.parent_id = s.text(3);
  t.phase = static_cast<core::Phase>(s.i32(4));
  t.spec_index = static_cast<std::uint32_t>(s.i64(5));
  t.item_index = static_cast<std::uint32_t>(s.i64(6));
  t.depth = s.i32(7);
  t.state = static_cast<TaskState>(s.i32(8));
  t.queue = s.text(9);
  t.request.method = s.text(10);
  t.request.url = s.text(11);
  t.request.headers = headers_from_json(s.view(12));
  t.request.body = s.text(13);
  t.on_failure = static_cast<core::OnFailure>(s.i32(14));
  t.attempts = s.i32(15);
  t.not_before = s.i64(16);
  t.first_attempt_at = s.i64(17);
  t.lease_until = s.i64(18);
  t.last_status = s.i32(19);
  t.last_error = s.text(20);
  t.response_data = s.text(21);
  t.sub_specs = s.text(22);
  t.node.state = t.state;
  t.node.waiting_on = static_cast<core::Phase>(s.i32(23));
  t.node.outstanding = s.i64(24);
  t.node.blocked = s.i64(25);
  t.node.failed_ok = s.i64(26);
  t.node.own_failure = s.i32(27) != 0;
  t.node.join_fired = s.i32(28) != 0;
  t.node.has_parent = !t.parent_id.empty();
  t.node.edge = t.on_failure;
  t.created_at = s.i64(29);
  t.updated_at = s.i64(30);
  t.finished_at = s.i64(31);
  return t;
}

RunRow read_run(const Stmt& s) {
  RunRow r;
  r.id = s.text(0);
  r.name = s.text(1);
  r.root_task_id = s.text(2);
  r.state = static_cast<core::RunState>(s.i32(3));
  r.cancelled = s.i32(4) != 0;
  r.created_at = s.i64(5);
  r.finished_at = s.i64(6);
  for (int i = 0; i < core::kTaskStateCount; ++i) r.counts[i] = s.i64(7 + i);
  r.dispatches = s.i64(13);
  r.retries = s.i64(14);
  return r;
}

void check_header(const std::string& path) {
  // Refuse to touch a file that is not a SQLite database: never overwrite it.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || st.st_size == 0) return;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw StoreError("cannot read " + path + ": " + std::strerror(errno));
  char head[16] = {};
  std::size_t n = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  if (n < 16 || std::string_view(head, 15) != "SQLite format 3")
    throw StoreError(path + " is not a SQLite database (refusing to overwrite it)");
}

class SqliteWriteTx;

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const StoreOptions& o) : opts_(o) {
    check_header(o.path);
    int flags = o.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    db_ = std::make_unique<Db>(o.path, flags);
    try {
      std::int64_t app_id = scalar("PRAGMA application_id");
      std::int64_t tables = scalar("SELECT count(*) FROM sqlite_master");
      if (app_id != kApplicationId && tables != 0)
        throw StoreError(o.path + " is a SQLite database of another application (refusing to use it)");
      if (std::int64_t v = scalar("PRAGMA user_version"); tables != 0 && v != kSchemaVersion)
        throw StoreError(o.path + ": schema version " + std::to_string(v) +
                         " is not supported (expected " + std::to_string(kSchemaVersion) +
                         (v < kSchemaVersion ? "): it was made by an earlier treeflow; finish its "
                                               "runs with that version, or start a new store"
                                             : "): it was made by a newer treeflow"));
      if (!o.read_only) {
        db_->exec("PRAGMA journal_mode=WAL");
        db_->exec(o.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        db_->exec("PRAGMA foreign_keys=OFF");
        db_->exec("PRAGMA cache_size=-65536");
        db_->exec("PRAGMA temp_store=MEMORY");
        db_->exec("BEGIN IMMEDIATE");
        db_->exec(kSchema);
        db_->exec("PRAGMA application_id=" + std::to_string(kApplicationId));
        db_->exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
        db_->exec("COMMIT");
      }
      std::int64_t version = scalar("PRAGMA user_version");
      if (version != kSchemaVersion)
        throw StoreError(o.path + ": schema version " + std::to_string(version) +
                         " is not supported (expected " + std::to_string(kSchemaVersion) + ")");
      // A full integrity check reads every page: affordable for small stores,
      // seconds for a store of millions of tasks, where restart time matters
      // more (SQLite still reports corruption on the pages it reads).
      if (size_bytes() < kQuickCheckMaxBytes) {
        std::string check = text_scalar("PRAGMA quick_check(1)");
        if (check != "ok") throw StoreError(o.path + " is corrupt: " + check);
      }
    } catch (const StoreError& e) {
      std::string m = e.what();
      if (m.find("readonly") != std::string::npos || m.find("read-only") != std::string::npos)
        throw StoreError("cannot write " + o.path + ": the file or its folder is read-only (" + m +
                         ")");
      throw;
    }
  }

  std::unique_ptr<WriteTx> begin() override;

  std::unique_ptr<Reader> read() override;

  std::vector<std::pair<std::string, std::int64_t>> requeue_running(TimeMs now) override {
    std::vector<std::pair<std::string, std::int64_t>> out;
    db_->exec("BEGIN IMMEDIATE");
    try {
      auto& s = db_->prepare("SELECT run_id, count(*) FROM tasks WHERE state = 1 GROUP BY run_id");
      while (s.step()) out.emplace_back(s.text(0), s.i64(1));
      for (const auto& [run, n] : out) {
        db_->prepare(
               "UPDATE runs SET n_running = n_running - ?2, n_pending = n_pending + ?2 WHERE id = ?1")
            .bind(1, run)
            .bind(2, n)
            .run();
      }
      db_->prepare("UPDATE tasks SET state = 0, not_before = ?1, lease_until = 0, updated_at = ?1 "
                   "WHERE state = 1")
          .bind(1, now)
          .run();
      db_->exec("COMMIT");
    } catch (...) {
      db_->exec("ROLLBACK");
      throw;
    }
    return out;
  }

  std::vector<core::QueueConfig> load_queues() override;
  std::vector<FanoutRef> load_fanouts() override;

  std::int64_t size_bytes() override {
    std::int64_t total = 0;
    for (const char* suffix : {"", "-wal"}) {
      struct stat st {};
      if (::stat((opts_.path + suffix).c_str(), &st) == 0) total += st.st_size;
    }
    return total;
  }

  Db& db() { return *db_; }
  const StoreOptions& options() const { return opts_; }

 private:
  std::int64_t scalar(std::string_view q) {
    auto& s = db_->prepare(q);
    std::int64_t v = s.step() ? s.i64(0) : 0;
    s.reset();
    return v;
  }
  std::string text_scalar(std::string_view q) {
    auto& s = db_->prepare(q);
    std::string v = s.step() ? s.text(0) : "";
    s.reset();
    return v;
  }

  StoreOptions opts_;
  std::unique_ptr<Db> db_;
};

class SqliteWriteTx final : public WriteTx {
 public:
  explicit SqliteWriteTx(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
  ~SqliteWriteTx() override {
    if (!done_) {
      try {
        db_.exec("ROLLBACK");
      } catch (...) {
      }
    }
  }

  std::optional<TaskRow> task(std::string_view id) override {
    auto& s = db_.prepare("SELECT " TASK_COLS_LIGHT " FROM tasks WHERE id = ?1");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    TaskRow t = read_task(s);
    s.reset();
    return t;
  }

  std::string response_data(std::string_view id) override {
    auto& s = db_.prepare("SELECT " RESPONSE_DATA " FROM tasks WHERE id = ?1");
    s.bind(1, id);
    std::string v = s.step() ? s.text(0) : std::string();
    s.reset();
    return v;
  }

  std::optional<RunRow> run(std::string_view id) override {
    auto& s = db_.prepare("SELECT " RUN_COLS " FROM runs WHERE id = ?1");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    RunRow r = read_run(s);
    s.reset();
    return r;
  }

  std::optional<std::string> run_id_by_name(std::string_view name) override {
    auto& s = db_.prepare("SELECT id FROM runs WHERE name = ?1");
    s.bind(1, name);
    if (!s.step()) return std::nullopt;
    std::string id = s.text(0);
    s.reset();
    return id;
  }

  void insert_run(const RunRow& r) override {
    auto& s = db_.prepare(
        "INSERT INTO runs (id, name, root_task_id, state, cancelled, created_at, finished_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    s.bind(1, r.id);
    if (r.name.empty()) {
      s.bind_null(2);
    } else {
      s.bind(2, r.name);
    }
    s.bind(3, r.root_task_id)
        .bind(4, static_cast<int>(r.state))
        .bind(5, r.cancelled ? 1 : 0)
        .bind(6, r.created_at)
        .bind(7, r.finished_at)
        .run();
  }

  std::size_t insert_tasks(std::span<TaskRow> tasks) override {
    auto& s = db_.prepare(
        "INSERT OR IGNORE INTO tasks (id, run_id, parent_id, phase, spec_index, item_index, depth, "
        "state, queue, method, url, headers, body, on_failure, attempts, not_before, "
        "first_attempt_at, lease_until, created_at, updated_at) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
        "?19)");
    std::size_t inserted = 0;
    std::string headers;
    for (auto& t : tasks) {
      s.reset();
      headers = headers_to_json(t.request.headers);
      s.bind_ref(1, t.id)
          .bind_ref(2, t.run_id)
          .bind_ref(3, t.parent_id)
          .bind(4, static_cast<int>(t.phase))
          .bind(5, static_cast<std::int64_t>(t.spec_index))
          .bind(6, static_cast<std::int64_t>(t.item_index))
          .bind(7, t.depth)
          .bind(8, static_cast<int>(t.state))
          .bind_ref(9, t.queue)
          .bind_ref(10, t.request.method)
          .bind_ref(11, t.request.url)
          .bind_ref(12, headers)
          .bind_blob_ref(13, t.request.body)
          .bind(14, static_cast<int>(t.on_failure))
          .bind(15, t.attempts)
          .bind(16, t.not_before)
          .bind(17, t.first_attempt_at)
          .bind(18, t.lease_until)
          .bind(19, t.created_at);
      s.run();
      bool added = db_.changes() == 1;
      t.seq = added ? db_.last_rowid() : 0;
      inserted += added;
    }
    s.reset();
    return inserted;
  }

  bool update_task(const TaskRow& t, TaskState expected, bool with_response) override {
    // Two statements, and big responses in their own table: SQLite reads and
    // rewrites the whole row on every UPDATE of a parent's counters.
    bool big = with_response && t.response_data.size() > kInlineResponseMax;
    if (big) {
      db_.prepare("INSERT OR REPLACE INTO responses (seq, data) VALUES (?1, ?2)")
          .bind(1, t.seq)
          .bind_blob_ref(2, t.response_data)
          .run();
    } else if (with_response && t.response_data.empty()) {  // cleared for a retry
      db_.prepare("DELETE FROM responses WHERE seq = ?1").bind(1, t.seq).run();
    }
    // ?9: the same binds for both.
    auto& s = with_response
                  ? db_.prepare(
                        "UPDATE tasks SET state = ?2, attempts = ?3, not_before = ?4, "
                        "first_attempt_at = ?5, lease_until = ?6, last_status = ?7, "
                        "last_error = ?8, sub_specs = ?10, waiting_on = ?11, outstanding = ?12, "
                        "blocked = ?13, failed_ok = ?14, own_failure = ?15, join_fired = ?16, "
                        "updated_at = ?17, finished_at = ?18, response_data = ?9 "
                        "WHERE seq = ?1 AND state = ?19")
                  : db_.prepare(
                        "UPDATE tasks SET state = ?2, attempts = ?3, not_before = ?4, "
                        "first_attempt_at = ?5, lease_until = ?6, last_status = ?7, "
                        "last_error = ?8, sub_specs = ?10, waiting_on = ?11, outstanding = ?12, "
                        "blocked = ?13, failed_ok = ?14, own_failure = ?15, join_fired = ?16, "
                        "updated_at = ?17, finished_at = ?18 "
                        "WHERE seq = ?1 AND state = ?19 AND ?9 IS NOT NULL");
    s.bind(1, t.seq)  // the rowid: no lookup in the id index
        .bind(2, static_cast<int>(t.state))
        .bind(3, t.attempts)
        .bind(4, t.not_before)
        .bind(5, t.first_attempt_at)
        .bind(6, t.lease_until)
        .bind(7, t.last_status)
        .bind_ref(8, t.last_error);
    if (big)
      s.bind_null(9);
    else if (with_response)
      s.bind_blob_ref(9, t.response_data);
    else
      s.bind(9, std::int64_t{0});
    s.bind_ref(10, t.sub_specs)
        .bind(11, static_cast<int>(t.node.waiting_on))
        .bind(12, t.node.outstanding)
        .bind(13, t.node.blocked)
        .bind(14, t.node.failed_ok)
        .bind(15, t.node.own_failure ? 1 : 0)
        .bind(16, t.node.join_fired ? 1 : 0)
        .bind(17, t.updated_at)
        .bind(18, t.finished_at)
        .bind(19, static_cast<int>(expected));
    s.run();
    bool ok = db_.changes() == 1;
    s.reset();
    return ok;
  }

  void update_run_state(std::string_view run_id, core::RunState state, bool cancelled,
                        TimeMs finished_at) override {
    db_.prepare("UPDATE runs SET state = ?2, cancelled = ?3, finished_at = ?4 WHERE id = ?1")
        .bind(1, run_id)
        .bind(2, static_cast<int>(state))
        .bind(3, cancelled ? 1 : 0)
        .bind(4, finished_at)
        .run();
  }

  void add_run_delta(std::string_view run_id, const RunDelta& d) override {
    db_.prepare(
           "UPDATE runs SET n_pending = n_pending + ?2, n_running = n_running + ?3, "
           "n_waiting = n_waiting + ?4, n_completed = n_completed + ?5, n_failed = n_failed + ?6, "
           "n_cancelled = n_cancelled + ?7, dispatches = dispatches + ?8, retries = retries + ?9 "
           "WHERE id = ?1")
        .bind(1, run_id)
        .bind(2, d.counts[0])
        .bind(3, d.counts[1])
        .bind(4, d.counts[2])
        .bind(5, d.counts[3])
        .bind(6, d.counts[4])
        .bind(7, d.counts[5])
        .bind(8, d.dispatches)
        .bind(9, d.retries)
        .run();
  }

  std::vector<TaskRow> claim_due(std::string_view queue, TimeMs now, std::size_t limit,
                                 TimeMs lease_until) override {
    std::vector<TaskRow> out;
    if (limit == 0) return out;
    auto& s = db_.prepare(
        "UPDATE tasks SET state = 1, attempts = attempts + 1, lease_until = ?3, updated_at = ?2, "
        "first_attempt_at = CASE WHEN first_attempt_at = 0 THEN ?2 ELSE first_attempt_at END "
        "WHERE seq IN (SELECT seq FROM tasks WHERE state = 0 AND queue = ?1 AND not_before <= ?2 "
        "ORDER BY not_before, seq LIMIT ?4) RETURNING " TASK_COLS_LIGHT);
    s.bind(1, queue).bind(2, now).bind(3, lease_until).bind(4, static_cast<std::int64_t>(limit));
    while (s.step()) out.push_back(read_task(s));
    s.reset();
    return out;
  }

  std::optional<TimeMs> next_due(std::string_view queue) override {
    auto& s = db_.prepare(
        "SELECT not_before FROM tasks WHERE state = 0 AND queue = ?1 ORDER BY not_before LIMIT 1");
    s.bind(1, queue);
    std::optional<TimeMs> v;
    if (s.step()) v = s.i64(0);
    s.reset();
    return v;
  }

  std::vector<std::string> expired_leases(TimeMs now, std::size_t limit) override {
    auto& s = db_.prepare(
        "SELECT id FROM tasks WHERE state = 1 AND lease_until > 0 AND lease_until < ?1 "
        "ORDER BY lease_until LIMIT ?2");
    s.bind(1, now).bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    s.reset();
    return out;
  }

  std::vector<std::string> run_task_ids(std::string_view run_id,
                                        const std::vector<TaskState>& states) override {
    std::uint32_t wanted = 0;
    for (TaskState st : states) wanted |= 1u << static_cast<int>(st);
    auto& s = db_.prepare(
        "WITH RECURSIVE tree(id) AS (SELECT root_task_id FROM runs WHERE id = ?1 "
        "UNION ALL SELECT t.id FROM tasks t JOIN tree ON t.parent_id = tree.id) "
        "SELECT t.id FROM tree JOIN tasks t ON t.id = tree.id WHERE (?2 >> t.state) & 1 "
        "ORDER BY t.seq");
    s.bind(1, run_id).bind(2, static_cast<std::int64_t>(wanted));
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    s.reset();
    return out;
  }

  std::vector<std::pair<TaskState, std::string>> children_data(std::string_view parent_id,
                                                               core::Phase phase) override {
    auto& s = db_.prepare(
        "SELECT state, " RESPONSE_DATA ", last_error FROM tasks WHERE parent_id = ?1 AND phase = ?2 "
        "ORDER BY seq");
    s.bind(1, parent_id).bind(2, static_cast<int>(phase));
    std::vector<std::pair<TaskState, std::string>> out;
    while (s.step()) {
      auto st = static_cast<TaskState>(s.i32(0));
      out.emplace_back(st, st == TaskState::completed ? s.text(1) : s.text(2));
    }
    s.reset();
    return out;
  }

  std::vector<std::string> pending_in_queue(std::string_view queue, std::size_t limit) override {
    auto& s = db_.prepare("SELECT id FROM tasks WHERE state = 0 AND queue = ?1 LIMIT ?2");
    s.bind(1, queue).bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    s.reset();
    return out;
  }

  void save_queue(const core::QueueConfig& q) override;

  void save_fanout(const FanoutRef& f) override {
    db_.prepare("INSERT OR REPLACE INTO fanouts (parent_id, phase, run_id, specs) VALUES (?1, ?2, ?3, ?4)")
        .bind(1, f.parent_id)
        .bind(2, static_cast<int>(f.phase))
        .bind(3, f.run_id)
        .bind(4, f.specs)
        .run();
  }

  void delete_fanout(std::string_view parent_id, core::Phase phase) override {
    db_.prepare("DELETE FROM fanouts WHERE parent_id = ?1 AND phase = ?2")
        .bind(1, parent_id)
        .bind(2, static_cast<int>(phase))
        .run();
  }

  void commit() override {
    db_.exec("COMMIT");
    done_ = true;
  }

 private:
  Db& db_;
  bool done_ = false;
};

class SqliteReader final : public Reader {
 public:
  explicit SqliteReader(const std::string& path) : db_(path, SQLITE_OPEN_READONLY) {}

  std::optional<RunRow> run(std::string_view id) override {
    auto& s = db_.prepare("SELECT " RUN_COLS " FROM runs WHERE id = ?1");
    s.bind(1, id);
    std::optional<RunRow> r;
    if (s.step()) r = read_run(s);
    s.reset();
    return r;
  }

  std::vector<RunRow> runs(std::optional<core::RunState> state, std::string_view before_id,
                           std::size_t limit) override {
    auto& s = db_.prepare(
        "SELECT " RUN_COLS
        " FROM runs WHERE (?1 < 0 OR state = ?1) AND (?2 = '' OR rowid < (SELECT rowid FROM runs "
        "WHERE id = ?2)) ORDER BY rowid DESC LIMIT ?3");
    s.bind(1, state ? static_cast<int>(*state) : -1)
        .bind(2, before_id)
        .bind(3, static_cast<std::int64_t>(limit));
    std::vector<RunRow> out;
    while (s.step()) out.push_back(read_run(s));
    s.reset();
    return out;
  }

  std::optional<TaskRow> task(std::string_view id) override {
    auto& s = db_.prepare("SELECT " TASK_COLS " FROM tasks WHERE id = ?1");
    s.bind(1, id);
    std::optional<TaskRow> t;
    if (s.step()) t = read_task(s);
    s.reset();
    return t;
  }

  std::vector<TaskSummary> children(std::string_view parent_id, std::int64_t after_seq,
                                    std::size_t limit) override {
    auto& s = db_.prepare(
        "SELECT t.seq, t.id, t.parent_id, t.phase, t.state, t.method, t.url, t.attempts, "
        "t.last_status, t.last_error, (SELECT count(*) FROM tasks c WHERE c.parent_id = t.id) "
        "FROM tasks t WHERE t.parent_id = ?1 AND t.seq > ?2 ORDER BY t.seq LIMIT ?3");
    s.bind(1, parent_id).bind(2, after_seq).bind(3, static_cast<std::int64_t>(limit));
    std::vector<TaskSummary> out;
    while (s.step()) {
      TaskSummary t;
      t.seq = s.i64(0);
      t.id = s.text(1);
      t.parent_id = s.text(2);
      t.phase = static_cast<core::Phase>(s.i32(3));
      t.state = static_cast<TaskState>(s.i32(4));
      t.method = s.text(5);
      t.url = s.text(6);
      t.attempts = s.i32(7);
      t.last_status = s.i32(8);
      t.last_error = s.text(9);
      t.children = s.i64(10);
      out.push_back(std::move(t));
    }
    s.reset();
    return out;
  }

  std::int64_t child_count(std::string_view parent_id) override {
    auto& s = db_.prepare("SELECT count(*) FROM tasks WHERE parent_id = ?1");
    s.bind(1, parent_id);
    std::int64_t n = s.step() ? s.i64(0) : 0;
    s.reset();
    return n;
  }

  std::vector<core::QueueConfig> queues() override;

  StateCounts task_counts() override {
    StateCounts c{};
    auto& s = db_.prepare(
        "SELECT sum(n_pending), sum(n_running), sum(n_waiting), sum(n_completed), sum(n_failed), "
        "sum(n_cancelled) FROM runs");
    if (s.step())
      for (int i = 0; i < core::kTaskStateCount; ++i) c[i] = s.i64(i);
    s.reset();
    return c;
  }

  Db& db() { return db_; }

 private:
  Db db_;
};

// Queue configs are stored as the JSON of core::to_json(QueueConfig) by the
// engine; the store keeps the text and parses it with the core's rules.
}  // namespace

}  // namespace treeflow::store

#include "core/queue.h"

namespace treeflow::store {
namespace {

std::vector<core::QueueConfig> parse_queues(Db& db) {
  std::vector<core::QueueConfig> out;
  auto& s = db.prepare("SELECT name, config FROM queues ORDER BY name");
  while (s.step()) {
    boost::system::error_code ec;
    json::value v = core::parse_json(s.view(1), ec);
    core::QueueConfig base;
    base.name = s.text(0);
    if (!ec && v.is_object()) {
      json::object o = v.as_object();
      o.erase("name");
      bool paused = false;
      if (auto* p = o.if_contains("paused")) paused = p->is_bool() && p->as_bool();
      o.erase("paused");
      o.erase("max_burst_size");
      auto r = core::apply_queue_patch(base, o);
      if (r) {
        base = *r;
      }
      base.paused = paused;
    }
    out.push_back(base);
  }
  s.reset();
  return out;
}

}  // namespace

void SqliteWriteTx::save_queue(const core::QueueConfig& q) {
  db_.prepare("INSERT INTO queues (name, config) VALUES (?1, ?2) "
              "ON CONFLICT(name) DO UPDATE SET config = excluded.config")
      .bind(1, q.name)
      .bind(2, json::serialize(core::to_json(q)))
      .run();
}

std::vector<core::QueueConfig> SqliteStore::load_queues() { return parse_queues(*db_); }
std::vector<core::QueueConfig> SqliteReader::queues() { return parse_queues(db_); }

std::vector<FanoutRef> SqliteStore::load_fanouts() {
  std::vector<FanoutRef> out;
  auto& s = db_->prepare("SELECT parent_id, phase, run_id, specs FROM fanouts ORDER BY rowid");
  while (s.step())
    out.push_back(FanoutRef{s.text(0), s.text(2), static_cast<core::Phase>(s.i32(1)), s.text(3)});
  s.reset();
  return out;
}

std::unique_ptr<WriteTx> SqliteStore::begin() { return std::make_unique<SqliteWriteTx>(*db_); }

std::unique_ptr<Reader> SqliteStore::read() { return std::make_unique<SqliteReader>(opts_.path); }

std::unique_ptr<Store> open_sqlite(const StoreOptions& options) {
  return std::make_unique<SqliteStore>(options);
}

}  // namespace treeflow::store
