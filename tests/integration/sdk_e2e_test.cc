// End to end with the C++ SDK: view classes with the two hooks, served by
// treeflow::Server, driven by the real `treeflow serve`. A direct call of the
// Trigger starts the run (the seed's flow); signatures are on.
#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "support.h"

using namespace tftest;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "e2e-secret";

// The warehouse: 2 pages of 3 blogs, each with 2 comments with 1 nested reply.
json::array warehouse_page(int page) {
  json::array blogs;
  if (page > 2) return blogs;
  for (int b = 0; b < 3; ++b) {
    int id = page * 100 + b;
    json::array comments;
    for (int c = 0; c < 2; ++c) {
      int cid = id * 10 + c;
      comments.push_back(json::object{
          {"id", cid},
          {"message", "c"},
          {"comments", json::array{json::object{{"id", cid * 10}, {"message", "r"}, {"comments", json::array{}}}}}});
    }
    blogs.push_back(json::object{{"id", id}, {"name", "b"}, {"comments", comments}});
  }
  return blogs;
}

std::mutex g_mu;
std::map<std::string, int> g_written;  // "blog:ID" / "comment:ID" -> times
std::set<std::string> g_tasks_seen;
std::atomic<int> g_direct{0};

void write(const std::string& key, const std::string& task_id) {
  std::lock_guard lk(g_mu);
  // Idempotent by task id, as docs/sdk.md recommends.
  if (g_tasks_seen.insert(task_id).second) g_written[key]++;
}

struct Trigger {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
    return treeflow::default_init_data(r);
  }
  static treeflow::Response view(const treeflow::Request& r) {
    if (r.direct) g_direct++;
    int page = std::stoi(r.http.query_param("page").value_or("1"));
    return treeflow::Response::json(warehouse_page(page));
  }
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& r,
                                                           const treeflow::Response& res) {
    auto c = treeflow::default_complete_data(r, res);
    if (!res.data.as_array().empty()) {
      int page = std::stoi(r.http.query_param("page").value_or("1"));
      c.immediate_next.push_back(treeflow::next("/blogs").each());
      c.sub_task_next.push_back(
          treeflow::next("/trigger?page=" + std::to_string(page + 1)).method("GET").none());
    }
    return c;
  }
};

struct WriteBlog {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
    return treeflow::default_init_data(r);
  }
  static treeflow::Response view(const treeflow::Request& r) {
    json::object blog = r.json().as_object();
    json::value comments = blog["comments"];
    write("blog:" + json::serialize(blog["id"]), r.task_id);
    return treeflow::Response::json(json::object{{"blog", blog["id"]}, {"comments", comments}});
  }
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& r,
                                                           const treeflow::Response& res) {
    auto c = treeflow::default_complete_data(r, res);
    c.immediate_next.push_back(treeflow::next("/comments").each().input_path("/comments"));
    return c;
  }
};

struct WriteComment {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
    return treeflow::default_init_data(r);
  }
  static treeflow::Response view(const treeflow::Request& r) {
    json::object comment = r.json().as_object();
    write("comment:" + json::serialize(comment["id"]), r.task_id);
    return treeflow::Response::json(comment["comments"]);  // the nested comments
  }
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& r,
                                                           const treeflow::Response& res) {
    auto c = treeflow::default_complete_data(r, res);
    if (!res.data.as_array().empty()) c.immediate_next.push_back(treeflow::next("/comments").each());
    return c;
  }
};

// GET with the answer's headers (support's http() keeps only the body).
boost::beast::http::response<boost::beast::http::string_body> get_with_headers(
    unsigned short port, const std::string& target) {
  namespace asio = boost::asio;
  namespace bhttp = boost::beast::http;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port));
  bhttp::write(s, req);
  boost::beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buf, res);
  return res;
}

}  // namespace

TEST(SdkE2E, DirectTriggerRunsTheBlogMigrationWithSignatures) {
  {
    std::lock_guard lk(g_mu);
    g_written.clear();
    g_tasks_seen.clear();
    g_direct = 0;
  }
  TempDir dir;
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir), "--signing-secret", kSecret});
  engine.start();

  treeflow::Options o;
  o.engine_url = engine.url();
  o.signing_secret = kSecret;
  treeflow::App app(o);
  app.route<Trigger>("GET", "/trigger");
  app.route<WriteBlog>("POST", "/blogs");
  app.route<WriteComment>("POST", "/comments");
  treeflow::Server server(app, "127.0.0.1:0", {.threads = 4});
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());

  // An unsigned engine-style call is refused.
  auto refused = http("POST", base + "/blogs", "{}", {{"X-Workflow-Task-Id", "x"}});
  EXPECT_EQ(refused.status, 401);

  // The direct call: registers the run, runs page 1's Trigger, answers
  // with the run id.
  auto res = get_with_headers(server.port(), "/trigger?page=1");
  ASSERT_EQ(res.result_int(), 200u) << res.body() << engine.log();
  EXPECT_EQ(json::parse(res.body()).as_array().size(), 3u);
  std::string run_id(res["X-Workflow-Run-Id"]);
  ASSERT_FALSE(run_id.empty());

  auto run = engine.wait_run(run_id, 60s);
  ASSERT_EQ(run.at("state").as_string(), "completed") << json::serialize(run) << engine.log();
  // 3 Trigger calls (pages 1, 2 and the empty 3), 6 blogs, 12 comments, 12 replies.
  EXPECT_EQ(count(run, "completed"), 3 + 6 + 12 + 12) << json::serialize(run);
  EXPECT_EQ(g_direct.load(), 1);
  std::lock_guard lk(g_mu);
  EXPECT_EQ(g_written.size(), 6u + 24u);
  for (auto& [k, n] : g_written) EXPECT_EQ(n, 1) << k;
}
