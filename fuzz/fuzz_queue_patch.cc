// libFuzzer target: queue configuration as it arrives from the API
// (PATCH/PUT /v1/queues/{name}) or the config file -> core::apply_queue_patch,
// and durations (core::parse_duration_ms / core::format_duration).
// See fuzz/README.md.
//
// Invariants (a violation calls __builtin_trap()):
//   * no exception escapes;
//   * an accepted config satisfies the documented validation ranges;
//   * round trip: to_json(config), serialized and parsed again, applied on the
//     defaults gives the same config. This is how the store persists queues
//     (sqlite_store.cc save_queue / parse_queues), so a config that does not
//     round-trip is silently lost at the next restart;
//   * a duration that parses formats to a string that parses to the same ms.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "core/envelope.h"
#include "core/queue.h"
#include "core/types.h"

namespace core = treeflow::core;

namespace {

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

void check_duration(std::string_view s) {
  auto ms = core::parse_duration_ms(s);
  if (!ms) {
    CHECK(!ms.error().message.empty());
    return;
  }
  std::string formatted = core::format_duration(*ms);
  auto back = core::parse_duration_ms(formatted);
  CHECK(back.ok());
  CHECK(*back == *ms);
}

bool same_config(const core::QueueConfig& a, const core::QueueConfig& b) {
  return a.name == b.name && a.retry.max_attempts == b.retry.max_attempts &&
         a.retry.max_retry_duration_ms == b.retry.max_retry_duration_ms &&
         a.retry.min_backoff_ms == b.retry.min_backoff_ms &&
         a.retry.max_backoff_ms == b.retry.max_backoff_ms &&
         a.retry.max_doublings == b.retry.max_doublings &&
         a.max_dispatches_per_second == b.max_dispatches_per_second &&
         a.max_burst_size == b.max_burst_size &&
         a.max_concurrent_dispatches == b.max_concurrent_dispatches &&
         a.dispatch_deadline_ms == b.dispatch_deadline_ms && a.retry_4xx == b.retry_4xx &&
         a.paused == b.paused;
}

void check_valid(const core::QueueConfig& q) {
  CHECK(!q.name.empty());
  CHECK(q.retry.max_attempts >= -1 && q.retry.max_attempts != 0);
  CHECK(q.retry.max_retry_duration_ms >= 0);
  CHECK(q.retry.min_backoff_ms >= 0);
  CHECK(q.retry.min_backoff_ms <= q.retry.max_backoff_ms);
  CHECK(q.retry.max_doublings >= 0);
  CHECK(std::isfinite(q.max_dispatches_per_second) && q.max_dispatches_per_second > 0);
  CHECK(q.max_burst_size >= 1);
  CHECK(q.max_concurrent_dispatches >= 1 && q.max_concurrent_dispatches <= 5000);
  CHECK(q.dispatch_deadline_ms >= 15'000 && q.dispatch_deadline_ms <= 1'800'000);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    if (size <= 64) check_duration(text);  // the raw bytes as a duration string

    boost::system::error_code ec;
    boost::json::value v = core::parse_json(text, ec);
    if (ec || !v.is_object()) return 0;
    const boost::json::object& patch = v.get_object();
    for (const auto& kv : patch)
      if (kv.value().is_string()) check_duration(kv.value().get_string());

    const core::QueueConfig defaults;
    auto q = core::apply_queue_patch(defaults, patch);
    if (!q) {
      CHECK(q.error().code == "queue_invalid" && !q.error().message.empty());
      return 0;
    }
    check_valid(*q);

    std::string stored = boost::json::serialize(core::to_json(*q));
    boost::json::value back = core::parse_json(stored, ec);
    CHECK(!ec && back.is_object());
    auto again = core::apply_queue_patch(defaults, back.get_object());
    CHECK(again.ok());
    CHECK(same_config(*q, *again));
  } catch (...) {
    __builtin_trap();
  }
  return 0;
}
