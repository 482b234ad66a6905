// The middleware on engine-dispatched calls, through App::handle().
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include <boost/json/parse.hpp>

#include "treeflow/app.h"
#include "treeflow/signature.h"

namespace {

namespace json = boost::json;
using treeflow::App;
using treeflow::HttpRequest;
using treeflow::HttpResponse;

// Records what the hooks saw; a different behaviour per test via `mode`.
struct Seen {
  static inline std::string mode;
  static inline int init_calls = 0;
  static inline treeflow::Request last;
};

struct WriteBlog {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
    ++Seen::init_calls;
    if (Seen::mode == "init_throws") throw std::runtime_error("init exploded");
    return treeflow::default_init_data(r);
  }
  static treeflow::Response view(const treeflow::Request& r) {
    Seen::last = r;
    if (Seen::mode == "view_throws") throw std::runtime_error("view exploded");
    if (Seen::mode == "http_error") throw treeflow::HttpError(409, "conflict", "already there");
    if (Seen::mode == "non_std") throw 42;
    const auto& blog = r.json();  // may throw BadRequest
    json::array comments;
    if (blog.is_object() && blog.as_object().contains("comments"))
      comments = blog.at("comments").as_array();
    auto res = treeflow::Response::json(comments, 201);
    res.headers.emplace_back("X-Blog", "yes");
    return res;
  }
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& r,
                                                           const treeflow::Response& res) {
    if (Seen::mode == "complete_throws") throw std::logic_error("complete exploded");
    auto c = treeflow::default_complete_data(r, res);
    c.immediate_next.push_back(treeflow::next("/comments").each());
    return c;
  }
};

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Seen::mode.clear();
    Seen::init_calls = 0;
  }
  static App make_app(std::string secret = "") {
    treeflow::Options o;
    o.engine_url = "http://127.0.0.1:1";  // never used on engine calls
    o.signing_secret = std::move(secret);
    App app(o);
    app.route<WriteBlog>("POST", "/blogs");
    app.plain("GET", "/health", [](const HttpRequest&) {
      return HttpResponse{200, {{"Content-Type", "text/plain"}}, "ok"};
    });
    return app;
  }
  static HttpRequest engine_call(std::string body) {
    HttpRequest r;
    r.method = "POST";
    r.target = "/blogs?x=1";
    r.headers = {{"Host", "localhost:9000"},
                 {"X-Workflow-Task-Id", "0123456789abcdef01234567"},
                 {"X-Workflow-Run-Id", "rabc"},
                 {"X-Workflow-Parent-Task-Id", "parent1"},
                 {"X-Workflow-Attempt", "3"},
                 {"Content-Type", "application/json"}};
    r.body = std::move(body);
    return r;
  }
  static json::value body_of(const HttpResponse& r) { return json::parse(r.body); }
  static std::int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

TEST_F(AppTest, EngineCallAnswersEnvelopeWithViewStatus) {
  auto app = make_app();
  auto res = app.handle(engine_call(R"({"id": 1, "comments": [{"id": 10}, {"id": 11}]})"));
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.header("X-Workflow-Envelope"), "1");
  EXPECT_EQ(res.header("Content-Type"), "application/json");
  EXPECT_EQ(res.header("X-Blog"), "yes");
  auto b = body_of(res);
  EXPECT_EQ(b.at("id"), "0123456789abcdef01234567");
  EXPECT_EQ(b.at("response").at("status_code"), 201);
  EXPECT_EQ(b.at("response").at("data"), json::parse(R"([{"id": 10}, {"id": 11}])"));
  EXPECT_EQ(b.at("response").at("headers"), json::parse(R"({"Content-Type": "application/json"})"));
  EXPECT_EQ(b.at("immediate_next"), json::parse(R"([{"url": "/comments", "input_type": "each"}])"));
  EXPECT_EQ(b.at("sub_task_next"), json::array{});
  EXPECT_EQ(Seen::init_calls, 1);
  EXPECT_EQ(Seen::last.task_id, "0123456789abcdef01234567");
  EXPECT_EQ(Seen::last.run_id, "rabc");
  EXPECT_EQ(Seen::last.parent_task_id, "parent1");
  EXPECT_EQ(Seen::last.attempt, 3);
  EXPECT_FALSE(Seen::last.direct);
}

TEST_F(AppTest, ValidSignatureAccepted) {
  auto app = make_app("s3cret");
  auto req = engine_call(R"({"id": 1})");
  req.headers.emplace_back("X-Workflow-Signature", treeflow::sign_payload("s3cret", now(), req.body));
  auto res = app.handle(req);
  EXPECT_EQ(res.status, 201) << res.body;
  EXPECT_EQ(res.header("X-Workflow-Envelope"), "1");
}

