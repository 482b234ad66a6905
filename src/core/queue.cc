#include "core/queue.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/ids.h"
#include "core/text.h"

namespace treeflow::core {

namespace {

Error qerr(std::string msg) { return Error{"queue_invalid", std::move(msg)}; }

Error type_error(std::string_view field, std::string_view expected, const boost::json::value& v) {
  return qerr(std::string(field) + ": expected " + std::string(expected) + ", got " +
              std::string(text::kind_name(v)));
}

// An integer field (a double with an integral value is accepted, as TOML and
// JavaScript clients may send one).
Result<std::int64_t> get_int(std::string_view field, const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return qerr(std::string(field) + ": out of range");
    }
    return static_cast<std::int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (std::trunc(d) != d || std::fabs(d) > 9e15) return type_error(field, "an integer", v);
    return static_cast<std::int64_t>(d);
  }
  return type_error(field, "an integer", v);
}

Result<int> get_int32(std::string_view field, const boost::json::value& v) {
  auto r = get_int(field, v);
  if (!r) return r.error();
  if (*r < std::numeric_limits<int>::min() || *r > std::numeric_limits<int>::max()) {
    return qerr(std::string(field) + ": out of range");
  }
  return static_cast<int>(*r);
}

// A duration: a string with a unit, or a number of seconds.
Result<std::int64_t> get_duration(std::string_view field, const boost::json::value& v) {
  if (v.is_string()) {
    auto r = parse_duration_ms(v.get_string());
    if (!r) return qerr(std::string(field) + ": " + r.error().message);
    return r;
  }
  if (v.is_number()) {
    double secs = v.to_number<double>();
    if (!std::isfinite(secs) || std::fabs(secs) > 9e12) return qerr(std::string(field) + ": out of range");
    return static_cast<std::int64_t>(std::llround(secs * 1000.0));
  }
  return type_error(field, "a duration such as \"10s\"", v);
}

}  // namespace

Result<std::int64_t> parse_duration_ms(std::string_view s) {
  const std::string original(s);
  auto bad = [&] {
    return Error{"queue_invalid", "invalid duration " + text::quote(original) +
                                      " (expected a number and a unit: ms, s, m or h, e.g. \"10s\")"};
  };
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  std::int64_t unit = 0;
  if (s.size() >= 2 && s.substr(s.size() - 2) == "ms") {
    unit = 1;
    s.remove_suffix(2);
  } else if (!s.empty() && s.back() == 's') {
    unit = 1000;
    s.remove_suffix(1);
  } else if (!s.empty() && s.back() == 'm') {
    unit = 60'000;
    s.remove_suffix(1);
  } else if (!s.empty() && s.back() == 'h') {
    unit = 3'600'000;
    s.remove_suffix(1);
  } else {
    return bad();
  }
  // Exact decimal arithmetic: "0.1s" is 100 ms, not 99.999...
  std::int64_t whole = 0, frac = 0, scale = 1;
  std::size_t i = 0, int_digits = 0, frac_digits = 0;
  // Up to 18 integer digits (fits int64), so that every duration this parser
  // accepts also parses again in the seconds format_duration writes
  // ("999999999999h" is "3599999999996400s"): queue configs are stored that way.
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++int_digits) {
    if (int_digits >= 18) return bad();
    whole = whole * 10 + (s[i] - '0');
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++frac_digits) {
      if (frac_digits >= 9) continue;  // beyond nanoseconds: ignored
      frac = frac * 10 + (s[i] - '0');
      scale *= 10;
    }
    if (frac_digits == 0) return bad();
  }
  if (i != s.size() || int_digits == 0) return bad();
  // ms = whole*unit + round(frac*unit/scale), an error if it overflows.
  std::int64_t ms = 0;
  if (__builtin_mul_overflow(whole, unit, &ms) ||
      __builtin_add_overflow(ms, (frac * unit + scale / 2) / scale, &ms)) {
    return bad();
  }
  return negative ? -ms : ms;
}

std::string format_duration(std::int64_t ms) {
  std::string out;
  std::uint64_t v;
  if (ms < 0) {
    out.push_back('-');
    v = static_cast<std::uint64_t>(-(ms + 1)) + 1;
  } else {
    v = static_cast<std::uint64_t>(ms);
  }
  out += std::to_string(v / 1000);
  std::uint64_t rest = v % 1000;
  if (rest != 0) {
    std::string frac = std::to_string(rest);
    frac.insert(0, 3 - frac.size(), '0');
    while (frac.back() == '0') frac.pop_back();
    out.push_back('.');
    out += frac;
  }
  out.push_back('s');
  return out;
}

constexpr double kMaxRate = 1'000'000;

int burst_for_rate(double rate) {
  // Cloud Tasks chooses max_burst_size itself (output only) and reports 100 at
  // the default 500/s; the v2beta2 docs describe rate/5. We use
  // clamp(ceil(rate / 5), 1, 100): 500/s -> 100, 50/s -> 10, 1/s -> 1.
  // Above Cloud Tasks' 500/s cap (treeflow allows up to kMaxRate) the burst
  // keeps growing as rate / 5, so a fast queue is not throttled by its bucket.
  if (!(rate > 0)) return 1;
  double b = std::ceil(rate / 5.0);
  return static_cast<int>(std::clamp(b, 1.0, rate <= 500 ? 100.0 : b));
}

