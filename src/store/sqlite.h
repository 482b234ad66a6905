// A thin RAII layer over the SQLite C API: a connection with cached prepared
// statements, and a statement wrapper with typed bind/column helpers. Errors
// throw StoreError with SQLite's message and the SQL that failed.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/store.h"

namespace treeflow::store {

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }

  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, double v);
  Stmt& bind(int i, std::string_view v);  // TEXT (copied)
  Stmt& bind_blob(int i, std::string_view v);
  // Without a copy: `v` must stay valid until the statement is reset or
  // stepped to its end (the hot paths bind rows they hold).
  Stmt& bind_ref(int i, std::string_view v);
  Stmt& bind_blob_ref(int i, std::string_view v);
  Stmt& bind_null(int i);

  bool step();  // true: a row is available; false: done
  void run() {
    while (step()) {
    }
  }
  void reset();

  std::int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  int i32(int col) const { return sqlite3_column_int(s_, col); }
  double f64(int col) const { return sqlite3_column_double(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string text(int col) const;
  std::string_view view(int col) const;  // valid until the next step/reset

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

class Db {
 public:
  // flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE or SQLITE_OPEN_READONLY.
  Db(const std::string& path, int flags);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(std::string_view sql);
  // A cached prepared statement, reset and ready to bind. One user at a time.
  Stmt& prepare(std::string_view sql);
  // The same for SQL in a string literal, cached by its address: no copy or
  // hash of the text per call (the hot paths run a statement per task).
  template <std::size_t N>
  Stmt& prepare(const char (&literal)[N]) {
    return prepare_literal(literal, N - 1);
  }
  std::int64_t changes() const { return sqlite3_changes64(db_); }
  std::int64_t last_rowid() const { return sqlite3_last_insert_rowid(db_); }
  sqlite3* raw() const { return db_; }
  [[noreturn]] void fail(std::string_view what) const;

 private:
  Stmt& prepare_literal(const char* sql, std::size_t size);

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;
  std::unordered_map<const char*, Stmt*> by_address_;  // literals -> entries of cache_
};

}  // namespace treeflow::store
