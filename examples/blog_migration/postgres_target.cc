// PostgreSQL implementation of TargetDb (libpq). A small pool of
// connections, one transaction per write; concurrent writers of the same
// task id are serialised by applied_task's primary key (the second one waits,
// then sees ON CONFLICT DO NOTHING and writes nothing).
#include "target_db.h"

#ifdef BLOG_WITH_POSTGRES

#include <libpq-fe.h>

#include <mutex>

namespace blog {
namespace {

struct Result {
  PGresult* r;
  explicit Result(PGresult* p) : r(p) {}
  ~Result() { PQclear(r); }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
};

// What to show of a connection string: host and database, never a password.
std::string redact(const std::string& conninfo) {
  auto at = conninfo.find('@');
  auto scheme = conninfo.find("://");
  if (scheme != std::string::npos && at != std::string::npos)
    return conninfo.substr(0, scheme + 3) + "***@" + conninfo.substr(at + 1);
  return conninfo.find("password") == std::string::npos ? conninfo : "(connection string)";
}

class PostgresTarget final : public TargetDb {
 public:
  explicit PostgresTarget(std::string conninfo) : conninfo_(std::move(conninfo)) {
    release(connect());  // fail early, with a clear message
  }
  ~PostgresTarget() override {
    for (PGconn* c : idle_) PQfinish(c);
  }

  void create_schema() override {
    Conn c(*this);
    exec(c.get(),
         "CREATE TABLE IF NOT EXISTS blog("
         " id BIGINT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL);"
         "CREATE TABLE IF NOT EXISTS comment("
         " id BIGINT PRIMARY KEY,"
         " blog_id BIGINT NOT NULL REFERENCES blog(id),"
         " parent_id BIGINT NULL REFERENCES comment(id),"
         " message TEXT NOT NULL);"
         "CREATE INDEX IF NOT EXISTS comment_blog ON comment(blog_id);"
         "CREATE INDEX IF NOT EXISTS comment_parent ON comment(parent_id);"
         "CREATE TABLE IF NOT EXISTS applied_task(task_id TEXT PRIMARY KEY);");
  }

  bool write_blog(const std::string& task_id, const BlogRow& row) override {
    std::string id = std::to_string(row.id);
    const char* params[] = {id.c_str(), row.name.c_str(), row.description.c_str()};
    return in_transaction(task_id,
                          "INSERT INTO blog(id, name, description) VALUES($1, $2, $3) "
                          "ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
                          "description = excluded.description",
                          3, params);
  }

  bool write_comment(const std::string& task_id, const CommentRow& row) override {
    std::string id = std::to_string(row.id), blog_id = std::to_string(row.blog_id);
    std::string parent = row.parent_id ? std::to_string(*row.parent_id) : std::string();
    const char* params[] = {id.c_str(), blog_id.c_str(), row.parent_id ? parent.c_str() : nullptr,
                            row.message.c_str()};
    return in_transaction(task_id,
                          "INSERT INTO comment(id, blog_id, parent_id, message) "
                          "VALUES($1, $2, $3, $4) ON CONFLICT(id) DO UPDATE SET "
                          "blog_id = excluded.blog_id, parent_id = excluded.parent_id, "
                          "message = excluded.message",
                          4, params);
  }

  std::vector<BlogRow> read_blogs() override {
    Conn c(*this);
    Result r(PQexec(c.get(), "SELECT id, name, description FROM blog"));
    check(c.get(), r.r, PGRES_TUPLES_OK, "SELECT blog");
    std::vector<BlogRow> out;
    for (int i = 0, n = PQntuples(r.r); i < n; ++i)
      out.push_back(BlogRow{std::stoll(PQgetvalue(r.r, i, 0)), value(r.r, i, 1), value(r.r, i, 2)});
    return out;
  }