TEST_F(AppTest, BadSignaturesRejectedWith401Json) {
  auto app = make_app("s3cret");
  auto base = engine_call(R"({"id": 1})");
  struct Case { std::string name, header, expect; };
  std::vector<Case> cases = {
      {"missing", "", "missing"},
      {"wrong secret", treeflow::sign_payload("other", now(), base.body), "does not match"},
      {"other body", treeflow::sign_payload("s3cret", now(), "{}"), "does not match"},
      {"stale", treeflow::sign_payload("s3cret", now() - 1000, base.body), "timestamp"},
      {"future", treeflow::sign_payload("s3cret", now() + 1000, base.body), "timestamp"},
      {"malformed", "garbage", "malformed"},
      {"no v1", "t=" + std::to_string(now()), "malformed"},
      {"bad t", "t=abc,v1=00", "malformed"},
  };
  for (const auto& c : cases) {
    auto req = base;
    if (!c.header.empty()) req.headers.emplace_back("X-Workflow-Signature", c.header);
    auto res = app.handle(req);
    EXPECT_EQ(res.status, 401) << c.name;
    EXPECT_EQ(res.header("X-Workflow-Envelope"), "") << c.name;
    auto b = body_of(res);
    EXPECT_EQ(b.at("error").at("code"), "signature_invalid") << c.name;
    EXPECT_NE(std::string(b.at("error").at("message").as_string()).find(c.expect), std::string::npos)
        << c.name << ": " << res.body;
  }
  EXPECT_EQ(Seen::init_calls, 0);
}

TEST_F(AppTest, VerifySignatureAcceptsRotationAndUpperHex) {
  std::string sig = treeflow::sign_payload("k", 1000, "body");
  std::string hex = sig.substr(sig.find("v1=") + 3);
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(treeflow::verify_signature("t=1000, v1=" + std::string(64, '0') + ", v1=" + hex, "body",
                                       "k", 300, 1100),
            "");
}

TEST_F(AppTest, ExceptionsBecome500Json) {
  auto app = make_app();
  for (std::string mode : {"init_throws", "view_throws", "complete_throws", "non_std"}) {
    Seen::mode = mode;
    auto res = app.handle(engine_call("{}"));
    EXPECT_EQ(res.status, 500) << mode;
    EXPECT_EQ(res.header("X-Workflow-Envelope"), "") << mode;
    EXPECT_EQ(res.header("Content-Type"), "application/json") << mode;
    auto b = body_of(res);
    EXPECT_EQ(b.at("error").at("code"), "internal") << mode;
  }
  Seen::mode = "view_throws";
  EXPECT_EQ(body_of(app.handle(engine_call("{}"))).at("error").at("message"), "view exploded");
  Seen::mode = "complete_throws";
  EXPECT_EQ(body_of(app.handle(engine_call("{}"))).at("error").at("message"), "complete exploded");
}

TEST_F(AppTest, HttpErrorKeepsItsStatus) {
  auto app = make_app();
  Seen::mode = "http_error";
  auto res = app.handle(engine_call("{}"));
  EXPECT_EQ(res.status, 409);
  EXPECT_EQ(body_of(res), json::parse(R"({"error": {"code": "conflict", "message": "already there"}})"));
}

TEST_F(AppTest, MalformedJsonIs400) {
  auto app = make_app();
  auto res = app.handle(engine_call(R"({"id": )"));
  EXPECT_EQ(res.status, 400);
  auto b = body_of(res);
  EXPECT_EQ(b.at("error").at("code"), "bad_request");
  EXPECT_NE(std::string(b.at("error").at("message").as_string()).find("request body is not valid JSON"),
            std::string::npos);
}

TEST_F(AppTest, UnknownRouteAndWrongMethod) {
  auto app = make_app();
  HttpRequest r;
  r.method = "POST";
  r.target = "/nope";
  auto res = app.handle(r);
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(body_of(res).at("error").at("code"), "not_found");
  r.method = "DELETE";
  r.target = "/blogs";
  res = app.handle(r);
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.header("Allow"), "POST");
  EXPECT_EQ(body_of(res).at("error").at("code"), "method_not_allowed");
}

TEST_F(AppTest, PlainHandler) {
  auto app = make_app();
  HttpRequest r;
  r.method = "GET";
  r.target = "/health?verbose=1";
  auto res = app.handle(r);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "ok");
  App thrower(treeflow::Options{});
  thrower.plain("GET", "/x", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("boom");
  });
  r.target = "/x";
  res = thrower.handle(r);
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(body_of(res).at("error").at("message"), "boom");
}

TEST_F(AppTest, DefaultEngineUrlWhenEmpty) {
  App app(treeflow::Options{});
  EXPECT_FALSE(app.options().engine_url.empty());
}

}  // namespace
