#include "store/sqlite.h"

namespace treeflow::store {

namespace {
[[noreturn]] void throw_sqlite(sqlite3* db, std::string_view what) {
  std::string msg = "sqlite: ";
  msg += what;
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : "out of memory";
  throw StoreError(msg);
}
}  // namespace

Stmt& Stmt::bind(int i, std::int64_t v) {
  if (sqlite3_bind_int64(s_, i, v) != SQLITE_OK) throw_sqlite(db_, "bind");
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  if (sqlite3_bind_double(s_, i, v) != SQLITE_OK) throw_sqlite(db_, "bind");
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view v) {
  if (sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK)
    throw_sqlite(db_, "bind");
  return *this;
}
Stmt& Stmt::bind_blob(int i, std::string_view v) {
  if (sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT) != SQLITE_OK)
    throw_sqlite(db_, "bind");
  return *this;
}
Stmt& Stmt::bind_ref(int i, std::string_view v) {
  if (sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8) != SQLITE_OK)
    throw_sqlite(db_, "bind");
  return *this;
}
Stmt& Stmt::bind_blob_ref(int i, std::string_view v) {
  if (sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_STATIC) != SQLITE_OK)
    throw_sqlite(db_, "bind");
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  if (sqlite3_bind_null(s_, i) != SQLITE_OK) throw_sqlite(db_, "bind");
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string sql = sqlite3_sql(s_) ? sqlite3_sql(s_) : "";
  sqlite3_reset(s_);
  throw_sqlite(db_, sql.substr(0, 120));
}

void Stmt::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

std::string Stmt::text(int col) const { return std::string(view(col)); }

std::string_view Stmt::view(int col) const {
  const void* p = sqlite3_column_blob(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  if (!p || n <= 0) return {};
  return {static_cast<const char*>(p), static_cast<std::size_t>(n)};
}

Db::Db(const std::string& path, int flags) {
  // Process-wide, before SQLite's first use: no global mutex around every
  // allocation for memory statistics nobody reads.
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "cannot open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError(msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, 5000);
}

Db::~Db() {
  by_address_.clear();
  cache_.clear();  // finalize statements before closing
  if (db_) sqlite3_close(db_);
}

void Db::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = std::string("sqlite: ") + (err ? err : sqlite3_errmsg(db_)) + " in: " +
                      s.substr(0, 120);
    sqlite3_free(err);
    throw StoreError(msg);
  }
}

Stmt& Db::prepare(std::string_view sql) {
  std::string key(sql);
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    it->second->reset();
    return *it->second;
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, key.c_str(), static_cast<int>(key.size()), SQLITE_PREPARE_PERSISTENT,
                         &s, nullptr) != SQLITE_OK)
    throw_sqlite(db_, "prepare " + key.substr(0, 120));
  auto [ins, ok] = cache_.emplace(std::move(key), std::make_unique<Stmt>(db_, s));
  return *ins->second;
}

Stmt& Db::prepare_literal(const char* sql, std::size_t size) {
  if (auto it = by_address_.find(sql); it != by_address_.end()) {
    it->second->reset();
    return *it->second;
  }
  Stmt& s = prepare(std::string_view(sql, size));
  by_address_.emplace(sql, &s);
  return s;
}

void Db::fail(std::string_view what) const { throw_sqlite(db_, what); }

}  // namespace treeflow::store
