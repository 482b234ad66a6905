// End to end: the real `treeflow` binary running trees against endpoint
// servers on loopback (issue: engine core, "Done when").
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "support.h"

using namespace tftest;
using namespace std::chrono_literals;
using treeflow::HttpRequest;
using treeflow::HttpResponse;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

TEST(EngineE2E, FanOutOf10000LeavesThenJoinOnce) {
  TempDir dir;
  Recorder leaves, joins;
  Endpoints ep;
  ep.app.plain("POST", "/root", [](const HttpRequest& r) {
    json::array items;
    for (int i = 0; i < 10000; ++i) items.push_back(i);
    return envelope(r, json::object{{"items", items}},
                    json::array{json::object{{"url", "/leaf"}, {"input_type", "each"}, {"input_path", "/items"}}},
                    json::array{json::object{{"url", "/join"}, {"input_type", "none"}}});
  });
  ep.app.plain("POST", "/leaf", [&](const HttpRequest& r) {
    leaves.add(r);
    return leaf(json::object{{"n", r.body}});
  });
  ep.app.plain("POST", "/join", [&](const HttpRequest& r) {
    joins.add(r);
    return leaf("joined");
  });
  ep.start();
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir)});
  engine.start();
  auto t0 = std::chrono::steady_clock::now();
  std::string run = engine.start_run({{"url", ep.base + "/root"}});
  auto r = engine.wait_run(run, 300s);
  double secs = seconds_since(t0);
  ASSERT_EQ(r.at("state").as_string(), "completed") << json::serialize(r) << engine.log();
  EXPECT_EQ(count(r, "completed"), 10002);
  EXPECT_EQ(count(r, "pending") + count(r, "running") + count(r, "waiting") + count(r, "failed"), 0);
  EXPECT_EQ(leaves.task_ids().size(), 10000u);
  EXPECT_EQ(joins.size(), 1u);
  // The join ran after every leaf (all leaves were recorded before it).
  std::printf("[ figures ] fan-out 10,000 leaves: %.2f s end to end, %.0f tasks/s, engine peak RSS %.1f MiB\n",
              secs, 10002 / secs, engine.peak_rss_kib() / 1024.0);
}

// Responses over 1 KiB are stored apart from their task's row (a parent's
// row is rewritten with every batch of its children); every reader sees them.
TEST(EngineE2E, BigResponsesReachTheChordAndTheApi) {
  TempDir dir;
  Recorder joins;
  Endpoints ep;
  const std::string blob(3000, 'b');
  ep.app.plain("POST", "/root", [&](const HttpRequest& r) {
    return envelope(r, json::object{{"blob", blob}, {"items", json::array{0, 1, 2}}},
                    json::array{json::object{{"url", "/leaf"}, {"input_type", "each"}, {"input_path", "/items"}}},
                    json::array{json::object{{"url", "/join"}, {"input_type", "children"}}});
  });
  ep.app.plain("POST", "/leaf", [&](const HttpRequest& r) {
    return leaf(json::object{{"n", r.body}, {"pad", std::string(2000, 'p')}});
  });
  ep.app.plain("POST", "/join", [&](const HttpRequest& r) {
    joins.add(r);
    return leaf("joined");
  });
  ep.start();
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir)});
  engine.start();
  std::string run = engine.start_run({{"url", ep.base + "/root"}});
  auto r = engine.wait_run(run, 60s);
  ASSERT_EQ(r.at("state").as_string(), "completed") << json::serialize(r) << engine.log();
  ASSERT_EQ(joins.size(), 1u);
  json::array expect;
  for (const char* n : {"0", "1", "2"})
    expect.push_back(json::object{{"n", n}, {"pad", std::string(2000, 'p')}});
  EXPECT_EQ(json::parse(joins.snapshot().front().body), json::value(expect));
  auto root = engine.task(std::string(r.at("root_task_id").as_string()));
  EXPECT_EQ(root.at("response").at("blob").as_string(), blob) << json::serialize(root);
}