  std::vector<CommentRow> read_comments() override {
    Conn c(*this);
    Result r(PQexec(c.get(), "SELECT id, blog_id, parent_id, message FROM comment"));
    check(c.get(), r.r, PGRES_TUPLES_OK, "SELECT comment");
    std::vector<CommentRow> out;
    for (int i = 0, n = PQntuples(r.r); i < n; ++i) {
      CommentRow row;
      row.id = std::stoll(PQgetvalue(r.r, i, 0));
      row.blog_id = std::stoll(PQgetvalue(r.r, i, 1));
      if (!PQgetisnull(r.r, i, 2)) row.parent_id = std::stoll(PQgetvalue(r.r, i, 2));
      row.message = value(r.r, i, 3);
      out.push_back(std::move(row));
    }
    return out;
  }

  std::string describe() const override { return "postgresql " + redact(conninfo_); }

 private:
  // A connection borrowed from the pool for one scope; a broken one is dropped.
  class Conn {
   public:
    explicit Conn(PostgresTarget& t) : t_(t), c_(t.acquire()) {}
    ~Conn() {
      if (PQstatus(c_) == CONNECTION_OK && PQtransactionStatus(c_) == PQTRANS_IDLE)
        t_.release(c_);
      else
        PQfinish(c_);
    }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    PGconn* get() const { return c_; }

   private:
    PostgresTarget& t_;
    PGconn* c_;
  };

  static std::string value(PGresult* r, int row, int col) {
    return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
  }

  PGconn* connect() {
    PGconn* c = PQconnectdb(conninfo_.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::string msg = PQerrorMessage(c);
      PQfinish(c);
      throw DbError("postgresql: cannot connect to " + redact(conninfo_) + ": " + msg);
    }
    Result r(PQexec(c, "SET client_min_messages = warning"));
    return c;
  }
  PGconn* acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        PGconn* c = idle_.back();
        idle_.pop_back();
        return c;
      }
    }
    return connect();
  }
  void release(PGconn* c) {
    std::lock_guard lock(mu_);
    idle_.push_back(c);
  }

  void check(PGconn* c, PGresult* r, ExecStatusType want, const char* what) {
    if (PQresultStatus(r) != want)
      throw DbError(std::string("postgresql: ") + what + ": " + PQerrorMessage(c));
  }
  void exec(PGconn* c, const char* sql) {
    Result r(PQexec(c, sql));
    check(c, r.r, PGRES_COMMAND_OK, sql);
  }

  bool in_transaction(const std::string& task_id, const char* sql, int n,
                      const char* const* params) {
    Conn c(*this);
    exec(c.get(), "BEGIN");
    try {
      const char* tid[] = {task_id.c_str()};
      Result mark(PQexecParams(
          c.get(), "INSERT INTO applied_task(task_id) VALUES($1) ON CONFLICT DO NOTHING", 1,
          nullptr, tid, nullptr, nullptr, 0));
      check(c.get(), mark.r, PGRES_COMMAND_OK, "INSERT applied_task");
      if (std::string(PQcmdTuples(mark.r)) == "0") {  // this task already wrote its row
        exec(c.get(), "ROLLBACK");
        return false;
      }
      Result w(PQexecParams(c.get(), sql, n, nullptr, params, nullptr, nullptr, 0));
      check(c.get(), w.r, PGRES_COMMAND_OK, "INSERT");
      exec(c.get(), "COMMIT");
      return true;
    } catch (...) {
      Result r(PQexec(c.get(), "ROLLBACK"));
      throw;
    }
  }

  std::string conninfo_;
  std::mutex mu_;
  std::vector<PGconn*> idle_;
};

}  // namespace

std::unique_ptr<TargetDb> open_postgres(const std::string& conninfo) {
  return std::make_unique<PostgresTarget>(conninfo);
}

}  // namespace blog

#else

namespace blog {
std::unique_ptr<TargetDb> open_postgres(const std::string&) {
  throw DbError("this build has no PostgreSQL support (libpq was not found by CMake)");
}
}  // namespace blog

#endif
