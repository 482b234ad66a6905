// Cloud Tasks retry semantics (SPEC section 5, reference/cloud-tasks.md 1.2-1.4).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/types.h"

namespace treeflow::core {

// Delay before retry k (k = 1 is the delay after the first failed attempt):
// min(max_backoff, min_backoff * 2^min(k-1, d) * max(1, k-d)). Reproduces
// Cloud Tasks' example 10, 20, 40, 80, 160, 240, 300, 300 s.
std::int64_t backoff_ms(const RetryPolicy& p, int retry_number);

enum class Outcome : std::uint8_t { success, retryable, permanent };

// 2xx success; 5xx, 429, 408 retryable; other codes permanent unless
// queue.retry_4xx. status 0 means a connection error or timeout: retryable.
Outcome classify_status(int status, const QueueConfig& queue);

struct RetryDecision {
  bool give_up = false;
  TimeMs not_before = 0;  // when to dispatch again (if !give_up)
};

// After attempt number `attempts_done` (1-based) failed at `now`. Stop rule of
// reference 1.2: give up when both max_attempts and max_retry_duration are
// satisfied (an unlimited one counts as satisfied). retry_after_ms (from a
// Retry-After header) replaces the backoff, capped by max_backoff.
RetryDecision decide_retry(const RetryPolicy& p, int attempts_done, TimeMs first_attempt,
                           TimeMs now, std::optional<std::int64_t> retry_after_ms);

// Parses a Retry-After value (delta seconds or an HTTP date) relative to now.
std::optional<std::int64_t> parse_retry_after(std::string_view value, TimeMs now);

}  // namespace treeflow::core