TEST(EngineE2E, ChainOf10000PagesCompletesWithoutRecursion) {
  TempDir dir;
  std::atomic<int> calls{0};
  Endpoints ep;
  const int pages = 10000;
  ep.app.plain("GET", "/page", [&](const HttpRequest& r) {
    ++calls;
    int n = std::atoi(r.query_param("n").value_or("1").c_str());
    json::array sub;
    if (n < pages)
      sub.push_back(json::object{{"url", "/page?n=" + std::to_string(n + 1)}, {"method", "GET"}, {"input_type", "none"}});
    return envelope(r, json::object{{"page", n}}, {}, sub);
  });
  ep.start();
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir)});
  engine.start();
  auto t0 = std::chrono::steady_clock::now();
  std::string run = engine.start_run({{"url", ep.base + "/page?n=1"}, {"method", "GET"}});
  auto r = engine.wait_run(run, 600s);
  double secs = seconds_since(t0);
  ASSERT_EQ(r.at("state").as_string(), "completed") << json::serialize(r) << engine.log();
  EXPECT_EQ(count(r, "completed"), pages);
  EXPECT_EQ(calls.load(), pages);
  std::printf("[ figures ] 10,000-page chain: %.2f s, %.0f pages/s\n", secs, pages / secs);
}

TEST(EngineE2E, RetriesWithBackoffUntilSuccess) {
  TempDir dir;
  std::map<std::string, int> attempts;
  std::mutex mu;
  Endpoints ep;
  ep.app.plain("POST", "/flaky", [&](const HttpRequest& r) {
    std::lock_guard lk(mu);
    int n = ++attempts[std::string(r.header("X-Workflow-Task-Id"))];
    EXPECT_EQ(std::to_string(n), std::string(r.header("X-Workflow-Attempt")));
    if (n < 3) return leaf(json::object{{"error", "busy"}}, 503);
    return leaf("ok");
  });
  ep.start();
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir)});
  engine.start();
  std::string run = engine.start_run({{"url", ep.base + "/flaky"}});
  auto r = engine.wait_run(run, 30s);
  ASSERT_EQ(r.at("state").as_string(), "completed") << engine.log();
  EXPECT_EQ(r.at("retries").as_int64(), 2);
  EXPECT_EQ(r.at("dispatches").as_int64(), 3);
  auto t = engine.task(std::string(r.at("root_task_id").as_string()));
  EXPECT_EQ(t.at("attempts").as_int64(), 3);
}

TEST(EngineE2E, FailedLeafBlocksJoinUntilRetriedThenJoinsOnce) {
  TempDir dir;
  std::atomic<bool> healthy{false};
  Recorder joins, good;
  Endpoints ep;
  ep.app.plain("POST", "/root", [](const HttpRequest& r) {
    return envelope(r, json::array{1, 2, 3},
                    json::array{json::object{{"url", "/leaf"}, {"input_type", "each"}}},
                    json::array{json::object{{"url", "/join"}, {"input_type", "children"}}});
  });
  ep.app.plain("POST", "/leaf", [&](const HttpRequest& r) {
    if (r.body == "2" && !healthy) return leaf(json::object{{"error", "down"}}, 500);
    good.add(r);
    return leaf(json::object{{"leaf", json::parse(r.body)}});
  });
  ep.app.plain("POST", "/join", [&](const HttpRequest& r) {
    joins.add(r);
    return leaf("joined");
  });
  ep.start();
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir, "max_retry_duration = \"0s\"\n")});
  engine.start();
  std::string run = engine.start_run({{"url", ep.base + "/root"}});
  auto r = engine.wait_run(run, 30s);
  ASSERT_EQ(r.at("state").as_string(), "failed") << json::serialize(r) << engine.log();
  EXPECT_EQ(joins.size(), 0u);
  EXPECT_EQ(count(r, "failed"), 2);  // the leaf and the root (its ancestor)
  auto root = engine.task(std::string(r.at("root_task_id").as_string()));
  EXPECT_EQ(root.at("state").as_string(), "failed");

  healthy = true;
  auto rr = engine.post("/v1/runs/" + run + "/retry", json::object{});
  ASSERT_EQ(rr.status, 200) << rr.body;
  EXPECT_EQ(rr.json().at("tasks_retried").as_int64(), 1);
  r = engine.wait_run(run, 30s);
  ASSERT_EQ(r.at("state").as_string(), "completed") << json::serialize(r) << engine.log();
  ASSERT_EQ(joins.size(), 1u);
  // The chord: the children's data in order.
  EXPECT_EQ(json::parse(joins.snapshot()[0].body),
            json::parse(R"([{"leaf":1},{"leaf":2},{"leaf":3}])"));
  EXPECT_EQ(count(r, "completed"), 5);
  EXPECT_EQ(count(r, "failed"), 0);
}

