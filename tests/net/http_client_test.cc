// The outbound client against loopback servers: round trips, pooling and its
// cap, stale keep-alive connections, deadlines, size cap, TLS verification,
// shutdown with requests in flight.
#include "net/http_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "loopback_server.h"

namespace treeflow::net {
namespace {

using namespace std::chrono_literals;
using testing::LoopbackServer;
using testing::Reply;
using testing::ServerRequest;
using Clock = std::chrono::steady_clock;
namespace http = boost::beast::http;

std::string header(const core::Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(a) == std::tolower(b);
        })) {
      return v;
    }
  }
  return "<none>";
}

// Runs the client's io_context until `pred` holds; false after `limit`.
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 5s) {
  auto end = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > end) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(10ms);
    if (io.stopped()) std::this_thread::sleep_for(1ms);  // no work: wait for the server
  }
  return true;
}

class HttpClientTest : public ::testing::Test {
 protected:
  // Sends one request and runs until its answer.
  OutboundResult call(HttpClient& client, OutboundRequest req) {
    std::optional<OutboundResult> result;
    client.send(std::move(req), [&](OutboundResult r) { result = std::move(r); });
    EXPECT_TRUE(run_until(io_, [&] { return result.has_value(); }));
    return result.value_or(OutboundResult{});
  }

  static OutboundRequest get(std::string url) {
    OutboundRequest req;
    req.method = "GET";
    req.url = std::move(url);
    return req;
  }

  boost::asio::io_context io_;
};

Reply echo(const ServerRequest& req) {
  Reply r;
  r.headers = {{"X-Method", std::string(req.method_string())},
               {"X-Target", std::string(req.target())},
               {"X-Host", std::string(req[http::field::host])},
               {"X-User-Agent", std::string(req[http::field::user_agent])},
               {"X-Content-Type", std::string(req[http::field::content_type])},
               {"X-Content-Length", std::string(req[http::field::content_length])},
               {"X-Custom", std::string(req["X-Custom"])}};
  r.body = req.body();
  return r;
}

TEST_F(HttpClientTest, GetAndPostRoundTripWithHeadersAndBody) {
  LoopbackServer server(echo);
  HttpClient client(io_);

  OutboundRequest req = get(server.url("/a/b?x=1&y=two"));
  req.headers = {{"X-Custom", "hello"}};
  OutboundResult r = call(client, req);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.error, "");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(header(r.headers, "X-Method"), "GET");
  EXPECT_EQ(header(r.headers, "X-Target"), "/a/b?x=1&y=two");
  EXPECT_EQ(header(r.headers, "X-Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(header(r.headers, "X-User-Agent"), "treeflow");
  EXPECT_EQ(header(r.headers, "X-Content-Type"), "");  // never added by the client
  EXPECT_EQ(header(r.headers, "X-Custom"), "hello");
  EXPECT_GT(r.latency_us, 0);

  OutboundRequest post;
  post.url = server.url("/submit");
  post.headers = {{"Content-Type", "application/json"}, {"User-Agent", "mine/1"}};
  post.body = R"({"k":"v"})";
  r = call(client, post);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"k":"v"})");
  EXPECT_EQ(header(r.headers, "X-Method"), "POST");
  EXPECT_EQ(header(r.headers, "X-Target"), "/submit");
  EXPECT_EQ(header(r.headers, "X-Content-Type"), "application/json");
  EXPECT_EQ(header(r.headers, "X-Content-Length"), "9");
  EXPECT_EQ(header(r.headers, "X-User-Agent"), "mine/1");

  OutboundRequest empty_path = get("http://127.0.0.1:" + std::to_string(server.port()));
  r = call(client, empty_path);
  EXPECT_EQ(header(r.headers, "X-Target"), "/");
}

TEST_F(HttpClientTest, NonSuccessStatusIsAnAnswerNotAnError) {
  LoopbackServer server([](const ServerRequest&) {
    Reply r;
    r.status = http::status::service_unavailable;
    r.headers = {{"Retry-After", "3"}};
    r.body = "busy";
    return r;
  });
  HttpClient client(io_);
  OutboundResult r = call(client, get(server.url()));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.body, "busy");
  EXPECT_EQ(header(r.headers, "Retry-After"), "3");
}