Result<QueueConfig> apply_queue_patch(const QueueConfig& base, const boost::json::object& patch) {
  QueueConfig q = base;
  for (const auto& kv : patch) {
    std::string_view key = kv.key();
    const boost::json::value& v = kv.value();
    if (key == "max_attempts") {
      auto r = get_int32(key, v);
      if (!r) return r.error();
      if (*r < -1) return qerr("max_attempts must be greater or equal to -1");
      // As in Cloud Tasks (proto3 cannot tell 0 from unset): 0 = the default.
      q.retry.max_attempts = *r == 0 ? RetryPolicy{}.max_attempts : *r;
    } else if (key == "max_retry_duration") {
      auto r = get_duration(key, v);
      if (!r) return r.error();
      if (*r < 0) return qerr("max_retry_duration cannot be negative");
      q.retry.max_retry_duration_ms = *r;
    } else if (key == "min_backoff") {
      auto r = get_duration(key, v);
      if (!r) return r.error();
      if (*r < 0) return qerr("min_backoff cannot be negative");
      q.retry.min_backoff_ms = *r;
    } else if (key == "max_backoff") {
      auto r = get_duration(key, v);
      if (!r) return r.error();
      if (*r < 0) return qerr("max_backoff cannot be negative");
      q.retry.max_backoff_ms = *r;
    } else if (key == "max_doublings") {
      auto r = get_int32(key, v);
      if (!r) return r.error();
      if (*r < 0) return qerr("max_doublings cannot be negative");
      q.retry.max_doublings = *r;
    } else if (key == "max_dispatches_per_second") {
      if (!v.is_number()) return type_error(key, "a number", v);
      double rate = v.to_number<double>();
      if (!std::isfinite(rate)) return qerr("max_dispatches_per_second must be a finite number");
      if (rate < 0) return qerr("max_dispatches_per_second cannot be negative");
      if (rate == 0) return qerr("max_dispatches_per_second must be greater than 0");
      // Cloud Tasks caps a queue at 500/s; a self-hosted engine on loopback
      // can go much faster, so treeflow's cap is higher (the default stays 500).
      if (rate > kMaxRate)
        return qerr("max_dispatches_per_second must be less than or equal to 1000000");
      q.max_dispatches_per_second = rate;
    } else if (key == "max_concurrent_dispatches") {
      auto r = get_int32(key, v);
      if (!r) return r.error();
      if (*r < 0) return qerr("max_concurrent_dispatches cannot be negative");
      if (*r == 0) return qerr("max_concurrent_dispatches must be greater than 0");
      if (*r > 5000) return qerr("max_concurrent_dispatches must be less than or equal to 5000");
      q.max_concurrent_dispatches = *r;
    } else if (key == "dispatch_deadline") {
      auto r = get_duration(key, v);
      if (!r) return r.error();
      if (*r < 15'000 || *r > 1'800'000) return qerr("dispatch_deadline must be between [15s, 30m]");
      q.dispatch_deadline_ms = *r;
    } else if (key == "retry_4xx") {
      if (!v.is_bool()) return type_error(key, "a boolean", v);
      q.retry_4xx = v.get_bool();
    } else if (key == "paused") {
      if (!v.is_bool()) return type_error(key, "a boolean", v);
      q.paused = v.get_bool();
    } else if (key == "name") {
      if (!v.is_string()) return type_error(key, "a string", v);
      if (!is_valid_name(v.get_string())) {
        return qerr("name " + text::quote(v.get_string()) +
                    " is not valid (letters, digits, '-' and '_', 1 to 500 characters)");
      }
      q.name = std::string(v.get_string());
    } else if (key == "max_burst_size") {
      // Output only, as in Cloud Tasks: any input (even negative) is ignored.
    } else {
      return qerr("unknown field " + text::quote(key) +
                  " (expected max_attempts, max_retry_duration, min_backoff, max_backoff, "
                  "max_doublings, max_dispatches_per_second, max_concurrent_dispatches, "
                  "dispatch_deadline or retry_4xx)");
    }
  }
  if (q.retry.min_backoff_ms > q.retry.max_backoff_ms) {
    return qerr("min_backoff must be less than or equal to max_backoff");
  }
  q.max_burst_size = burst_for_rate(q.max_dispatches_per_second);
  return q;
}

boost::json::object to_json(const QueueConfig& q) {
  boost::json::object o;
  o["name"] = q.name;
  o["max_attempts"] = q.retry.max_attempts;
  o["max_retry_duration"] = format_duration(q.retry.max_retry_duration_ms);
  o["min_backoff"] = format_duration(q.retry.min_backoff_ms);
  o["max_backoff"] = format_duration(q.retry.max_backoff_ms);
  o["max_doublings"] = q.retry.max_doublings;
  // A whole rate prints as an integer (500, not Boost.JSON's 5E2).
  double rate = q.max_dispatches_per_second;
  if (rate == std::floor(rate) && rate <= 1e15)
    o["max_dispatches_per_second"] = static_cast<std::int64_t>(rate);
  else
    o["max_dispatches_per_second"] = rate;
  o["max_burst_size"] = q.max_burst_size;
  o["max_concurrent_dispatches"] = q.max_concurrent_dispatches;
  o["dispatch_deadline"] = format_duration(q.dispatch_deadline_ms);
  o["retry_4xx"] = q.retry_4xx;
  o["paused"] = q.paused;
  return o;
}

}  // namespace treeflow::core