TEST(EngineE2E, CancelMidRunDispatchesNothingNew) {
  TempDir dir;
  Recorder calls, joins;
  Endpoints ep;
  ep.app.plain("POST", "/root", [](const HttpRequest& r) {
    json::array items;
    for (int i = 0; i < 300; ++i) items.push_back(i);
    return envelope(r, items, json::array{json::object{{"url", "/slow"}, {"input_type", "each"}}},
                    json::array{json::object{{"url", "/join"}}});
  });
  ep.app.plain("POST", "/slow", [&](const HttpRequest& r) {
    calls.add(r);
    std::this_thread::sleep_for(20ms);
    return leaf("ok");
  });
  ep.app.plain("POST", "/join", [&](const HttpRequest& r) {
    joins.add(r);
    return leaf("ok");
  });
  ep.start();
  Engine engine(dir.file("t.db"),
                {"--config", fast_config(dir, "max_concurrent_dispatches = 2\n")});
  engine.start();
  std::string run = engine.start_run({{"url", ep.base + "/root"}});
  while (calls.size() < 10) std::this_thread::sleep_for(5ms);
  auto c = engine.post("/v1/runs/" + run + "/cancel", json::object{});
  ASSERT_EQ(c.status, 200) << c.body;
  std::size_t at_cancel = calls.size();
  std::this_thread::sleep_for(500ms);
  auto r = engine.run(run);
  EXPECT_EQ(r.at("state").as_string(), "cancelled");
  // At most the calls already in flight (2) finish after the cancel.
  EXPECT_LE(calls.size(), at_cancel + 2);
  EXPECT_EQ(joins.size(), 0u);
  EXPECT_EQ(count(r, "pending") + count(r, "running") + count(r, "waiting"), 0);
  EXPECT_GT(count(r, "cancelled"), 250);
}

TEST(EngineE2E, Kill9MidRunLosesNothing) {
  TempDir dir;
  Recorder calls, joins;
  Endpoints ep;
  const int n = 2000;
  ep.app.plain("POST", "/root", [&](const HttpRequest& r) {
    json::array items;
    for (int i = 0; i < n; ++i) items.push_back(i);
    return envelope(r, items, json::array{json::object{{"url", "/work"}, {"input_type", "each"}}},
                    json::array{json::object{{"url", "/join"}}});
  });
  ep.app.plain("POST", "/work", [&](const HttpRequest& r) {
    calls.add(r);
    std::this_thread::sleep_for(1ms);
    return leaf("ok");
  });
  ep.app.plain("POST", "/join", [&](const HttpRequest& r) {
    joins.add(r);
    return leaf("ok");
  });
  ep.start();
  std::string db = dir.file("t.db");
  std::string cfg = fast_config(dir, "max_concurrent_dispatches = 20\n");
  std::string run;
  {
    Engine engine(db, {"--config", cfg});
    engine.start();
    run = engine.start_run({{"url", ep.base + "/root"}});
    while (calls.size() < n / 3) std::this_thread::sleep_for(2ms);
    engine.kill9();
  }
  std::size_t before_restart = calls.task_ids().size();
  ASSERT_LT(before_restart, static_cast<std::size_t>(n));
  Engine engine(db, {"--config", cfg});
  engine.start();
  auto r = engine.wait_run(run, 120s);
  ASSERT_EQ(r.at("state").as_string(), "completed") << json::serialize(r) << engine.log();
  EXPECT_EQ(count(r, "completed"), n + 2);
  EXPECT_EQ(count(r, "pending") + count(r, "running") + count(r, "waiting") + count(r, "failed"), 0);
  EXPECT_EQ(calls.task_ids().size(), static_cast<std::size_t>(n));  // every leaf called
  EXPECT_EQ(joins.task_ids().size(), 1u);                           // one join task
  // At-least-once: a call in flight at the kill may have run twice, no more.
  EXPECT_LE(calls.size(), static_cast<std::size_t>(n) + 20);
}