TEST_F(HttpClientTest, KeepAliveReusesOneConnectionForSequentialRequests) {
  LoopbackServer server(echo);
  HttpClient client(io_);
  int done = 0;
  int ok = 0;
  std::function<void()> next = [&] {
    OutboundRequest req = get(server.url("/n"));
    client.send(std::move(req), [&](OutboundResult r) {
      ++done;
      ok += r.status == 200;
      if (done < 100) next();
    });
  };
  next();
  ASSERT_TRUE(run_until(io_, [&] { return done == 100; }));
  EXPECT_EQ(ok, 100);
  EXPECT_EQ(client.stats().requests, 100u);
  EXPECT_EQ(client.stats().connections_opened, 1u);
  EXPECT_EQ(client.stats().connections_reused, 99u);
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(HttpClientTest, ConcurrencyIsCappedPerHostAndExtraRequestsQueue) {
  LoopbackServer server([](const ServerRequest& req) {
    Reply r = echo(req);
    r.delay = 5ms;
    return r;
  });
  HttpClientOptions options;
  options.max_connections_per_host = 4;
  HttpClient client(io_, options);
  int done = 0;
  int ok = 0;
  std::vector<std::string> order;
  for (int i = 0; i < 50; ++i) {
    client.send(get(server.url("/" + std::to_string(i))), [&](OutboundResult r) {
      ++done;
      ok += r.status == 200;
    });
  }
  ASSERT_TRUE(run_until(io_, [&] { return done == 50; }));
  EXPECT_EQ(ok, 50);
  EXPECT_LE(server.max_open(), 4);
  EXPECT_LE(client.stats().connections_opened, 4u);
  EXPECT_EQ(server.requests(), 50);
}

// Not a benchmark: guards against a regression to a connection (or a DNS
// lookup) per request under sustained load, and prints the rate seen.
TEST_F(HttpClientTest, SustainedLoadStaysOnPooledConnections) {
  LoopbackServer server(echo);
  HttpClientOptions options;
  options.max_connections_per_host = 8;
  HttpClient client(io_, options);
  constexpr int kTotal = 5000;
  constexpr int kWindow = 64;
  int sent = 0;
  int done = 0;
  int ok = 0;
  std::function<void()> send_one = [&] {
    ++sent;
    OutboundRequest req;
    req.url = server.url("/load");
    req.body = "payload";
    client.send(std::move(req), [&](OutboundResult r) {
      ++done;
      ok += r.status == 200 && r.body == "payload";
      if (sent < kTotal) send_one();
    });
  };
  auto start = Clock::now();
  for (int i = 0; i < kWindow; ++i) send_one();
  ASSERT_TRUE(run_until(
      io_, [&] { return done == kTotal; }, 20s));
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(ok, kTotal);
  EXPECT_LE(client.stats().connections_opened, 8u);
  EXPECT_EQ(client.stats().connections_opened + client.stats().connections_reused,
            static_cast<std::uint64_t>(kTotal));
  std::printf("[ rate     ] %.0f requests/s over %llu connections\n", kTotal / seconds,
              static_cast<unsigned long long>(client.stats().connections_opened));
}

TEST_F(HttpClientTest, StaleKeepAliveConnectionIsRetriedTransparently) {
  // The server answers, then closes the connection without saying so: the
  // client pools it, and the next request finds it dead.
  LoopbackServer server([](const ServerRequest& req) {
    Reply r = echo(req);
    r.drop_after = true;
    return r;
  });
  HttpClient client(io_);
  OutboundRequest post;
  post.url = server.url("/first");
  post.body = "one";
  EXPECT_EQ(call(client, post).status, 200);
  ASSERT_TRUE(run_until(io_, [&] { return server.open() == 0; }));

  post.url = server.url("/second");
  post.body = "two";
  OutboundResult r = call(client, post);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.body, "two");
  EXPECT_EQ(client.stats().connections_reused, 1u);
  EXPECT_EQ(client.stats().connections_opened, 2u);
  EXPECT_EQ(server.requests(), 2);  // the dead connection never delivered a request
}

TEST_F(HttpClientTest, ServerConnectionCloseIsHonoured) {
  LoopbackServer server([](const ServerRequest& req) {
    Reply r = echo(req);
    r.connection_close = true;
    return r;
  });
  HttpClient client(io_);
  EXPECT_EQ(call(client, get(server.url())).status, 200);
  EXPECT_EQ(call(client, get(server.url())).status, 200);
  EXPECT_EQ(client.stats().connections_opened, 2u);
  EXPECT_EQ(client.stats().connections_reused, 0u);
}

TEST_F(HttpClientTest, DeadlineExceededWhenServerNeverAnswers) {
  LoopbackServer server([](const ServerRequest&) {
    Reply r;
    r.never = true;
    return r;
  });
  HttpClient client(io_);
  OutboundRequest req = get(server.url());
  req.deadline = 200ms;
  auto start = Clock::now();
  OutboundResult r = call(client, req);
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.error, "deadline of 200 ms exceeded");
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_GE(r.latency_us, 200'000);
  ASSERT_TRUE(run_until(io_, [&] { return server.open() == 0; }));  // connection closed
}

