#include "target_db.h"

namespace blog {

bool is_postgres_target(const std::string& target) {
  return target.starts_with("postgresql://") || target.starts_with("postgres://") ||
         target.find("dbname=") != std::string::npos;
}

std::unique_ptr<TargetDb> open_target(const std::string& target, bool create) {
  if (target.empty()) throw DbError("no target given (a SQLite file path or postgresql://...)");
  if (is_postgres_target(target)) return open_postgres(target);
  return open_sqlite(target, create);
}

}  // namespace blog
