#include "core/queue.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace treeflow::core {
namespace {

boost::json::object obj(std::string_view json) { return boost::json::parse(json).as_object(); }

Result<QueueConfig> patch(std::string_view json) { return apply_queue_patch(QueueConfig{}, obj(json)); }

void expect_invalid(std::string_view json, std::string_view message) {
  auto r = patch(json);
  ASSERT_FALSE(r) << json;
  EXPECT_EQ(r.error().code, "queue_invalid") << json;
  EXPECT_EQ(r.error().message, message) << json;
}

TEST(Queue, DefaultsAreCloudTasksDefaults) {
  QueueConfig q;
  EXPECT_EQ(q.name, "default");
  EXPECT_EQ(q.max_dispatches_per_second, 500);
  EXPECT_EQ(q.max_burst_size, 100);
  EXPECT_EQ(q.max_concurrent_dispatches, 1000);
  EXPECT_EQ(q.dispatch_deadline_ms, 600'000);
  EXPECT_EQ(q.retry.max_attempts, 100);
  EXPECT_EQ(q.retry.min_backoff_ms, 100);
  EXPECT_EQ(q.retry.max_backoff_ms, 3'600'000);
  EXPECT_EQ(q.retry.max_doublings, 16);
  EXPECT_EQ(q.retry.max_retry_duration_ms, 0);
  EXPECT_FALSE(q.paused);
  EXPECT_FALSE(q.retry_4xx);
}

TEST(Queue, EmptyPatchKeepsBase) {
  auto r = patch("{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(boost::json::serialize(to_json(*r)), boost::json::serialize(to_json(QueueConfig{})));
}

TEST(Queue, ToJsonDefaults) {
  auto j = to_json(QueueConfig{});
  EXPECT_EQ(j.at("name"), "default");
  EXPECT_EQ(j.at("max_attempts"), 100);
  EXPECT_EQ(j.at("max_retry_duration"), "0s");
  EXPECT_EQ(j.at("min_backoff"), "0.1s");
  EXPECT_EQ(j.at("max_backoff"), "3600s");
  EXPECT_EQ(j.at("max_doublings"), 16);
  EXPECT_EQ(j.at("max_dispatches_per_second").to_number<double>(), 500);
  EXPECT_EQ(j.at("max_burst_size"), 100);
  EXPECT_EQ(j.at("max_concurrent_dispatches"), 1000);
  EXPECT_EQ(j.at("dispatch_deadline"), "600s");
  EXPECT_EQ(j.at("retry_4xx"), false);
  EXPECT_EQ(j.at("paused"), false);
  EXPECT_EQ(j.size(), 12u);
}

TEST(Queue, PatchAllFields) {
  auto r = patch(R"({"max_attempts":5,"max_retry_duration":"1h","min_backoff":"10s",
    "max_backoff":"300s","max_doublings":3,"max_dispatches_per_second":50,
    "max_concurrent_dispatches":20,"dispatch_deadline":"60s","retry_4xx":true})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->retry.max_attempts, 5);
  EXPECT_EQ(r->retry.max_retry_duration_ms, 3'600'000);
  EXPECT_EQ(r->retry.min_backoff_ms, 10'000);
  EXPECT_EQ(r->retry.max_backoff_ms, 300'000);
  EXPECT_EQ(r->retry.max_doublings, 3);
  EXPECT_EQ(r->max_dispatches_per_second, 50);
  EXPECT_EQ(r->max_burst_size, 10);
  EXPECT_EQ(r->max_concurrent_dispatches, 20);
  EXPECT_EQ(r->dispatch_deadline_ms, 60'000);
  EXPECT_TRUE(r->retry_4xx);
}

TEST(Queue, DurationsAsNumbersOfSeconds) {
  auto r = patch(R"({"min_backoff":0.5,"max_backoff":30,"dispatch_deadline":15})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->retry.min_backoff_ms, 500);
  EXPECT_EQ(r->retry.max_backoff_ms, 30'000);
  EXPECT_EQ(r->dispatch_deadline_ms, 15'000);
}

TEST(Queue, RoundTripThroughJson) {
  auto r = patch(R"({"max_attempts":-1,"min_backoff":"0.25s","max_backoff":"90s","paused":true,
                     "max_dispatches_per_second":2.5,"name":"emails"})");
  ASSERT_TRUE(r) << r.error().message;
  auto again = apply_queue_patch(QueueConfig{}, to_json(*r));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(boost::json::serialize(to_json(*again)), boost::json::serialize(to_json(*r)));
  EXPECT_EQ(again->name, "emails");
  EXPECT_TRUE(again->paused);
  EXPECT_EQ(again->retry.max_attempts, -1);
}

TEST(Queue, ValidationVectors94) {
  expect_invalid(R"({"max_dispatches_per_second":1000001})",
                 "max_dispatches_per_second must be less than or equal to 1000000");
  expect_invalid(R"({"max_dispatches_per_second":-1})", "max_dispatches_per_second cannot be negative");
  expect_invalid(R"({"max_dispatches_per_second":0})", "max_dispatches_per_second must be greater than 0");
  expect_invalid(R"({"max_concurrent_dispatches":5001})",
                 "max_concurrent_dispatches must be less than or equal to 5000");
  expect_invalid(R"({"max_concurrent_dispatches":-3})", "max_concurrent_dispatches cannot be negative");
  expect_invalid(R"({"min_backoff":"20s","max_backoff":"10s"})",
                 "min_backoff must be less than or equal to max_backoff");
  expect_invalid(R"({"dispatch_deadline":"14s"})", "dispatch_deadline must be between [15s, 30m]");
  expect_invalid(R"({"dispatch_deadline":"1801s"})", "dispatch_deadline must be between [15s, 30m]");
  expect_invalid(R"({"max_attempts":-2})", "max_attempts must be greater or equal to -1");
  expect_invalid(R"({"min_backoff":"-1s"})", "min_backoff cannot be negative");
  expect_invalid(R"({"max_doublings":-1})", "max_doublings cannot be negative");
}

TEST(Queue, BoundariesAccepted) {
  EXPECT_TRUE(patch(R"({"max_dispatches_per_second":500})"));
  EXPECT_TRUE(patch(R"({"max_dispatches_per_second":0.001})"));
  EXPECT_TRUE(patch(R"({"max_concurrent_dispatches":5000})"));
  EXPECT_TRUE(patch(R"({"max_concurrent_dispatches":1})"));
  EXPECT_TRUE(patch(R"({"dispatch_deadline":"15s"})"));
  EXPECT_TRUE(patch(R"({"dispatch_deadline":"30m"})"));
  EXPECT_TRUE(patch(R"({"dispatch_deadline":"1800s"})"));
  EXPECT_TRUE(patch(R"({"min_backoff":"10s","max_backoff":"10s"})"));
  EXPECT_TRUE(patch(R"({"max_attempts":-1})"));
  EXPECT_TRUE(patch(R"({"max_doublings":0})"));
}

TEST(Queue, MinMaxBackoffCheckedOnTheResultNotTheOrder) {
  // Raising both in one patch works whichever order the fields come in.
  auto r = patch(R"({"min_backoff":"2h","max_backoff":"3h"})");
  ASSERT_TRUE(r) << r.error().message;
  QueueConfig base;
  base.retry.min_backoff_ms = 5'000;
  auto bad = apply_queue_patch(base, obj(R"({"max_backoff":"1s"})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "min_backoff must be less than or equal to max_backoff");
}

TEST(Queue, MaxAttemptsZeroMeansDefault) {
  QueueConfig base;
  base.retry.max_attempts = 7;
  auto r = apply_queue_patch(base, obj(R"({"max_attempts":0})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->retry.max_attempts, 100);
}

TEST(Queue, BurstIsOutputOnly) {
  auto r = patch(R"({"max_burst_size":-5})");
  ASSERT_TRUE(r) << "maxBurstSize -5 is accepted (ignored), as in Cloud Tasks";
  EXPECT_EQ(r->max_burst_size, 100);
  auto r2 = patch(R"({"max_burst_size":3,"max_dispatches_per_second":10})");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->max_burst_size, 2);
}

TEST(Queue, BurstForRate) {
  EXPECT_EQ(burst_for_rate(500), 100);
  EXPECT_EQ(burst_for_rate(50000), 10000);  // above Cloud Tasks' cap the burst keeps growing
  EXPECT_EQ(burst_for_rate(499), 100);
  EXPECT_EQ(burst_for_rate(50), 10);
  EXPECT_EQ(burst_for_rate(5), 1);
  EXPECT_EQ(burst_for_rate(6), 2);
  EXPECT_EQ(burst_for_rate(1), 1);
  EXPECT_EQ(burst_for_rate(0.1), 1);
  EXPECT_EQ(burst_for_rate(0), 1);
}

TEST(Queue, TypeErrorsAndUnknownFields) {
  auto a = patch(R"({"max_attempts":"5"})");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message, "max_attempts: expected an integer, got string");
  auto b = patch(R"({"max_attempts":1.5})");
  ASSERT_FALSE(b);
  auto c = patch(R"({"retry_4xx":"yes"})");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, "retry_4xx: expected a boolean, got string");
  auto d = patch(R"({"max_attemps":5})");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, "queue_invalid");
  EXPECT_NE(d.error().message.find("unknown field \"max_attemps\""), std::string::npos);
  auto e = patch(R"({"min_backoff":"10 parsecs"})");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("min_backoff: invalid duration"), std::string::npos);
  auto f = patch(R"({"min_backoff":[1]})");
  ASSERT_FALSE(f);
  auto g = patch(R"({"name":"has space"})");
  ASSERT_FALSE(g);
  auto h = patch(R"({"max_attempts":99999999999})");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message, "max_attempts: out of range");
  EXPECT_TRUE(patch(R"({"max_attempts":5.0})")) << "integral doubles (TOML/JS) are accepted";
}

TEST(Duration, Parse) {
  struct Case {
    const char* in;
    std::int64_t ms;
  };
  for (const Case& c : {Case{"10s", 10'000}, Case{"0.1s", 100}, Case{"0.100s", 100},
                        Case{"1500ms", 1'500}, Case{"5m", 300'000}, Case{"1h", 3'600'000},
                        Case{"0s", 0}, Case{"3600s", 3'600'000}, Case{"1.5m", 90'000},
                        Case{"0.001s", 1}, Case{"0.0004s", 0}, Case{"0.0005s", 1},
                        Case{"2.5h", 9'000'000}, Case{" 7s ", 7'000}, Case{"-1s", -1'000},
                        Case{"0.3s", 300}, Case{"1.000000001s", 1'000}}) {
    auto r = parse_duration_ms(c.in);
    ASSERT_TRUE(r) << c.in << ": " << r.error().message;
    EXPECT_EQ(*r, c.ms) << c.in;
  }
}

TEST(Duration, ParseErrors) {
  for (const char* bad : {"", "s", "10", "10x", "1.s", ".5s", "1e3s", "ten s", "10 s", "10S",
                          "1d", "--1s", "99999999999999999h"}) {
    auto r = parse_duration_ms(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, "queue_invalid");
    }
  }
}

TEST(Duration, Format) {
  EXPECT_EQ(format_duration(100), "0.1s");
  EXPECT_EQ(format_duration(10'000), "10s");
  EXPECT_EQ(format_duration(3'600'000), "3600s");
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(1), "0.001s");
  EXPECT_EQ(format_duration(1'500), "1.5s");
  EXPECT_EQ(format_duration(1'250), "1.25s");
  EXPECT_EQ(format_duration(-100), "-0.1s");
  for (std::int64_t ms : {0LL, 1LL, 99LL, 100LL, 999LL, 1'001LL, 86'400'000LL, 123'456'789LL}) {
    EXPECT_EQ(*parse_duration_ms(format_duration(ms)), ms) << ms;
  }
}

// Found by fuzz/fuzz_queue_patch: a long duration was accepted, but the
// seconds format_duration writes for it ("5999999999700s", 13 digits) did not
// parse again, so a queue saved with it came back with all-default settings
// after a restart (the store keeps to_json and re-applies it).
TEST(Duration, EveryParsedDurationRoundTrips) {
  for (const char* in : {"99999999995m", "999999999999h", "999999999999.999999999h",
                         "999999999999999s", "999999999999999999ms", "-999999999999h"}) {
    auto ms = parse_duration_ms(in);
    ASSERT_TRUE(ms) << in;
    auto back = parse_duration_ms(format_duration(*ms));
    ASSERT_TRUE(back) << in << " -> " << format_duration(*ms);
    EXPECT_EQ(*back, *ms) << in;
  }
  EXPECT_EQ(*parse_duration_ms("99999999995m"), 5'999'999'999'700'000);
  // Past int64 milliseconds: an error, not an overflow.
  for (const char* bad : {"9999999999999999999ms", "9999999999999999h", "999999999999999999s",
                          "9223372036854775.808s"}) {
    EXPECT_FALSE(parse_duration_ms(bad)) << bad;
  }
}

TEST(Queue, LongDurationsSurviveTheStoreRoundTrip) {
  auto q = patch(R"({"max_retry_duration":"99999999995m","max_backoff":9e12})");
  ASSERT_TRUE(q) << q.error().message;
  auto again = apply_queue_patch(
      QueueConfig{}, boost::json::parse(boost::json::serialize(to_json(*q))).as_object());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->retry.max_retry_duration_ms, q->retry.max_retry_duration_ms);
  EXPECT_EQ(again->retry.max_backoff_ms, q->retry.max_backoff_ms);
}

}  // namespace
}  // namespace treeflow::core
