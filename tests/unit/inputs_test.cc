#include "core/inputs.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "core/ids.h"

namespace treeflow::core {
namespace {

using boost::json::parse;
using boost::json::serialize;

NextSpec spec(std::string url, InputType t = InputType::response, std::string method = "POST") {
  NextSpec s;
  s.url = std::move(url);
  s.input_type = t;
  s.method = std::move(method);
  return s;
}

struct Fixture {
  TaskRequest parent;
  std::vector<NextSpec> specs;
  boost::json::value data;
  std::vector<boost::json::value> children_data;
  bool with_children = false;
  Limits limits;
  Phase phase = Phase::immediate;
  int depth = 3;

  Fixture() {
    parent.method = "POST";
    parent.url = "http://api.example.com/v1/blogs/list";
    parent.headers = {{"Authorization", "Bearer t"},
                      {"X-Tenant", "parent"},
                      {"X-Workflow-Task-Id", "old"},
                      {"Idempotency-Key", "old"},
                      {"traceparent", "00-x"}};
  }

  Result<std::vector<NewTask>> run() {
    ExpandInput in;
    in.parent_id = "p0000000000000000000000a";
    in.parent_request = &parent;
    in.parent_queue = "pq";
    in.parent_depth = depth;
    in.phase = phase;
    in.specs = &specs;
    in.data = &data;
    in.children_data = with_children ? &children_data : nullptr;
    in.limits = &limits;
    return expand(in);
  }
};

TEST(Expand, ResponseInputOneChild) {
  Fixture f;
  f.data = parse(R"({"a":1,"b":[2]})");
  f.specs = {spec("/write")};
  auto r = f.run();
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  const NewTask& t = (*r)[0];
  EXPECT_EQ(t.id, child_task_id("p0000000000000000000000a", Phase::immediate, 0, 0));
  EXPECT_EQ(t.parent_id, "p0000000000000000000000a");
  EXPECT_EQ(t.phase, Phase::immediate);
  EXPECT_EQ(t.spec_index, 0u);
  EXPECT_EQ(t.item_index, 0u);
  EXPECT_EQ(t.depth, 4);
  EXPECT_EQ(t.queue, "pq");
  EXPECT_EQ(t.on_failure, OnFailure::fail);
  EXPECT_EQ(t.request.method, "POST");
  EXPECT_EQ(t.request.url, "http://api.example.com/write");
  EXPECT_EQ(parse(t.request.body), f.data);
}

TEST(Expand, EachOneChildPerElement) {
  Fixture f;
  f.data = parse(R"({"items":[{"id":1},{"id":2},{"id":3}]})");
  NextSpec s = spec("write", InputType::each);
  s.input_path = "/items";
  s.queue = "writes";
  s.on_failure = OnFailure::proceed;
  f.specs = {spec("/first"), s};
  auto r = f.run();
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 4u);
  for (std::uint32_t j = 0; j < 3; ++j) {
    const NewTask& t = (*r)[j + 1];
    EXPECT_EQ(t.spec_index, 1u);
    EXPECT_EQ(t.item_index, j);
    EXPECT_EQ(t.id, child_task_id("p0000000000000000000000a", Phase::immediate, 1, j));
    EXPECT_EQ(t.request.url, "http://api.example.com/v1/blogs/write");
    EXPECT_EQ(t.queue, "writes");
    EXPECT_EQ(t.on_failure, OnFailure::proceed);
    EXPECT_EQ(parse(t.request.body).at("id"), j + 1);
  }
  EXPECT_EQ((*r)[0].spec_index, 0u);
}

TEST(Expand, EachOfScalarsAndEmptyArray) {
  Fixture f;
  f.data = parse(R"({"ids":[5,"x",null],"none":[]})");
  NextSpec a = spec("/a", InputType::each);
  a.input_path = "/ids";
  NextSpec b = spec("/b", InputType::each);
  b.input_path = "/none";
  f.specs = {a, b};
  auto r = f.run();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].request.body, "5");
  EXPECT_EQ((*r)[1].request.body, "\"x\"");
  EXPECT_EQ((*r)[2].request.body, "") << "null payload -> empty body";

  f.specs = {b};
  auto empty = f.run();
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty()) << "an empty array spawns no children";
}

