// SQLite implementation of TargetDb: one connection, WAL, busy_timeout,
// foreign keys on, and one writer at a time (a mutex around each
// transaction; SQLite serialises writers anyway, the mutex avoids
// SQLITE_BUSY churn between the server's threads).
#include <sqlite3.h>

#include <mutex>

#include "target_db.h"

namespace blog {
namespace {

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
      throw DbError(std::string("sqlite: prepare failed: ") + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void bind(int i, std::int64_t v) { check(sqlite3_bind_int64(st_, i, v)); }
  void bind(int i, const std::string& v) {
    check(sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  void bind_null(int i) { check(sqlite3_bind_null(st_, i)); }
  // Returns true while a row is available.
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw DbError(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  std::int64_t int64(int col) { return sqlite3_column_int64(st_, col); }
  bool is_null(int col) { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
  // The stored bytes verbatim (control characters and non-ASCII included).
  std::string text(int col) {
    const void* p = sqlite3_column_blob(st_, col);
    int n = sqlite3_column_bytes(st_, col);
    return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string();
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw DbError(std::string("sqlite: bind failed: ") + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

class SqliteTarget final : public TargetDb {
 public:
  SqliteTarget(const std::string& path, bool create) : path_(path) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw DbError("sqlite: cannot open " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
    exec("PRAGMA foreign_keys=ON");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
  }
  ~SqliteTarget() override { sqlite3_close(db_); }

  void create_schema() override {
    std::lock_guard lock(mu_);
    exec(
        "CREATE TABLE IF NOT EXISTS blog("
        " id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS comment("
        " id INTEGER PRIMARY KEY,"
        " blog_id INTEGER NOT NULL REFERENCES blog(id),"
        " parent_id INTEGER NULL REFERENCES comment(id),"
        " message TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS comment_blog ON comment(blog_id);"
        "CREATE INDEX IF NOT EXISTS comment_parent ON comment(parent_id);"
        "CREATE TABLE IF NOT EXISTS applied_task(task_id TEXT PRIMARY KEY);");
  }

  bool write_blog(const std::string& task_id, const BlogRow& row) override {
    return in_transaction(task_id, [&] {
      Stmt st(db_,
              "INSERT INTO blog(id, name, description) VALUES(?1, ?2, ?3) "
              "ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
              "description = excluded.description");
      st.bind(1, row.id);
      st.bind(2, row.name);
      st.bind(3, row.description);
      st.step();
    });
  }

  bool write_comment(const std::string& task_id, const CommentRow& row) override {
    return in_transaction(task_id, [&] {
      Stmt st(db_,
              "INSERT INTO comment(id, blog_id, parent_id, message) VALUES(?1, ?2, ?3, ?4) "
              "ON CONFLICT(id) DO UPDATE SET blog_id = excluded.blog_id, "
              "parent_id = excluded.parent_id, message = excluded.message");
      st.bind(1, row.id);
      st.bind(2, row.blog_id);
      if (row.parent_id)
        st.bind(3, *row.parent_id);
      else
        st.bind_null(3);
      st.bind(4, row.message);
      st.step();
    });
  }

  std::vector<BlogRow> read_blogs() override {
    std::lock_guard lock(mu_);
    std::vector<BlogRow> out;
    Stmt st(db_, "SELECT id, name, description FROM blog");
    while (st.step()) out.push_back(BlogRow{st.int64(0), st.text(1), st.text(2)});
    return out;
  }

  std::vector<CommentRow> read_comments() override {
    std::lock_guard lock(mu_);
    std::vector<CommentRow> out;
    Stmt st(db_, "SELECT id, blog_id, parent_id, message FROM comment");
    while (st.step()) {
      CommentRow r;
      r.id = st.int64(0);
      r.blog_id = st.int64(1);
      if (!st.is_null(2)) r.parent_id = st.int64(2);
      r.message = st.text(3);
      out.push_back(std::move(r));
    }
    return out;
  }

  std::string describe() const override { return "sqlite " + path_; }

 private:
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      throw DbError("sqlite " + path_ + ": " + msg);
    }
  }

  template <class F>
  bool in_transaction(const std::string& task_id, F&& write_row) {
    std::lock_guard lock(mu_);
    exec("BEGIN IMMEDIATE");
    try {
      Stmt mark(db_, "INSERT INTO applied_task(task_id) VALUES(?1) ON CONFLICT DO NOTHING");
      mark.bind(1, task_id);
      mark.step();
      if (sqlite3_changes(db_) == 0) {  // this task already wrote its row
        exec("ROLLBACK");
        return false;
      }
      write_row();
      exec("COMMIT");
      return true;
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::mutex mu_;
};

}  // namespace

std::unique_ptr<TargetDb> open_sqlite(const std::string& path, bool create) {
  return std::make_unique<SqliteTarget>(path, create);
}

}  // namespace blog
