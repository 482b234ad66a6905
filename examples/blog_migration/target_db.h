// The relational copy the flagship job writes into: a small interface with an
// SQLite implementation (a file path, the default) and a PostgreSQL one (a
// postgresql:// connection string, via libpq).
//
//   blog(id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL)
//   comment(id INTEGER PRIMARY KEY, blog_id INTEGER NOT NULL REFERENCES blog(id),
//           parent_id INTEGER NULL REFERENCES comment(id), message TEXT NOT NULL)
//   applied_task(task_id TEXT PRIMARY KEY)
//
// Idempotency: every write records the task id in applied_task in the SAME
// transaction as the row. A second call for the same task id (a retry after
// a lost answer, a duplicate delivery) writes nothing and reports so, and the
// endpoint answers exactly as the first time. Rows are upserted by id, so
// re-running the whole job over an existing copy converges instead of
// failing on duplicate keys.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace blog {

struct BlogRow {
  std::int64_t id = 0;
  std::string name;
  std::string description;
};

struct CommentRow {
  std::int64_t id = 0;
  std::int64_t blog_id = 0;
  std::optional<std::int64_t> parent_id;  // empty for a top-level comment
  std::string message;
};

struct DbError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class TargetDb {
 public:
  virtual ~TargetDb() = default;

  // CREATE TABLE IF NOT EXISTS for the three tables.
  virtual void create_schema() = 0;

  // Write the row and record task_id, in one transaction. Returns false (and
  // writes nothing) when task_id was already applied. Thread-safe.
  virtual bool write_blog(const std::string& task_id, const BlogRow& row) = 0;
  virtual bool write_comment(const std::string& task_id, const CommentRow& row) = 0;

  // Every row, in no particular order (for blog_verify).
  virtual std::vector<BlogRow> read_blogs() = 0;
  virtual std::vector<CommentRow> read_comments() = 0;

  // "sqlite blog.db" / "postgresql host/db", for messages (no password).
  virtual std::string describe() const = 0;
};

// "postgresql://..." or "postgres://..." (or a libpq "host=... dbname=..."
// string) opens PostgreSQL; anything else is an SQLite file path. With
// create=false an SQLite file that does not exist is an error instead of
// being created (blog_verify must not invent an empty copy).
std::unique_ptr<TargetDb> open_target(const std::string& target, bool create);

bool is_postgres_target(const std::string& target);

std::unique_ptr<TargetDb> open_sqlite(const std::string& path, bool create);
std::unique_ptr<TargetDb> open_postgres(const std::string& conninfo);

}  // namespace blog