TEST(Expand, EachOverNonArrayFails) {
  Fixture f;
  f.data = parse(R"({"items":{"a":1},"n":3})");
  NextSpec s = spec("/w", InputType::each);
  s.input_path = "/items";
  f.specs = {spec("/ok"), s};
  auto r = f.run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "input_invalid");
  EXPECT_EQ(r.error().message, "immediate_next[1] (input_type each): /items is an object, not an array");
  f.specs[1].input_path = "/n";
  EXPECT_EQ(f.run().error().message, "immediate_next[1] (input_type each): /n is a number, not an array");
  f.specs[1].input_path = "";
  EXPECT_EQ(f.run().error().message,
            "immediate_next[1] (input_type each): the response data is an object, not an array");
}

TEST(Expand, InputPathSelectsAndMustResolve) {
  Fixture f;
  f.data = parse(R"({"page":{"rows":[{"x":1},{"x":2}]},"a/b":7,"m~n":8})");
  NextSpec s = spec("/w");
  s.input_path = "/page/rows/1";
  f.specs = {s};
  auto r = f.run();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].request.body, R"({"x":2})");
  f.specs[0].input_path = "/a~1b";
  EXPECT_EQ((*f.run())[0].request.body, "7");
  f.specs[0].input_path = "/m~0n";
  EXPECT_EQ((*f.run())[0].request.body, "8");
  for (const char* bad : {"/x", "/page/rows/5", "/page/rows/-", "/page/missing/deep"}) {
    f.specs[0].input_path = bad;
    auto e = f.run();
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().code, "input_invalid");
    EXPECT_EQ(e.error().message, std::string("immediate_next[0] (input_type response): input_path \"") +
                                     bad + "\" does not resolve in the response data");
  }
}

TEST(Expand, CustomAndNone) {
  Fixture f;
  f.data = parse(R"({"ignored":true})");
  NextSpec c = spec("/c", InputType::custom);
  c.custom_input = parse(R"({"k":"v"})").as_object();
  NextSpec c0 = spec("/c0", InputType::custom);
  NextSpec n = spec("/n", InputType::none);
  n.custom_input = parse(R"({"k":"v"})").as_object();
  f.specs = {c, c0, n};
  auto r = f.run();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].request.body, R"({"k":"v"})");
  EXPECT_EQ((*r)[1].request.body, "{}");
  EXPECT_EQ((*r)[2].request.body, "") << "none: empty payload";
}

TEST(Expand, ChildrenInputInSubPhase) {
  Fixture f;
  f.phase = Phase::sub;
  f.with_children = true;
  f.children_data = {parse(R"({"a":1})"), parse(R"({"error":"boom"})"), boost::json::value(nullptr)};
  NextSpec s = spec("/report", InputType::children);
  f.specs = {s};
  auto r = f.run();
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].request.body, R"([{"a":1},{"error":"boom"},null])");
  EXPECT_EQ((*r)[0].phase, Phase::sub);
  EXPECT_EQ((*r)[0].id, child_task_id("p0000000000000000000000a", Phase::sub, 0, 0));

  f.children_data.clear();
  EXPECT_EQ((*f.run())[0].request.body, "[]");
}

TEST(Expand, ChildrenInputInImmediatePhaseFails) {
  Fixture f;
  f.specs = {spec("/report", InputType::children)};
  auto r = f.run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "input_invalid");
  EXPECT_EQ(r.error().message.rfind("immediate_next[0] (input_type children): ", 0), 0u);
}

