#include "core/retry.h"

#include <vector>

#include <gtest/gtest.h>

namespace treeflow::core {
namespace {

RetryPolicy policy(double min_s, double max_s, int doublings) {
  RetryPolicy p;
  p.min_backoff_ms = static_cast<std::int64_t>(min_s * 1000 + 0.5);
  p.max_backoff_ms = static_cast<std::int64_t>(max_s * 1000 + 0.5);
  p.max_doublings = doublings;
  return p;
}

std::vector<std::int64_t> seq_ms(const RetryPolicy& p, int n) {
  std::vector<std::int64_t> out;
  for (int k = 1; k <= n; ++k) out.push_back(backoff_ms(p, k));
  return out;
}

std::vector<std::int64_t> ms(std::vector<double> secs) {
  std::vector<std::int64_t> out;
  for (double s : secs) out.push_back(static_cast<std::int64_t>(s * 1000 + 0.5));
  return out;
}

// reference/cloud-tasks.md 9.1, every row.
struct Vector {
  const char* name;
  double min_s, max_s;
  int doublings;
  std::vector<double> intervals;
};

class BackoffVectors : public ::testing::TestWithParam<Vector> {};

TEST_P(BackoffVectors, MatchesCloudTasks) {
  const Vector& v = GetParam();
  auto p = policy(v.min_s, v.max_s, v.doublings);
  EXPECT_EQ(seq_ms(p, static_cast<int>(v.intervals.size())), ms(v.intervals));
}

INSTANTIATE_TEST_SUITE_P(
    Reference91, BackoffVectors,
    ::testing::Values(
        Vector{"official_10_300_3", 10, 300, 3, {10, 20, 40, 80, 160, 240, 300, 300, 300, 300}},
        Vector{"defaults_0_1_3600_16", 0.1, 3600, 16,
               {0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6, 819.2,
                1638.4, 3276.8, 3600, 3600}},
        Vector{"1_1000_1", 1, 1000, 1, {1, 2, 4, 6, 8, 10, 12, 14}},
        Vector{"2_100_5", 2, 100, 5, {2, 4, 8, 16, 32, 64, 100, 100}},
        Vector{"5_60_2", 5, 60, 2, {5, 10, 20, 40, 60, 60}},
        Vector{"60_600_4", 60, 600, 4, {60, 120, 240, 480, 600, 600}},
        Vector{"10_10_3", 10, 10, 3, {10, 10, 10, 10}},
        Vector{"1_3600_0_derived", 1, 3600, 0, {1, 2, 3, 4, 5, 6}}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Backoff, DefaultsCumulativeAfter16Retries) {
  RetryPolicy p;  // Cloud Tasks defaults
  std::int64_t sum = 0;
  for (int k = 1; k <= 16; ++k) sum += backoff_ms(p, k);
  EXPECT_EQ(sum, 6'553'500);
}

TEST(Backoff, AntiVectorMustNotHappen) {
  // aertje emulator up to v2.0.0: 10, 20, 40, 80, 80, 80 (no linear phase).
  auto got = seq_ms(policy(10, 300, 3), 6);
  EXPECT_NE(got, ms({10, 20, 40, 80, 80, 80}));
  EXPECT_EQ(got[4], 160'000);
  EXPECT_EQ(got[5], 240'000);
  // Old v2beta2 text (2^(d-1) increment): 10,20,40,80,120,160 must not happen either.
  EXPECT_NE(got, ms({10, 20, 40, 80, 120, 160}));
}

TEST(Backoff, DefaultPolicyIsCloudTasksDefault) {
  RetryPolicy p;
  EXPECT_EQ(p.max_attempts, 100);
  EXPECT_EQ(p.max_retry_duration_ms, 0);
  EXPECT_EQ(p.min_backoff_ms, 100);
  EXPECT_EQ(p.max_backoff_ms, 3'600'000);
  EXPECT_EQ(p.max_doublings, 16);
}

TEST(Backoff, NoOverflow) {
  RetryPolicy p;
  p.min_backoff_ms = 3'600'000'000LL;  // 1000 h
  p.max_backoff_ms = 9'000'000'000'000'000LL;
  p.max_doublings = 16;
  EXPECT_EQ(backoff_ms(p, 17), 3'600'000'000LL << 16);
  EXPECT_EQ(backoff_ms(p, 1'000'000), p.max_backoff_ms);
  p.max_doublings = 1'000'000;
  EXPECT_EQ(backoff_ms(p, 2'000'000'000), p.max_backoff_ms);
  EXPECT_GE(backoff_ms(p, 100), 0);
}

TEST(Backoff, EdgeRetryNumbers) {
  auto p = policy(10, 300, 3);
  EXPECT_EQ(backoff_ms(p, 0), 10'000);   // treated as the first retry
  EXPECT_EQ(backoff_ms(p, -5), 10'000);
  EXPECT_EQ(backoff_ms(p, 1'000'000), 300'000);
  RetryPolicy zero = policy(0, 10, 3);
  EXPECT_EQ(backoff_ms(zero, 5), 0);
}

TEST(Classify, StatusClasses) {
  QueueConfig q;
  for (int s : {200, 201, 202, 204, 299}) EXPECT_EQ(classify_status(s, q), Outcome::success) << s;
  for (int s : {0, 408, 429, 500, 502, 503, 504, 599}) {
    EXPECT_EQ(classify_status(s, q), Outcome::retryable) << s;
  }
  for (int s : {100, 301, 302, 304, 400, 401, 403, 404, 405, 409, 410, 422, 499}) {
    EXPECT_EQ(classify_status(s, q), Outcome::permanent) << s;
  }
}

TEST(Classify, Retry4xxMakesOtherFailuresRetryable) {
  QueueConfig q;
  q.retry_4xx = true;
  for (int s : {400, 404, 409, 422, 302}) EXPECT_EQ(classify_status(s, q), Outcome::retryable) << s;
  EXPECT_EQ(classify_status(200, q), Outcome::success);
  EXPECT_EQ(classify_status(503, q), Outcome::retryable);
}

// 9.2 stop rule, with a fixed 1 s backoff and a handler that always fails:
// simulate attempts until give_up and count them.
int attempts_until_give_up(int max_attempts, std::int64_t max_duration_ms, int cap = 10'000) {
  RetryPolicy p;
  p.max_attempts = max_attempts;
  p.max_retry_duration_ms = max_duration_ms;
  p.min_backoff_ms = p.max_backoff_ms = 1000;
  const TimeMs first = 1'000'000;
  TimeMs now = first;
  for (int attempt = 1; attempt <= cap; ++attempt) {
    auto d = decide_retry(p, attempt, first, now, std::nullopt);
    if (d.give_up) return attempt;
    EXPECT_EQ(d.not_before, now + 1000);
    now = d.not_before;  // the handler fails instantly
  }
  return -1;  // never gave up
}

TEST(StopRule, Reference92) {
  EXPECT_EQ(attempts_until_give_up(1, 0), 1);
  EXPECT_EQ(attempts_until_give_up(3, 0), 3);
  // 3 attempts and 10 s: attempt k fails at (k-1) s; first failure at >= 10 s is attempt 11.
  EXPECT_EQ(attempts_until_give_up(3, 10'000), 11);
  EXPECT_EQ(attempts_until_give_up(-1, 5'000), 6);
  EXPECT_EQ(attempts_until_give_up(-1, 0), -1) << "unlimited + unlimited never gives up";
  EXPECT_EQ(attempts_until_give_up(100, 0), 100);
}

TEST(StopRule, BothLimitsMustBeSatisfied) {
  RetryPolicy p;
  p.max_attempts = 3;
  p.max_retry_duration_ms = 60'000;
  EXPECT_FALSE(decide_retry(p, 5, 0, 59'999, std::nullopt).give_up) << "duration not reached";
  EXPECT_TRUE(decide_retry(p, 5, 0, 60'000, std::nullopt).give_up);
  EXPECT_FALSE(decide_retry(p, 2, 0, 600'000, std::nullopt).give_up) << "attempts not reached";
  EXPECT_TRUE(decide_retry(p, 3, 0, 600'000, std::nullopt).give_up);
}

TEST(StopRule, DelayIsBackoffOfAttemptsDone) {
  RetryPolicy p = policy(10, 300, 3);
  for (int k = 1; k <= 8; ++k) {
    auto d = decide_retry(p, k, 0, 5'000'000, std::nullopt);
    ASSERT_FALSE(d.give_up);
    EXPECT_EQ(d.not_before, 5'000'000 + backoff_ms(p, k)) << k;
  }
  EXPECT_EQ(decide_retry(p, 1, 0, 0, std::nullopt).not_before, 10'000);
  EXPECT_EQ(decide_retry(p, 6, 0, 0, std::nullopt).not_before, 240'000);
}

TEST(StopRule, RetryAfterReplacesBackoffCappedByMaxBackoff) {
  RetryPolicy p = policy(10, 300, 3);
  EXPECT_EQ(decide_retry(p, 1, 0, 1000, 5'000).not_before, 6'000) << "shorter than backoff: used";
  EXPECT_EQ(decide_retry(p, 1, 0, 1000, 120'000).not_before, 121'000);
  EXPECT_EQ(decide_retry(p, 1, 0, 1000, 86'400'000).not_before, 301'000) << "capped";
  EXPECT_EQ(decide_retry(p, 1, 0, 1000, -7).not_before, 1000) << "never negative";
  EXPECT_EQ(decide_retry(p, 1, 0, 1000, 0).not_before, 1000);
  p.max_attempts = 1;
  EXPECT_TRUE(decide_retry(p, 1, 0, 1000, 5'000).give_up) << "Retry-After does not extend attempts";
}

TEST(RetryAfter, DeltaSeconds) {
  EXPECT_EQ(parse_retry_after("120", 0), 120'000);
  EXPECT_EQ(parse_retry_after("0", 0), 0);
  EXPECT_EQ(parse_retry_after("  7 ", 0), 7'000);
  EXPECT_EQ(parse_retry_after("-5", 0), 0);
  auto huge = parse_retry_after("99999999999999999999999999", 0);
  ASSERT_TRUE(huge);
  EXPECT_GT(*huge, 0) << "saturates, no overflow";
}

TEST(RetryAfter, HttpDate) {
  // 2015-10-21T07:28:00Z = 1445412480 s.
  const TimeMs date = 1'445'412'480'000;
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date - 30'000), 30'000);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date), 0);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date + 5'000), 0) << "past -> 0";
  // RFC 7231's example: Sun, 06 Nov 1994 08:49:37 GMT = 784111777.
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784'111'777'000 - 1'500), 1'500);
  // Leap day and the epoch.
  EXPECT_EQ(parse_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", 1'709'164'800'000 - 1000), 1000);
  EXPECT_EQ(parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 0), 10'000);
}

TEST(RetryAfter, Unparseable) {
  for (const char* bad : {"", "   ", "soon", "1.5", "12s", "Wed, 21 Oct 2015 07:28:00",
                          "Wed, 21 Oct 2015 07:28:00 UTC", "Wed, 32 Oct 2015 07:28:00 GMT",
                          "Wed, 29 Feb 2015 07:28:00 GMT", "Wed, 21 Foo 2015 07:28:00 GMT",
                          "Wed, 21 Oct 2015 25:28:00 GMT", "Xyz, 21 Oct 2015 07:28:00 GMT",
                          "Wed 21 Oct 2015 07:28:00 GMT", "-", "--5"}) {
    EXPECT_FALSE(parse_retry_after(bad, 0).has_value()) << bad;
  }
}

}  // namespace
}  // namespace treeflow::core
