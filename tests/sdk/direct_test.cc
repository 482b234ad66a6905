// Direct calls (no X-Workflow-Task-Id) against a fake engine served by a
// treeflow::Server in the test process.
#include <gtest/gtest.h>

#include <mutex>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "treeflow/app.h"
#include "treeflow/server.h"
#include "test_client.h"

namespace {

namespace json = boost::json;
using treeflow::HttpRequest;
using treeflow::HttpResponse;

constexpr const char* kTaskId = "00112233445566778899aabb";

// What the fake engine got.
struct EngineLog {
  std::mutex mu;
  std::vector<HttpRequest> runs, completes;
  int runs_status = 201;
};

struct Trigger {
  static inline int views = 0;
  static inline treeflow::Request seen;
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
    auto d = treeflow::default_init_data(r);
    d.request.headers.emplace_back("X-Added-By-Init", "1");
    return d;
  }
  static treeflow::Response view(const treeflow::Request& r) {
    ++views;
    seen = r;
    return treeflow::Response::json(json::parse(R"([{"id": 1}, {"id": 2}])"), 200);
  }
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& r,
                                                           const treeflow::Response& res) {
    auto c = treeflow::default_complete_data(r, res);
    c.immediate_next.push_back(treeflow::next("/blogs").each());
    c.sub_task_next.push_back(treeflow::next("/trigger").method("GET").none());
    return c;
  }
};

class DirectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Trigger::views = 0;
    engine_app_.plain("POST", "/v1/runs", [this](const HttpRequest& r) {
      std::lock_guard lock(log_.mu);
      log_.runs.push_back(r);
      return HttpResponse{log_.runs_status,
                          {{"Content-Type", "application/json"}},
                          std::string(R"({"run_id": "rTEST", "task_id": ")") + kTaskId +
                              R"(", "state": "running"})"};
    });
    engine_app_.plain("POST", std::string("/v1/tasks/") + kTaskId + "/complete",
                      [this](const HttpRequest& r) {
                        std::lock_guard lock(log_.mu);
                        log_.completes.push_back(r);
                        return HttpResponse{200, {{"Content-Type", "application/json"}},
                                            R"({"state": "waiting"})"};
                      });
    engine_ = std::make_unique<treeflow::Server>(engine_app_, "127.0.0.1:0");
  }
  treeflow::App endpoint_app(std::string engine_url) {
    treeflow::Options o;
    o.engine_url = std::move(engine_url);
    o.public_base_url = "http://endpoint.local:9000";
    o.queue = "bulk";
    o.engine_timeout_ms = 3000;
    o.engine_token = "tok-w";
    treeflow::App app(o);
    app.route<Trigger>("GET", "/trigger");
    return app;
  }
  static HttpRequest trigger_request() {
    HttpRequest r;
    r.method = "GET";
    r.target = "/trigger?page=1";
    r.headers = {{"Host", "ignored:1"}, {"Accept", "application/json"}};
    return r;
  }

  EngineLog log_;
  treeflow::App engine_app_{treeflow::Options{}};
  std::unique_ptr<treeflow::Server> engine_;
};

TEST_F(DirectTest, RegistersRunsViewReportsAndAnswers) {
  auto app = endpoint_app("http://127.0.0.1:" + std::to_string(engine_->port()));
  auto res = app.handle(trigger_request());
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.header("X-Workflow-Run-Id"), "rTEST");
  EXPECT_EQ(res.header("X-Workflow-Envelope"), "");
  EXPECT_EQ(res.header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(res.body), json::parse(R"([{"id": 1}, {"id": 2}])"));

  EXPECT_EQ(Trigger::views, 1);
  EXPECT_EQ(Trigger::seen.task_id, kTaskId);
  EXPECT_EQ(Trigger::seen.run_id, "rTEST");
  EXPECT_TRUE(Trigger::seen.direct);

  std::lock_guard lock(log_.mu);
  ASSERT_EQ(log_.runs.size(), 1u);
  EXPECT_EQ(log_.runs[0].header("Content-Type"), "application/json");
  EXPECT_EQ(log_.runs[0].header("Authorization"), "Bearer tok-w");
  EXPECT_EQ(json::parse(log_.runs[0].body), json::parse(R"({
      "direct": true,
      "request": {"url": "http://endpoint.local:9000/trigger?page=1", "method": "GET",
                  "payload": "", "headers": {"Accept": "application/json", "X-Added-By-Init": "1"}},
      "queue": "bulk"})"));

  ASSERT_EQ(log_.completes.size(), 1u);
  EXPECT_EQ(log_.completes[0].header("Authorization"), "Bearer tok-w");
  auto report = json::parse(log_.completes[0].body);
  EXPECT_EQ(report.at("status_code"), 200);
  EXPECT_EQ(report.at("envelope"), json::parse(std::string(R"({"id": ")") + kTaskId + R"(",
      "response": {"status_code": 200, "headers": {"Accept": "application/json"},
                   "data": [{"id": 1}, {"id": 2}]},
      "immediate_next": [{"url": "/blogs", "input_type": "each"}],
      "sub_task_next": [{"url": "/trigger", "method": "GET", "input_type": "none"}]})"));
}

TEST_F(DirectTest, OverRealSocketsThroughTheBuiltInServer) {
  auto app = endpoint_app("http://127.0.0.1:" + std::to_string(engine_->port()));
  treeflow::Server endpoint(app, "127.0.0.1:0");
  sdktest::Conn c(endpoint.port());
  auto res = c.send("GET", "/trigger?page=1");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res["X-Workflow-Run-Id"], "rTEST");
  std::lock_guard lock(log_.mu);
  EXPECT_EQ(log_.runs.size(), 1u);
  EXPECT_EQ(log_.completes.size(), 1u);
}

TEST_F(DirectTest, EngineUnreachableIs503AndViewDoesNotRun) {
  // A port that was just free: nothing listens there.
  unsigned short dead;
  {
    treeflow::App a{treeflow::Options{}};
    treeflow::Server s(a, "127.0.0.1:0");
    dead = s.port();
  }
  std::string url = "http://127.0.0.1:" + std::to_string(dead);
  auto app = endpoint_app(url);
  auto res = app.handle(trigger_request());
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(Trigger::views, 0);
  auto b = json::parse(res.body);
  EXPECT_EQ(b.at("error").at("code"), "engine_unavailable");
  std::string msg(b.at("error").at("message").as_string());
  EXPECT_NE(msg.find(url), std::string::npos) << msg;
  EXPECT_NE(msg.find("refused"), std::string::npos) << msg;
}

TEST_F(DirectTest, EngineRejectingIs502) {
  log_.runs_status = 400;
  auto app = endpoint_app("http://127.0.0.1:" + std::to_string(engine_->port()));
  auto res = app.handle(trigger_request());
  EXPECT_EQ(res.status, 502);
  EXPECT_EQ(Trigger::views, 0);
}

}  // namespace
