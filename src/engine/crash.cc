#include "engine/crash.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace treeflow::engine {

namespace {
struct Config {
  std::string name;
  long nth = 1;
  std::atomic<long> hits{0};
  Config() {
    const char* v = std::getenv("TREEFLOW_CRASH_AT");
    if (!v || !*v) return;
    std::string s(v);
    auto colon = s.find(':');
    name = s.substr(0, colon);
    if (colon != std::string::npos) nth = std::strtol(s.c_str() + colon + 1, nullptr, 10);
  }
};
Config& config() {
  static Config c;
  return c;
}
}  // namespace

void crash_point(const char* name) {
  Config& c = config();
  if (c.name.empty() || c.name != name) return;
  if (++c.hits == c.nth) {
    std::fprintf(stderr, "treeflow: crash point %s reached (TREEFLOW_CRASH_AT)\n", name);
    std::fflush(stderr);
    ::_exit(86);
  }
}

}  // namespace treeflow::engine