TEST(EngineE2E, InputsHeadersAndRelativeUrls) {
  TempDir dir;
  Recorder seen;
  Endpoints ep;
  ep.app.plain("POST", "/api/root", [](const HttpRequest& r) {
    return envelope(
        r, json::object{{"items", json::array{json::object{{"id", 1}}, json::object{{"id", 2}}}}, {"q", "x y"}},
        json::array{
            json::object{{"url", "child"}, {"input_type", "each"}, {"input_path", "/items"},
                         {"custom_input", json::object{{"blog_id", 7}}}, {"headers", json::object{{"X-Tenant", "b"}}}},
            json::object{{"url", "../get"}, {"method", "GET"}, {"input_type", "custom"},
                         {"custom_input", json::object{{"page", 2}, {"q", "a&b"}}}}});
  });
  ep.app.plain("POST", "/api/child", [&](const HttpRequest& r) {
    seen.add(r);
    return leaf("c");
  });
  ep.app.plain("GET", "/get", [&](const HttpRequest& r) {
    seen.add(r);
    return leaf("g");
  });
  ep.start();
  Engine engine(dir.file("t.db"));
  engine.start();
  std::string run = engine.start_run({{"url", ep.base + "/api/root"},
                                      {"headers", json::object{{"X-Tenant", "a"}, {"Authorization", "Bearer s3cret"}}}});
  auto r = engine.wait_run(run, 30s);
  ASSERT_EQ(r.at("state").as_string(), "completed") << engine.log();
  auto reqs = seen.snapshot();
  ASSERT_EQ(reqs.size(), 3u);
  int children = 0;
  for (auto& q : reqs) {
    if (q.path() == "/api/child") {
      ++children;
      auto body = json::parse(q.body).as_object();
      EXPECT_EQ(body.at("blog_id").as_int64(), 7);
      EXPECT_TRUE(body.contains("id"));
      EXPECT_EQ(q.header("X-Tenant"), "b");                  // spec overrides
      EXPECT_EQ(q.header("Authorization"), "Bearer s3cret");  // inherited
      EXPECT_FALSE(q.header("X-Workflow-Parent-Task-Id").empty());
      EXPECT_EQ(q.header("Idempotency-Key"), q.header("X-Workflow-Task-Id"));
      EXPECT_EQ(q.header("traceparent").substr(0, 3), "00-");
    } else {
      EXPECT_EQ(q.path(), "/get");
      EXPECT_EQ(q.query_param("page").value_or(""), "2");
      EXPECT_EQ(q.query_param("q").value_or(""), "a&b");
      EXPECT_TRUE(q.body.empty());
    }
  }
  EXPECT_EQ(children, 2);
  // Secrets are masked where a task is shown.
  auto root = engine.task(std::string(r.at("root_task_id").as_string()));
  EXPECT_EQ(root.at("request").at("headers").at("Authorization").as_string(), "***");
}

TEST(EngineE2E, BadEnvelopeFailsTaskWithReasonAndEngineKeepsServing) {
  TempDir dir;
  Endpoints ep;
  ep.app.plain("POST", "/bad", [](const HttpRequest& r) {
    return envelope(r, json::object{{"items", 3}},
                    json::array{json::object{{"url", "/x"}, {"input_type", "each"}, {"input_path", "/items"}}});
  });
  ep.app.plain("POST", "/typo", [](const HttpRequest& r) {
    return envelope(r, 1, json::array{json::object{{"url", "/x"}, {"input_type", "eachh"}}});
  });
  ep.app.plain("POST", "/html", [](const HttpRequest&) {
    treeflow::HttpResponse res;
    res.headers = {{"Content-Type", "text/html"}, {"X-Workflow-Envelope", "1"}};
    res.body = "<html>oops</html>";
    return res;
  });
  ep.start();
  Engine engine(dir.file("t.db"));
  engine.start();
  struct Case {
    const char* path;
    const char* expect;
  } cases[] = {{"/bad", "immediate_next[0]"}, {"/typo", "eachh"}, {"/html", "JSON"}};
  for (auto& c : cases) {
    std::string run = engine.start_run({{"url", ep.base + c.path}});
    auto r = engine.wait_run(run, 30s);
    ASSERT_EQ(r.at("state").as_string(), "failed") << c.path;
    auto t = engine.task(std::string(r.at("root_task_id").as_string()));
    std::string err(t.at("last_error").as_string());
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.path << ": " << err;
    EXPECT_EQ(t.at("attempts").as_int64(), 1) << "a bad envelope is not retried";
  }
  EXPECT_EQ(engine.get("/healthz").status, 200);
}