TEST(Expand, ChildrenPayloadOverLimitIsAnError) {
  Fixture f;
  f.phase = Phase::sub;
  f.with_children = true;
  f.limits.max_payload_bytes = 100;
  for (int i = 0; i < 20; ++i) f.children_data.push_back(boost::json::value("0123456789"));
  f.specs = {spec("/report", InputType::children)};
  auto r = f.run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "limit_payload");
  EXPECT_EQ(r.error().message.rfind("sub_task_next[0] (input_type children): payload of 261 bytes", 0), 0u)
      << r.error().message;
}

TEST(MakePayload, CustomMergeRules) {
  NextSpec s = spec("/x");
  auto v = [](const char* j) { return parse(j); };
  // No custom_input: payload unchanged.
  auto in = v(R"({"a":1})");
  EXPECT_EQ(make_payload(s, &in), in);
  EXPECT_TRUE(make_payload(s, nullptr).is_null());
  s.custom_input = v(R"({"b":2,"a":9})").as_object();
  // Object payload: merged, custom keys win.
  EXPECT_EQ(make_payload(s, &in), v(R"({"a":9,"b":2})"));
  // Non-object payload: wrapped as {"input": ...}.
  auto arr = v("[1,2]");
  EXPECT_EQ(make_payload(s, &arr), v(R"({"input":[1,2],"b":2,"a":9})"));
  auto num = v("3");
  EXPECT_EQ(make_payload(s, &num), v(R"({"input":3,"b":2,"a":9})"));
  auto str = v("\"s\"");
  EXPECT_EQ(make_payload(s, &str), v(R"({"input":"s","b":2,"a":9})"));
  // Null payload: custom_input alone.
  auto nul = v("null");
  EXPECT_EQ(make_payload(s, &nul), v(R"({"b":2,"a":9})"));
  EXPECT_EQ(make_payload(s, nullptr), v(R"({"b":2,"a":9})"));
  // An "input" key in custom_input wins over the wrapped payload.
  s.custom_input = v(R"({"input":"mine"})").as_object();
  EXPECT_EQ(make_payload(s, &num), v(R"({"input":"mine"})"));
  // Empty custom_input: non-object payload kept as is.
  s.custom_input = boost::json::object{};
  EXPECT_EQ(make_payload(s, &num), num);
  EXPECT_EQ(make_payload(s, &in), in);
  EXPECT_EQ(make_payload(s, nullptr), v("{}"));
}

TEST(MakePayload, ByInputType) {
  auto data = parse(R"({"a":1})");
  NextSpec c = spec("/x", InputType::custom);
  EXPECT_EQ(make_payload(c, &data), parse("{}"));
  c.custom_input = parse(R"({"k":1})").as_object();
  EXPECT_EQ(make_payload(c, &data), parse(R"({"k":1})")) << "custom_input alone";
  NextSpec n = spec("/x", InputType::none);
  n.custom_input = parse(R"({"k":1})").as_object();
  EXPECT_TRUE(make_payload(n, &data).is_null());
}

TEST(Expand, EachWithCustomInputMergedIntoEveryChild) {
  // The flagship: Write Comment children get {"blog_id", "parent_id"} merged in.
  Fixture f;
  f.data = parse(R"({"replies":[{"id":10,"message":"a"},{"id":11,"message":"b"}]})");
  NextSpec s = spec("/comments", InputType::each);
  s.input_path = "/replies";
  s.custom_input = parse(R"({"blog_id":7,"parent_id":3})").as_object();
  f.specs = {s};
  auto r = f.run();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(parse((*r)[0].request.body), parse(R"({"id":10,"message":"a","blog_id":7,"parent_id":3})"));
  EXPECT_EQ(parse((*r)[1].request.body), parse(R"({"id":11,"message":"b","blog_id":7,"parent_id":3})"));
}

TEST(Expand, RelativeUrls) {
  Fixture f;
  f.parent.url = "http://h:8080/api/v1/list?page=1";
  struct Case {
    const char* ref;
    const char* want;
  };
  for (const Case& c : {Case{"../x", "http://h:8080/api/x"}, Case{"?page=2", "http://h:8080/api/v1/list?page=2"},
                        Case{"/abs", "http://h:8080/abs"}, Case{"item", "http://h:8080/api/v1/item"},
                        Case{"https://other.example/p", "https://other.example/p"}}) {
    f.specs = {spec(c.ref)};
    auto r = f.run();
    ASSERT_TRUE(r) << c.ref << ": " << r.error().message;
    EXPECT_EQ((*r)[0].request.url, c.want) << c.ref;
  }
}

