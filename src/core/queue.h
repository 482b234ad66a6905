// Queue configuration: JSON/TOML-shaped maps to QueueConfig with Cloud Tasks'
// validation and messages (reference/cloud-tasks.md 1.1, 2, 9.4).
#pragma once

#include <string_view>

#include <boost/json/object.hpp>

#include "core/types.h"

namespace treeflow::core {

// Applies the fields present in `patch` on top of `base`. Field names are
// snake_case (max_attempts, max_retry_duration, min_backoff, max_backoff,
// max_doublings, max_dispatches_per_second, max_concurrent_dispatches,
// dispatch_deadline, retry_4xx). Durations are strings like "10s", "0.1s",
// "1500ms", "5m" or numbers of seconds. Unknown fields are errors.
// Validation: max_attempts >= -1; backoffs >= 0 and min <= max;
// max_doublings >= 0; 0 < rate <= 500; 1 <= concurrent <= 5000; deadline in
// [15 s, 30 min]. max_burst_size is derived from the rate as Cloud Tasks does
// (input ignored).
Result<QueueConfig> apply_queue_patch(const QueueConfig& base, const boost::json::object& patch);

boost::json::object to_json(const QueueConfig& q);

// "10s", "0.100s", "1500ms", "5m", "1h" -> ms.
Result<std::int64_t> parse_duration_ms(std::string_view s);
std::string format_duration(std::int64_t ms);  // "0.1s", "10s"

int burst_for_rate(double max_dispatches_per_second);

}  // namespace treeflow::core
