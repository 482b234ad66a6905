#include "core/retry.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace treeflow::core {

std::int64_t backoff_ms(const RetryPolicy& p, int retry_number) {
  // min(max_backoff, min_backoff * 2^min(k-1, d) * max(1, k-d)), in doubles so
  // that 2^d * a large min_backoff saturates instead of overflowing.
  const std::int64_t k = std::max(retry_number, 1);
  const std::int64_t d = std::max(p.max_doublings, 0);
  const std::int64_t max_b = std::max<std::int64_t>(p.max_backoff_ms, 0);
  const std::int64_t min_b = std::max<std::int64_t>(p.min_backoff_ms, 0);
  if (min_b == 0) return 0;
  const std::int64_t doublings = std::min<std::int64_t>(std::min(k - 1, d), 2000);
  const double linear = static_cast<double>(std::max<std::int64_t>(1, k - d));
  const double interval = std::ldexp(static_cast<double>(min_b), static_cast<int>(doublings)) * linear;
  if (!(interval < static_cast<double>(max_b))) return max_b;
  return static_cast<std::int64_t>(interval);
}

Outcome classify_status(int status, const QueueConfig& queue) {
  if (status >= 200 && status <= 299) return Outcome::success;
  if (status == 0 || status == 408 || status == 429 || status >= 500) return Outcome::retryable;
  return queue.retry_4xx ? Outcome::retryable : Outcome::permanent;
}

RetryDecision decide_retry(const RetryPolicy& p, int attempts_done, TimeMs first_attempt,
                           TimeMs now, std::optional<std::int64_t> retry_after_ms) {
  RetryDecision d;
  const bool unlimited_attempts = p.max_attempts == -1;
  const bool unlimited_duration = p.max_retry_duration_ms <= 0;
  const bool attempts_reached = unlimited_attempts || attempts_done >= p.max_attempts;
  const bool duration_reached = unlimited_duration || now - first_attempt >= p.max_retry_duration_ms;
  d.give_up = attempts_reached && duration_reached && !(unlimited_attempts && unlimited_duration);
  if (d.give_up) return d;
  std::int64_t delay = 0;
  if (retry_after_ms) {
    delay = std::clamp<std::int64_t>(*retry_after_ms, 0, std::max<std::int64_t>(p.max_backoff_ms, 0));
  } else {
    delay = backoff_ms(p, attempts_done);
  }
  d.not_before = now + delay;
  return d;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool parse_digits(std::string_view s, int& out) {
  if (s.empty() || s.size() > 9) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

int month_from_name(std::string_view m) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (m == kMonths[i]) return i + 1;
  }
  return 0;
}

bool valid_day_name(std::string_view d) {
  static constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  for (auto n : kDays) {
    if (d == n) return true;
  }
  return false;
}

// "HH:MM:SS" -> seconds of the day.
bool parse_clock(std::string_view s, int& secs) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
  int h = 0, mi = 0, se = 0;
  if (!parse_digits(s.substr(0, 2), h) || !parse_digits(s.substr(3, 2), mi) ||
      !parse_digits(s.substr(6, 2), se)) {
    return false;
  }
  if (h > 23 || mi > 59 || se > 60) return false;
  secs = h * 3600 + mi * 60 + se;
  return true;
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[m - 1];
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 7231 7.1.1.1). Returns
// milliseconds since the epoch.
std::optional<TimeMs> parse_imf_fixdate(std::string_view s) {
  if (s.size() != 29) return std::nullopt;
  if (!valid_day_name(s.substr(0, 3)) || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' ||
      s[16] != ' ' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  int day = 0, year = 0, secs = 0;
  if (!parse_digits(s.substr(5, 2), day) || !parse_digits(s.substr(12, 4), year)) return std::nullopt;
  const int month = month_from_name(s.substr(8, 3));
  if (month == 0 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  if (!parse_clock(s.substr(17, 8), secs)) return std::nullopt;
  return (days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
          secs) * 1000;
}

}  // namespace

std::optional<std::int64_t> parse_retry_after(std::string_view value, TimeMs now) {
  std::string_view s = trim(value);
  if (s.empty()) return std::nullopt;
  bool negative = false;
  std::string_view digits = s;
  if (digits.front() == '-') {
    negative = true;
    digits.remove_prefix(1);
  }
  if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos) {
    if (negative) return 0;
    // Saturate: anything beyond ~292 years is as good as forever.
    std::int64_t secs = 0;
    for (char c : digits) {
      if (secs > 9'000'000'000'000LL) return std::int64_t{9'000'000'000'000'000LL};
      secs = secs * 10 + (c - '0');
    }
    if (secs > 9'000'000'000'000'000LL / 1000) return std::int64_t{9'000'000'000'000'000LL};
    return secs * 1000;
  }
  if (negative) return std::nullopt;
  auto when = parse_imf_fixdate(s);
  if (!when) return std::nullopt;
  return std::max<std::int64_t>(0, *when - now);
}

}  // namespace treeflow::core