TEST(Expand, BadUrl) {
  Fixture f;
  f.specs = {spec("/ok"), spec("ftp://files/x")};
  auto r = f.run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "url_invalid");
  EXPECT_EQ(r.error().message, "immediate_next[1] (input_type response): url \"ftp://files/x\": scheme "
                               "\"ftp\" is not supported (http or https only)");
}

TEST(Expand, HeaderInheritanceOverrideAndStripping) {
  Fixture f;
  NextSpec s = spec("/w");
  s.headers = {{"x-tenant", "child"}, {"X-New", "n"}, {"X-Workflow-Attempt", "9"}};
  f.specs = {s};
  auto r = f.run();
  ASSERT_TRUE(r);
  Headers want = {{"Authorization", "Bearer t"}, {"x-tenant", "child"}, {"X-New", "n"}};
  EXPECT_EQ((*r)[0].request.headers, want);
}

TEST(Expand, HeaderErrorsAndLimit) {
  Fixture f;
  NextSpec s = spec("/w");
  s.headers = {{"Bad Name", "v"}};
  f.specs = {s};
  auto r = f.run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "headers_invalid");
  EXPECT_EQ(r.error().message.rfind("immediate_next[0] (input_type response): header \"Bad Name\"", 0), 0u);

  f.limits.max_headers_bytes = 40;
  f.specs[0].headers = {{"X-Big", std::string(30, 'x')}};
  auto l = f.run();
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, "limit_headers");
}

TEST(Expand, GetPayloadBecomesQueryString) {
  Fixture f;
  f.data = parse(R"({"page":2,"q":"a b","on":true})");
  f.specs = {spec("/search?x=1", InputType::response, "GET")};
  auto r = f.run();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0].request.method, "GET");
  EXPECT_EQ((*r)[0].request.url, "http://api.example.com/search?x=1&page=2&q=a%20b&on=true");
  EXPECT_EQ((*r)[0].request.body, "");
}

TEST(Expand, GetHeadDeleteWithoutPayload) {
  Fixture f;
  f.data = parse(R"({"ignored":1})");
  f.specs = {spec("/a", InputType::none, "GET"), spec("/b", InputType::custom, "DELETE"),
             spec("/c", InputType::none, "HEAD")};
  auto r = f.run();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].request.url, "http://api.example.com/a");
  EXPECT_EQ((*r)[1].request.url, "http://api.example.com/b") << "empty object adds nothing";
  for (const auto& t : *r) EXPECT_EQ(t.request.body, "");
}

TEST(Expand, GetCannotCarryNonObjectPayload) {
  Fixture f;
  f.data = parse(R"({"ids":[1,2]})");
  NextSpec s = spec("/g", InputType::response, "GET");
  s.input_path = "/ids";
  f.specs = {s};
  auto r = f.run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "payload_invalid");
  EXPECT_EQ(r.error().message.rfind("immediate_next[0] (input_type response): GET cannot carry a payload "
                                    "of type array",
                                    0),
            0u)
      << r.error().message;
  f.data = parse(R"({"nested":{"a":1}})");
  f.specs = {spec("/g", InputType::response, "GET")};
  auto n = f.run();
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, "payload_invalid");
}

TEST(Expand, PutAndPatchCarryBodies) {
  Fixture f;
  f.data = parse(R"({"a":1})");
  f.specs = {spec("/p", InputType::response, "PUT"), spec("/q", InputType::response, "PATCH")};
  auto r = f.run();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].request.body, R"({"a":1})");
  EXPECT_EQ((*r)[1].request.method, "PATCH");
}