TEST(EngineE2E, ApiErrorsAreJsonWithCodeAndMessage) {
  TempDir dir;
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir, "[limits]\nmax_payload_bytes = 1000\n")});
  engine.start();
  auto expect_error = [&](const HttpResult& r, int status, const char* code) {
    EXPECT_EQ(r.status, status) << r.body;
    auto v = r.json();
    ASSERT_TRUE(v.is_object()) << r.body;
    EXPECT_EQ(v.at("error").at("code").as_string(), code) << r.body;
    EXPECT_FALSE(v.at("error").at("message").as_string().empty());
  };
  expect_error(http("POST", engine.url() + "/v1/runs", "{not json"), 400, "malformed_body");
  expect_error(http("POST", engine.url() + "/v1/runs", "[1,2]"), 400, "malformed_body");
  // Every route that reads a body rejects malformed JSON the same way.
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/v1/tasks/abc/complete"}, {"PATCH", "/v1/queues/default"}, {"PUT", "/v1/queues/q2"}}) {
    SCOPED_TRACE(method + " " + path);
    expect_error(http(method, engine.url() + path, "{\"truncated\": "), 400, "malformed_body");
    expect_error(http(method, engine.url() + path, "\"a string\""), 400, "malformed_body");
  }
  expect_error(http("POST", engine.url() + "/v1/runs", std::string(3 << 20, ' ')), 413, "payload_too_large");
  expect_error(engine.get("/v1/runs/rnope"), 404, "not_found");
  expect_error(engine.get("/v1/tasks/nope"), 404, "not_found");
  expect_error(engine.post("/v1/runs", json::object{{"url", "ftp://x/y"}}), 400, "invalid_url");
  expect_error(engine.post("/v1/runs", json::object{{"url", "not a url"}}), 400, "invalid_url");
  expect_error(engine.post("/v1/runs", json::object{}), 400, "invalid_argument");
  expect_error(engine.post("/v1/runs", json::object{{"url", "http://127.0.0.1:1/"}, {"payload", std::string(2000, 'x')}}),
               413, "payload_too_large");
  expect_error(engine.post("/v1/runs", json::object{{"url", "http://127.0.0.1:1/"}, {"queue", "nope"}}), 404,
               "queue_not_found");
  expect_error(engine.post("/v1/runs", json::object{{"url", "http://127.0.0.1:1/"}, {"headers", json::object{{"X-A", "a\r\nInjected: 1"}}}}),
               400, "headers_invalid");
  expect_error(http("PATCH", engine.url() + "/v1/queues/default", R"({"max_dispatches_per_second": 2000000})"), 400,
               "queue_invalid");
  expect_error(engine.get("/nope"), 404, "not_found");
  // Named runs are refused the second time.
  auto a = engine.post("/v1/runs", json::object{{"url", "http://127.0.0.1:1/"}, {"name", "nightly-1"}, {"schedule_time", "1h"}});
  EXPECT_EQ(a.status, 201) << a.body;
  expect_error(engine.post("/v1/runs", json::object{{"url", "http://127.0.0.1:1/"}, {"name", "nightly-1"}}), 409,
               "already_exists");
  EXPECT_EQ(engine.get("/healthz").status, 200);
  auto m = engine.get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("treeflow_tasks{state=\"pending\"} 1"), std::string::npos) << m.body;
}

TEST(EngineE2E, SignedCallsVerifiedBySdk) {
  TempDir dir;
  Recorder seen;
  treeflow::Options o;
  o.signing_secret = "topsecret";
  treeflow::App app(o);
  struct Hello {
    static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
      return treeflow::default_init_data(r);
    }
    static treeflow::Response view(const treeflow::Request&) {
      return treeflow::Response::json(json::object{{"hello", "world"}});
    }
    static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& r,
                                                             const treeflow::Response& s) {
      return treeflow::default_complete_data(r, s);
    }
  };
  app.route<Hello>("POST", "/hello");
  treeflow::Server server(app, "127.0.0.1:0");
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  {
    Engine engine(dir.file("good.db"), {"--signing-secret", "topsecret"});
    engine.start();
    auto r = engine.wait_run(engine.start_run({{"url", base + "/hello"}}), 30s);
    ASSERT_EQ(r.at("state").as_string(), "completed") << engine.log();
    auto t = engine.task(std::string(r.at("root_task_id").as_string()));
    EXPECT_EQ(t.at("response").at("hello").as_string(), "world");
  }
  {
    Engine engine(dir.file("bad.db"), {"--signing-secret", "wrong", "--config", fast_config(dir)});
    engine.start();
    auto r = engine.wait_run(engine.start_run({{"url", base + "/hello"}}), 30s);
    ASSERT_EQ(r.at("state").as_string(), "failed");
    auto t = engine.task(std::string(r.at("root_task_id").as_string()));
    EXPECT_EQ(t.at("last_status").as_int64(), 401);
  }
}

