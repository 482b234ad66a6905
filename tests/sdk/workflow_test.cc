// Next / InitData / CompleteData JSON and the default hooks.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "treeflow/workflow.h"

namespace {

namespace json = boost::json;
using treeflow::next;

TEST(Next, OnlySetFieldsPlusUrl) {
  EXPECT_EQ(next("/blogs").to_json(), json::parse(R"({"url": "/blogs"})"));
  EXPECT_EQ(next("/comments").each().custom_input({{"blog_id", 7}}).to_json(),
            json::parse(R"({"url": "/comments", "input_type": "each",
                            "custom_input": {"blog_id": 7}})"));
}

TEST(Next, EveryField) {
  auto spec = next("http://h/x")
                  .method("PUT")
                  .children()
                  .input_path("/items")
                  .custom_input({{"source", "warehouse"}})
                  .header("X-Tenant", "a")
                  .header("X-Other", "b")
                  .queue("slow")
                  .on_failure_continue()
                  .to_json();
  EXPECT_EQ(spec, json::parse(R"({"url": "http://h/x", "method": "PUT",
      "input_type": "children", "input_path": "/items",
      "custom_input": {"source": "warehouse"},
      "headers": {"X-Tenant": "a", "X-Other": "b"}, "queue": "slow",
      "on_failure": "continue"})"));
}

TEST(Next, InputTypesLastWins) {
  EXPECT_EQ(next("/a").response().to_json().at("input_type"), "response");
  EXPECT_EQ(next("/a").custom().to_json().at("input_type"), "custom");
  EXPECT_EQ(next("/a").none().to_json().at("input_type"), "none");
  EXPECT_EQ(next("/a").each().none().to_json().at("input_type"), "none");
}

TEST(InitData, ToJson) {
  treeflow::InitData d;
  d.id = "abc";
  d.request.url = "http://h/blogs";
  d.request.method = "POST";
  d.request.payload = json::parse(R"({"id": 1})");
  d.request.headers = {{"X-A", "1"}, {"X-A", "2"}, {"Accept", "*/*"}};
  EXPECT_EQ(d.to_json(), json::parse(R"({"id": "abc", "parent_task": null,
      "request": {"url": "http://h/blogs", "method": "POST", "payload": {"id": 1},
                  "headers": {"X-A": "1, 2", "Accept": "*/*"}}})"));
  d.parent_task = "p1";
  EXPECT_EQ(d.to_json().at("parent_task"), "p1");
}

TEST(CompleteData, ToJson) {
  treeflow::CompleteData c;
  c.id = "t1";
  c.status_code = 201;
  c.headers = {{"X-Tenant", "a"}};
  c.data = json::parse(R"([{"id": 1}])");
  c.immediate_next.push_back(next("/comments").each());
  c.sub_task_next.push_back(next("/trigger").custom_input({{"page", 2}}));
  EXPECT_EQ(c.to_json(), json::parse(R"({"id": "t1",
      "response": {"status_code": 201, "headers": {"X-Tenant": "a"}, "data": [{"id": 1}]},
      "immediate_next": [{"url": "/comments", "input_type": "each"}],
      "sub_task_next": [{"url": "/trigger", "custom_input": {"page": 2}}]})"));
  treeflow::CompleteData empty;
  EXPECT_EQ(empty.to_json(), json::parse(R"({"id": "",
      "response": {"status_code": 200, "headers": {}, "data": null},
      "immediate_next": [], "sub_task_next": []})"));
}

treeflow::Request make(std::string method, std::string target, std::string body) {
  treeflow::Request r;
  r.http.method = std::move(method);
  r.http.target = std::move(target);
  r.http.body = std::move(body);
  r.http.headers = {{"Host", "api.local:9000"},
                    {"Content-Type", "application/json"},
                    {"Content-Length", "12"},
                    {"Connection", "keep-alive"},
                    {"X-Workflow-Task-Id", "t1"},
                    {"x-workflow-run-id", "r1"},
                    {"Idempotency-Key", "t1"},
                    {"traceparent", "00-aa-bb-01"},
                    {"X-Tenant", "acme"}};
  r.task_id = "t1";
  r.run_id = "r1";
  r.parent_task_id = "p0";
  return r;
}

TEST(DefaultInitData, GetHasEmptyPayloadStrippedHeadersAbsoluteUrl) {
  auto r = make("GET", "/blogs?page=2", R"({"ignored": true})");
  auto d = treeflow::default_init_data(r);
  EXPECT_EQ(d.id, "t1");
  EXPECT_EQ(d.parent_task, "p0");
  EXPECT_EQ(d.request.method, "GET");
  EXPECT_EQ(d.request.payload, "");
  EXPECT_EQ(d.request.url, "http://api.local:9000/blogs?page=2");
  treeflow::HeaderList expect = {{"Content-Type", "application/json"}, {"X-Tenant", "acme"}};
  EXPECT_EQ(d.request.headers, expect);
}

TEST(DefaultInitData, PostPayloadIsJsonOrRawString) {
  auto r = make("POST", "/blogs", R"({"id": 3})");
  EXPECT_EQ(treeflow::default_init_data(r).request.payload, json::parse(R"({"id": 3})"));
  auto raw = make("POST", "/blogs", "not json");
  EXPECT_EQ(treeflow::default_init_data(raw).request.payload, "not json");
}

TEST(DefaultInitData, BaseUrlWins) {
  auto r = make("POST", "/blogs?x=1", "{}");
  r.base_url = "https://public.example.com/";
  EXPECT_EQ(treeflow::default_init_data(r).request.url, "https://public.example.com/blogs?x=1");
}

TEST(DefaultCompleteData, FromRequestAndResponse) {
  auto r = make("POST", "/blogs", "{}");
  auto c = treeflow::default_complete_data(r, treeflow::Response::json({{"n", 1}}, 202));
  EXPECT_EQ(c.id, "t1");
  EXPECT_EQ(c.status_code, 202);
  EXPECT_EQ(c.data, json::parse(R"({"n": 1})"));
  treeflow::HeaderList expect = {{"Content-Type", "application/json"}, {"X-Tenant", "acme"}};
  EXPECT_EQ(c.headers, expect);
  EXPECT_TRUE(c.immediate_next.empty());
  EXPECT_TRUE(c.sub_task_next.empty());
}

}  // namespace
