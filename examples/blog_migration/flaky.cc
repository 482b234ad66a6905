#include "flaky.h"

#include <cstdint>
#include <string>

namespace blog {

namespace {

// FNV-1a then a splitmix64 finaliser: well spread, stable across platforms.
std::uint64_t mix(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

}  // namespace

Fault Flaky::decide(std::string_view task_id, int attempt) const {
  if (rate_ <= 0 || attempt > kLastFailingAttempt) return Fault::none;
  std::string key(task_id);
  key += '#';
  key += std::to_string(attempt);
  double u = static_cast<double>(mix(key) >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  if (u < rate_ / 2) return Fault::before_work;
  if (u < rate_) return Fault::after_commit;
  return Fault::none;
}

}  // namespace blog