TEST(EngineE2E, LiveEventStreamOfARun) {
  TempDir dir;
  Endpoints ep;
  ep.app.plain("POST", "/root", [](const HttpRequest& r) {
    return envelope(r, json::array{1, 2, 3}, json::array{json::object{{"url", "/leaf"}, {"input_type", "each"}}});
  });
  ep.app.plain("POST", "/leaf", [](const HttpRequest&) {
    std::this_thread::sleep_for(50ms);
    return leaf("ok");
  });
  ep.start();
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir)});
  engine.start();
  std::string run = engine.start_run({{"url", ep.base + "/root"}});
  // Read the stream until the run's final event; the connection then closes.
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(engine.url().substr(17)))});
  std::string req = "GET /v1/runs/" + run + "/events HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(sock, asio::buffer(req));
  std::string all;
  char buf[4096];
  boost::system::error_code ec;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!ec && std::chrono::steady_clock::now() < deadline) {
    std::size_t n = sock.read_some(asio::buffer(buf), ec);
    all.append(buf, n);
  }
  EXPECT_NE(all.find("Content-Type: text/event-stream"), std::string::npos) << all;
  EXPECT_NE(all.find("event: task"), std::string::npos) << all;
  EXPECT_NE(all.find("\"state\":\"completed\""), std::string::npos) << all;
  // The last event is the run, completed.
  auto last = all.rfind("event: run");
  ASSERT_NE(last, std::string::npos);
  EXPECT_NE(all.find("\"state\":\"completed\"", last), std::string::npos) << all.substr(last);
  // An unknown run is a 404 JSON error.
  auto r = engine.get("/v1/runs/rnope/events");
  EXPECT_EQ(r.status, 404);
}

TEST(EngineE2E, BearerTokensWhenConfiguredAndRequiredOffLoopback) {
  TempDir dir;
  // Listening beyond loopback without tokens is refused with a clear error.
  auto [rc, out] = cli({"serve", "--db", dir.file("open.db"), "--listen", "0.0.0.0:0"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("is not a loopback address: configure API tokens"), std::string::npos) << out;
  Engine engine(dir.file("t.db"),
                {"--config", fast_config(dir, "[auth]\nread_tokens = [\"r-tok\"]\nwrite_tokens = "
                                              "[\"w-tok\"]\nadmin_tokens = [\"a-tok\"]\n")});
  engine.start();
  auto with = [](const std::string& tok) {
    return std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer " + tok}};
  };
  std::string body = R"({"url": "http://127.0.0.1:1/x", "schedule_time": "1h"})";
  EXPECT_EQ(http("GET", engine.url() + "/v1/runs").status, 401);
  EXPECT_EQ(http("GET", engine.url() + "/v1/runs", "", with("nope")).status, 401);
  EXPECT_EQ(http("GET", engine.url() + "/v1/runs", "", with("r-tok")).status, 200);
  EXPECT_EQ(http("GET", engine.url() + "/metrics", "", with("r-tok")).status, 200);
  EXPECT_EQ(http("POST", engine.url() + "/v1/runs", body, with("r-tok")).status, 401);
  EXPECT_EQ(http("POST", engine.url() + "/v1/runs", body, with("w-tok")).status, 201);
  EXPECT_EQ(http("PATCH", engine.url() + "/v1/queues/default", R"({"max_attempts": 3})", with("w-tok")).status, 401);
  EXPECT_EQ(http("PATCH", engine.url() + "/v1/queues/default", R"({"max_attempts": 3})", with("a-tok")).status, 200);
  EXPECT_EQ(http("GET", engine.url() + "/healthz").status, 200);  // liveness stays open
  auto denied = http("GET", engine.url() + "/v1/runs");
  EXPECT_EQ(denied.json().at("error").at("code").as_string(), "unauthorized");
}