TEST(Expand, FanOutLimitFailsFastAndWhole) {
  Fixture f;
  f.limits.max_fanout = 10;
  boost::json::array items;
  for (int i = 0; i < 6; ++i) items.push_back(i);
  f.data = boost::json::object{{"items", items}};
  NextSpec s = spec("/w", InputType::each);
  s.input_path = "/items";
  f.specs = {s};
  EXPECT_EQ(f.run()->size(), 6u);
  f.specs = {s, s};  // 12 in all
  auto r = f.run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "limit_fanout");
  EXPECT_EQ(r.error().message,
            "immediate_next[1] (input_type each): at least 12 children is over the limit of 10 (max_fanout)");
}

TEST(Expand, TenMillionElementArrayFailsBeforeBuildingPayloads) {
  Fixture f;  // default max_fanout 100,000
  boost::json::array big(10'000'000, boost::json::value(nullptr));
  f.data = boost::json::object{{"items", std::move(big)}};
  NextSpec s = spec("/w", InputType::each);
  s.input_path = "/items";
  f.specs = {s};
  auto r = f.run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "limit_fanout");
}

TEST(Expand, PayloadLimitNothingPartial) {
  Fixture f;
  f.limits.max_payload_bytes = 20;
  f.data = parse(R"({"items":["short","short","this one is much longer than twenty bytes"]})");
  NextSpec s = spec("/w", InputType::each);
  s.input_path = "/items";
  f.specs = {spec("/first", InputType::none), s};
  auto r = f.run();
  ASSERT_FALSE(r) << "no child at all, although the first ones fit";
  EXPECT_EQ(r.error().code, "limit_payload");
  EXPECT_EQ(r.error().message.rfind("immediate_next[1] (input_type each): item 2: payload of", 0), 0u)
      << r.error().message;
  EXPECT_NE(r.error().message.find("max_payload_bytes"), std::string::npos);
}

TEST(Expand, DepthLimit) {
  Fixture f;
  f.limits.max_depth = 10;
  f.depth = 9;
  f.specs = {spec("/w")};
  auto ok = f.run();
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)[0].depth, 10);
  f.depth = 10;
  auto r = f.run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "limit_depth");
  EXPECT_NE(r.error().message.find("max_depth"), std::string::npos);
  // No children: no depth error (the leaf at the limit can still complete).
  f.data = parse(R"({"items":[]})");
  NextSpec e = spec("/w", InputType::each);
  e.input_path = "/items";
  f.specs = {e};
  EXPECT_TRUE(f.run());
}

TEST(Expand, NoSpecsNoChildren) {
  Fixture f;
  auto r = f.run();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

TEST(Expand, NullDataPointerIsNull) {
  Fixture f;
  f.specs = {spec("/w")};
  ExpandInput in;
  in.parent_id = "p";
  in.parent_request = &f.parent;
  in.specs = &f.specs;
  in.limits = &f.limits;
  auto r = expand(in);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].request.body, "");
  in.limits = nullptr;
  EXPECT_FALSE(expand(in));
}

TEST(Expand, Deterministic) {
  Fixture f;
  f.data = parse(R"({"items":[1,2,3]})");
  NextSpec s = spec("/w", InputType::each);
  s.input_path = "/items";
  f.specs = {s};
  auto a = f.run();
  auto b = f.run();
  ASSERT_TRUE(a && b);
  for (std::size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].id, (*b)[i].id);
    EXPECT_EQ((*a)[i].request.body, (*b)[i].request.body);
  }
}

TEST(Expand, HundredThousandChildren) {
  Fixture f;
  boost::json::array items;
  for (int i = 0; i < 100'000; ++i) items.push_back(boost::json::object{{"i", i}});
  f.data = boost::json::object{{"items", std::move(items)}};
  NextSpec s = spec("/w", InputType::each);
  s.input_path = "/items";
  f.specs = {s};
  auto r = f.run();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 100'000u);
  EXPECT_EQ((*r)[99'999].request.body, R"({"i":99999})");
}

}  // namespace
}  // namespace treeflow::core
