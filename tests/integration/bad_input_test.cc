// Hostile and odd answers from endpoints, and bad specs: each gets a clear
// outcome, nothing partial is stored, and the engine keeps serving.
#include <gtest/gtest.h>

#include "support.h"

using namespace tftest;
using treeflow::HttpRequest;
using treeflow::HttpResponse;

namespace {

HttpResponse raw(int status, std::string body, treeflow::HeaderList headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST(BadInput, OddLeafAnswersAndBadSpecs) {
  TempDir dir;
  Recorder seen;
  Endpoints ep;
  ep.app.plain("POST", "/no-content", [](const HttpRequest&) { return raw(204, ""); });
  ep.app.plain("POST", "/empty", [](const HttpRequest&) { return raw(200, ""); });
  ep.app.plain("POST", "/html-leaf", [](const HttpRequest&) {
    return raw(200, "<html><body>hi</body></html>", {{"Content-Type", "text/html"}});
  });
  // Over max_response_bytes (10 MiB).
  ep.app.plain("POST", "/huge", [](const HttpRequest&) { return raw(200, std::string(11 << 20, 'x')); });
  ep.app.plain("POST", "/not-found", [](const HttpRequest&) { return raw(404, "nope"); });
  ep.app.plain("POST", "/unicode-header", [](const HttpRequest& r) {
    return envelope(r, 1, json::array{json::object{{"url", "/sink"}, {"headers", json::object{{"X-Name", "Zoë ☃"}}}}});
  });
  ep.app.plain("POST", "/injected-header", [](const HttpRequest& r) {
    return envelope(r, 1, json::array{json::object{{"url", "/sink"}, {"headers", json::object{{"X-A", "a\r\nX-Evil: 1"}}}}});
  });
  ep.app.plain("POST", "/oversized-header", [](const HttpRequest& r) {
    return envelope(r, 1, json::array{json::object{{"url", "/sink"}, {"headers", json::object{{"X-Big", std::string(100000, 'h')}}}}});
  });
  ep.app.plain("POST", "/bad-pointer", [](const HttpRequest& r) {
    return envelope(r, json::object{{"a", 1}}, json::array{json::object{{"url", "/sink"}, {"input_path", "/missing/0"}}});
  });
  ep.app.plain("POST", "/bad-scheme", [](const HttpRequest& r) {
    return envelope(r, 1, json::array{json::object{{"url", "ftp://127.0.0.1/x"}}});
  });
  ep.app.plain("POST", "/children-in-immediate", [](const HttpRequest& r) {
    return envelope(r, 1, json::array{json::object{{"url", "/sink"}, {"input_type", "children"}}});
  });
  ep.app.plain("POST", "/truncated", [](const HttpRequest&) {
    return raw(200, R"({"id":"x","response":{"status_code":200,"da)", {{"X-Workflow-Envelope", "1"}});
  });
  ep.app.plain("POST", "/wrong-shape", [](const HttpRequest&) {
    return raw(200, R"({"id":"x","response":{"data":1},"immediate_next":{"url":"/sink"}})",
               {{"X-Workflow-Envelope", "1"}});
  });
  ep.app.plain("POST", "/sink", [&](const HttpRequest& r) {
    seen.add(r);
    return raw(200, "{}");
  });
  ep.start();
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir)});
  engine.start();

  struct Case {
    const char* path;
    const char* state;       // the run's end state
    const char* error_part;  // in the root task's last_error ("" = none expected)
  } cases[] = {
      {"/no-content", "completed", ""},
      {"/empty", "completed", ""},
      {"/html-leaf", "completed", ""},
      {"/huge", "failed", "exceeds"},
      {"/not-found", "failed", "HTTP 404"},
      {"/unicode-header", "completed", ""},
      {"/injected-header", "failed", "X-A"},
      {"/oversized-header", "failed", "max_headers_bytes"},
      {"/bad-pointer", "failed", "/missing/0"},
      {"/bad-scheme", "failed", "ftp"},
      {"/children-in-immediate", "failed", "children"},
      {"/truncated", "failed", "JSON"},
      {"/wrong-shape", "failed", "immediate_next"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    std::string run = engine.start_run({{"url", ep.base + c.path}});
    auto r = engine.wait_run(run, 60s);
    EXPECT_EQ(r.at("state").as_string(), c.state);
    auto t = engine.task(std::string(r.at("root_task_id").as_string()));
    std::string err(t.at("last_error").as_string());
    if (*c.error_part) {
      EXPECT_TRUE(contains(err, c.error_part)) << err;
    }
    if (std::string(c.state) == "failed") {
      // Nothing partial: a failed root has no children.
      auto kids = engine.get("/v1/runs/" + run + "/tree?parent=" + std::string(t.at("id").as_string())).json();
      EXPECT_TRUE(kids.at("tasks").as_array().empty());
    }
  }
  // A leaf's body is its response data: JSON when it is JSON, else a string.
  auto html = engine.wait_run(engine.start_run({{"url", ep.base + "/html-leaf"}}), 30s);
  auto ht = engine.task(std::string(html.at("root_task_id").as_string()));
  EXPECT_EQ(ht.at("response").as_string(), "<html><body>hi</body></html>");
  // The non-ASCII header value arrived intact.
  bool found = false;
  for (auto& q : seen.snapshot())
    if (q.header("X-Name") == "Zoë ☃") found = true;
  EXPECT_TRUE(found);
  EXPECT_EQ(engine.get("/healthz").status, 200);
}

TEST(BadInput, EngineUnreachableEndpointIsRetriedThenFailsWithReason) {
  TempDir dir;
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir)});
  engine.start();
  // Port 1 on loopback: connection refused.
  std::string run = engine.start_run({{"url", "http://127.0.0.1:1/nothing"}});
  auto r = engine.wait_run(run, 30s);
  ASSERT_EQ(r.at("state").as_string(), "failed");
  EXPECT_EQ(r.at("dispatches").as_int64(), 5);  // max_attempts of fast_config
  auto t = engine.task(std::string(r.at("root_task_id").as_string()));
  std::string err(t.at("last_error").as_string());
  EXPECT_TRUE(contains(err, "giving up after 5 attempt(s)")) << err;
  EXPECT_TRUE(contains(err, "refused")) << err;
}