TEST_F(HttpClientTest, DeadlineCoversTimeSpentWaitingForAConnection) {
  LoopbackServer server([](const ServerRequest&) {
    Reply r;
    r.never = true;
    return r;
  });
  HttpClientOptions options;
  options.max_connections_per_host = 1;
  HttpClient client(io_, options);
  std::optional<OutboundResult> first, second;
  OutboundRequest slow = get(server.url());
  slow.deadline = 2s;
  client.send(slow, [&](OutboundResult r) { first = std::move(r); });
  OutboundRequest queued = get(server.url());
  queued.deadline = 100ms;
  client.send(queued, [&](OutboundResult r) { second = std::move(r); });
  ASSERT_TRUE(run_until(
      io_, [&] { return second.has_value(); }, 1s));
  EXPECT_TRUE(second->timed_out);
  EXPECT_FALSE(first.has_value());
  client.shutdown();
  ASSERT_TRUE(run_until(io_, [&] { return first.has_value(); }));
  EXPECT_EQ(first->error, "client shutting down");
}

TEST_F(HttpClientTest, ConnectionRefusedIsAnError) {
  std::uint16_t port;
  {
    boost::asio::ip::tcp::acceptor acceptor(io_, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }  // closed: nothing listens there now
  HttpClient client(io_);
  OutboundResult r = call(client, get("http://127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.error.find("cannot connect to 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << r.error;
  EXPECT_EQ(client.stats().connections_opened, 0u);
}

TEST_F(HttpClientTest, ResponseOverSizeCapIsAnErrorAndTheConnectionIsNotReused) {
  LoopbackServer server([](const ServerRequest& req) {
    Reply r;
    r.body = std::string(req.target() == "/small" ? 10 : 1000, 'x');
    r.chunked = req.target() == "/chunked";
    return r;
  });
  HttpClient client(io_);
  for (const char* path : {"/big", "/chunked"}) {
    OutboundRequest req = get(server.url(path));
    req.max_response_bytes = 100;
    OutboundResult r = call(client, req);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.error, "response body exceeds 100 bytes") << path;
    EXPECT_EQ(r.body, "") << path;
  }
  OutboundRequest small = get(server.url("/small"));
  small.max_response_bytes = 100;
  OutboundResult r = call(client, small);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.body, std::string(10, 'x'));
  EXPECT_EQ(client.stats().connections_opened, 3u);
}

TEST_F(HttpClientTest, BadUrlsFailWithoutCallingBackInsideSend) {
  HttpClient client(io_);
  for (const char* url : {"not a url", "ftp://127.0.0.1/file", "http:///no-host", "/relative",
                          "http://127.0.0.1:99999/"}) {
    std::optional<OutboundResult> result;
    client.send(get(url), [&](OutboundResult r) { result = std::move(r); });
    EXPECT_FALSE(result.has_value()) << url;
    ASSERT_TRUE(run_until(io_, [&] { return result.has_value(); })) << url;
    EXPECT_EQ(result->status, 0) << url;
    EXPECT_FALSE(result->error.empty()) << url;
  }
  OutboundResult r = call(client, get("ftp://127.0.0.1/file"));
  EXPECT_NE(r.error.find("unsupported URL scheme 'ftp'"), std::string::npos) << r.error;

  OutboundRequest bad_header = get("http://127.0.0.1:1/");
  bad_header.headers = {{"X-Evil", "a\r\nInjected: yes"}};
  r = call(client, bad_header);
  EXPECT_NE(r.error.find("invalid header"), std::string::npos) << r.error;
}

TEST_F(HttpClientTest, ShutdownFailsQueuedAndInFlightRequests) {
  LoopbackServer server([](const ServerRequest&) {
    Reply r;
    r.never = true;
    return r;
  });
  HttpClientOptions options;
  options.max_connections_per_host = 1;
  HttpClient client(io_, options);
  std::vector<OutboundResult> results;
  for (int i = 0; i < 3; ++i) {
    client.send(get(server.url()), [&](OutboundResult r) { results.push_back(std::move(r)); });
  }
  ASSERT_TRUE(run_until(io_, [&] { return server.requests() == 1; }));
  client.shutdown();
  EXPECT_TRUE(results.empty());  // posted, not called from inside shutdown()
  ASSERT_TRUE(run_until(io_, [&] { return results.size() == 3; }));
  for (const auto& r : results) {
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.error, "client shutting down");
  }
  OutboundResult after = call(client, get(server.url()));
  EXPECT_EQ(after.error, "client shutting down");
}

TEST_F(HttpClientTest, DestroyingTheClientWithRequestsInFlightIsSafe) {
  LoopbackServer server([](const ServerRequest& req) {
    Reply r = echo(req);
    r.never = req.target() == "/never";
    return r;
  });
  auto client = std::make_unique<HttpClient>(io_);
  int called = 0;
  std::string last_error;
  EXPECT_EQ(call(*client, get(server.url("/ok"))).status, 200);  // leaves an idle connection
  for (int i = 0; i < 3; ++i) {
    client->send(get(server.url("/never")), [&](OutboundResult r) {
      ++called;
      last_error = r.error;
    });
  }
  ASSERT_TRUE(run_until(io_, [&] { return server.requests() >= 2; }));
  client.reset();
  ASSERT_TRUE(run_until(io_, [&] { return called == 3; }));
  EXPECT_EQ(last_error, "client shutting down");
  io_.restart();
  io_.run_for(50ms);  // the aborted operations finish against a live Impl
  EXPECT_EQ(called, 3);
}

