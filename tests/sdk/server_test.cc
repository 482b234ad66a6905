// The built-in Server over real sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <boost/json/parse.hpp>

#include "treeflow/app.h"
#include "treeflow/server.h"
#include "test_client.h"

namespace {

namespace json = boost::json;
using treeflow::HttpRequest;
using treeflow::HttpResponse;

struct Echo {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
    return treeflow::default_init_data(r);
  }
  static treeflow::Response view(const treeflow::Request& r) {
    return treeflow::Response::json(r.json(), 200);
  }
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& r,
                                                           const treeflow::Response& s) {
    return treeflow::default_complete_data(r, s);
  }
};

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() : app_(treeflow::Options{}) {
    app_.route<Echo>("POST", "/echo");
    app_.plain("GET", "/hello", [this](const HttpRequest& r) {
      ++hits_;
      return HttpResponse{200, {{"Content-Type", "text/plain"}},
                          "hello " + r.query_param("name").value_or("?")};
    });
  }
  treeflow::App app_;
  std::atomic<int> hits_{0};
};

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  treeflow::Server s(app_, "127.0.0.1:0", {.threads = 2});
  ASSERT_NE(s.port(), 0);
  sdktest::Conn c(s.port());
  auto local = c.socket().local_endpoint();
  for (int i = 0; i < 3; ++i) {
    auto res = c.send("GET", "/hello?name=a%20b");
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), "hello a b");
    EXPECT_TRUE(res.keep_alive());
  }
  auto res = c.send("POST", "/echo", R"({"x": 1})",
                    {{"X-Workflow-Task-Id", "t1"}, {"Content-Type", "application/json"}});
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res["X-Workflow-Envelope"], "1");
  EXPECT_EQ(json::parse(res.body()).at("response").at("data"), json::parse(R"({"x": 1})"));
  EXPECT_EQ(c.socket().local_endpoint(), local);
  EXPECT_EQ(hits_, 3);
}

TEST_F(ServerTest, OversizedBodyIs413Json) {
  treeflow::Server s(app_, "127.0.0.1:0", {.threads = 1, .max_body_bytes = 1024});
  sdktest::Conn c(s.port());
  auto res = c.send("POST", "/echo", std::string(4096, 'x'), {{"X-Workflow-Task-Id", "t1"}});
  EXPECT_EQ(res.result_int(), 413u);
  EXPECT_EQ(json::parse(res.body()).at("error").at("code"), "payload_too_large");
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(ServerTest, GarbageIs400JsonAndServerSurvives) {
  treeflow::Server s(app_, "127.0.0.1:0");
  {
    sdktest::Conn c(s.port());
    std::string out = c.raw("\x01\x02 NOT HTTP AT ALL\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
    EXPECT_NE(out.find(R"("code":"bad_request")"), std::string::npos) << out;
  }
  {
    sdktest::Conn c(s.port());
    std::string out = c.raw("POST /echo HTTP/1.1\r\nContent-Length: zz\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  }
  {
    // Half a request, then the client goes away.
    sdktest::Conn c(s.port());
    boost::asio::write(c.socket(), boost::asio::buffer(std::string("POST /echo HTTP/1.1\r\nContent-Len")));
  }
  sdktest::Conn c(s.port());
  EXPECT_EQ(c.send("GET", "/hello").result_int(), 200u);
  EXPECT_EQ(c.send("GET", "/missing").result_int(), 404u);
}

TEST_F(ServerTest, BadJsonOverTheWireIs400) {
  treeflow::Server s(app_, "127.0.0.1:0");
  sdktest::Conn c(s.port());
  auto res = c.send("POST", "/echo", "{nope", {{"X-Workflow-Task-Id", "t1"}});
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_TRUE(res.keep_alive());
  EXPECT_EQ(c.send("GET", "/hello").result_int(), 200u);
}

TEST_F(ServerTest, StopClosesOpenConnectionsAndJoins) {
  auto s = std::make_unique<treeflow::Server>(app_, "127.0.0.1:0", treeflow::ServeOptions{.threads = 3});
  sdktest::Conn idle(s->port());
  EXPECT_EQ(idle.send("GET", "/hello").result_int(), 200u);
  std::thread waiter([&] { s->wait(); });
  s->stop();
  waiter.join();
  s->stop();  // idempotent
  // The idle keep-alive connection was closed by the server.
  char b;
  boost::system::error_code ec;
  idle.socket().read_some(boost::asio::buffer(&b, 1), ec);
  EXPECT_TRUE(ec);
  s.reset();
}

TEST_F(ServerTest, BadListenAddressThrows) {
  EXPECT_THROW(treeflow::Server(app_, "nonsense"), std::invalid_argument);
  EXPECT_THROW(treeflow::Server(app_, "127.0.0.1:99999"), std::invalid_argument);
  treeflow::Server a(app_, "127.0.0.1:0");
  EXPECT_THROW(treeflow::Server(app_, "127.0.0.1:" + std::to_string(a.port())),
               boost::system::system_error);
}

}  // namespace
