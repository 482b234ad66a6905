// --flaky P: make an endpoint fail about P of its calls with 503, half of
// them BEFORE doing the work and half AFTER committing it (so the retry
// exercises idempotency). The decision is a hash of (task id, attempt), so a
// run is reproducible; attempt 6 and later never fail, so every task finishes
// well within the queue's default retry policy.
#pragma once

#include <string_view>

namespace blog {

enum class Fault { none, before_work, after_commit };

class Flaky {
 public:
  explicit Flaky(double rate = 0) : rate_(rate) {}
  double rate() const { return rate_; }
  Fault decide(std::string_view task_id, int attempt) const;

  static constexpr int kLastFailingAttempt = 5;

 private:
  double rate_;
};

}  // namespace blog