TEST_F(HttpClientTest, IdleConnectionsAreClosedAfterIdleTimeout) {
  LoopbackServer server(echo);
  HttpClientOptions options;
  options.idle_timeout = 1s;
  HttpClient client(io_, options);
  EXPECT_EQ(call(client, get(server.url())).status, 200);
  EXPECT_EQ(server.open(), 1);
  auto start = Clock::now();
  ASSERT_TRUE(run_until(
      io_, [&] { return server.open() == 0; }, 3s));
  EXPECT_GE(Clock::now() - start, 900ms);
  EXPECT_EQ(call(client, get(server.url())).status, 200);
  EXPECT_EQ(client.stats().connections_opened, 2u);
}

// --- TLS --------------------------------------------------------------------

class HttpsTest : public HttpClientTest {
 protected:
  static void SetUpTestSuite() {
    cert_ = new testing::SelfSigned(testing::make_self_signed("IP:127.0.0.1,DNS:localhost"));
    ca_file_ = new std::string(::testing::TempDir() + "treeflow_net_ca_" +
                               std::to_string(::getpid()) + ".pem");
    std::ofstream(*ca_file_) << cert_->cert_pem;
  }
  static void TearDownTestSuite() {
    std::remove(ca_file_->c_str());
    delete cert_;
    delete ca_file_;
  }

  static testing::SelfSigned* cert_;
  static std::string* ca_file_;
};
testing::SelfSigned* HttpsTest::cert_ = nullptr;
std::string* HttpsTest::ca_file_ = nullptr;

TEST_F(HttpsTest, TrustedCaFileVerifiesIpAndHostName) {
  LoopbackServer server(echo, testing::server_tls_context(*cert_));
  HttpClientOptions options;
  options.ca_file = *ca_file_;
  HttpClient client(io_, options);
  OutboundRequest post;
  post.url = server.url("/secure");
  post.body = "secret";
  OutboundResult r = call(client, post);
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "secret");

  // By name: resolver, SNI and the DNS subjectAltName.
  r = call(client, get("https://localhost:" + std::to_string(server.port()) + "/by-name"));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(header(r.headers, "X-Target"), "/by-name");

  // Keep-alive works over TLS too.
  EXPECT_EQ(call(client, get(server.url())).status, 200);
  EXPECT_GE(client.stats().connections_reused, 1u);
}

TEST_F(HttpsTest, UntrustedCertificateFailsVerification) {
  LoopbackServer server(echo, testing::server_tls_context(*cert_));
  HttpClient client(io_);
  OutboundResult r = call(client, get(server.url()));
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("certificate verification failed"), std::string::npos) << r.error;
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(HttpsTest, HostNameMismatchFailsVerification) {
  testing::SelfSigned other = testing::make_self_signed("DNS:example.com");
  std::string ca =
      ::testing::TempDir() + "treeflow_net_other_" + std::to_string(::getpid()) + ".pem";
  std::ofstream(ca) << other.cert_pem;
  LoopbackServer server(echo, testing::server_tls_context(other));
  HttpClientOptions options;
  options.ca_file = ca;
  HttpClient client(io_, options);
  OutboundResult r = call(client, get(server.url()));
  std::remove(ca.c_str());
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("certificate verification failed"), std::string::npos) << r.error;
}

TEST_F(HttpsTest, VerificationCanBeTurnedOff) {
  LoopbackServer server(echo, testing::server_tls_context(*cert_));
  HttpClientOptions options;
  options.verify_tls = false;
  HttpClient client(io_, options);
  OutboundResult r = call(client, get(server.url("/insecure")));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(header(r.headers, "X-Target"), "/insecure");
}

TEST_F(HttpsTest, StaleTlsConnectionIsRetriedTransparently) {
  LoopbackServer server(
      [](const ServerRequest& req) {
        Reply r = echo(req);
        r.drop_after = true;
        return r;
      },
      testing::server_tls_context(*cert_));
  HttpClientOptions options;
  options.ca_file = *ca_file_;
  HttpClient client(io_, options);
  EXPECT_EQ(call(client, get(server.url())).status, 200);
  ASSERT_TRUE(run_until(io_, [&] { return server.open() == 0; }));
  OutboundResult r = call(client, get(server.url()));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(client.stats().connections_opened, 2u);
}

}  // namespace
}  // namespace treeflow::net
