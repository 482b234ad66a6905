#include "core/envelope.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace treeflow::core {
namespace {

const Limits kLimits;

Error expect_error(std::string_view body, std::string_view code, const Limits& limits = kLimits) {
  auto r = parse_envelope(body, limits);
  EXPECT_FALSE(r) << body;
  if (r) return {};
  EXPECT_EQ(r.error().code, code) << body << " -> " << r.error().message;
  return r.error();
}

void expect_message(std::string_view body, std::string_view code, std::string_view message) {
  Error e = expect_error(body, code);
  EXPECT_EQ(e.message, message) << body;
}

TEST(Envelope, Minimal) {
  auto r = parse_envelope(R"({"response":{"data":null}})", kLimits);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, "");
  EXPECT_EQ(r->status_code, 200);
  EXPECT_TRUE(r->data.is_null());
  EXPECT_TRUE(r->immediate_next.empty());
  EXPECT_TRUE(r->sub_task_next.empty());
}

TEST(Envelope, Full) {
  auto r = parse_envelope(R"({
    "id": "abc123",
    "response": {"status_code": 201, "headers": {"X-A": "1", "Content-Type": "application/json"},
                 "data": {"items": [1, 2, 3], "next": 2}},
    "immediate_next": [
      {"url": "/blogs", "method": "post", "input_type": "each", "input_path": "/items",
       "custom_input": {"source": "warehouse"}, "headers": {"X-Tenant": "a"},
       "queue": "writes", "on_failure": "continue"},
      {"url": "https://other/x"}
    ],
    "sub_task_next": [
      {"url": "?page=2", "method": "GET", "input_type": "none"},
      {"url": "/report", "input_type": "children"}
    ]})",
                          kLimits);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, "abc123");
  EXPECT_EQ(r->status_code, 201);
  ASSERT_EQ(r->response_headers.size(), 2u);
  EXPECT_EQ(r->response_headers[0], (std::pair<std::string, std::string>{"X-A", "1"}));
  EXPECT_EQ(r->data.at("next"), 2);
  ASSERT_EQ(r->immediate_next.size(), 2u);
  const NextSpec& s = r->immediate_next[0];
  EXPECT_EQ(s.url, "/blogs");
  EXPECT_EQ(s.method, "POST");
  EXPECT_EQ(s.input_type, InputType::each);
  EXPECT_EQ(s.input_path, "/items");
  ASSERT_TRUE(s.custom_input);
  EXPECT_EQ(s.custom_input->at("source"), "warehouse");
  ASSERT_EQ(s.headers.size(), 1u);
  EXPECT_EQ(s.headers[0].first, "X-Tenant");
  EXPECT_EQ(s.queue, "writes");
  EXPECT_EQ(s.on_failure, OnFailure::proceed);
  const NextSpec& d = r->immediate_next[1];
  EXPECT_EQ(d.method, "POST");
  EXPECT_EQ(d.input_type, InputType::response);
  EXPECT_EQ(d.input_path, "");
  EXPECT_FALSE(d.custom_input);
  EXPECT_EQ(d.queue, "");
  EXPECT_EQ(d.on_failure, OnFailure::fail);
  ASSERT_EQ(r->sub_task_next.size(), 2u);
  EXPECT_EQ(r->sub_task_next[0].method, "GET");
  EXPECT_EQ(r->sub_task_next[0].input_type, InputType::none);
  EXPECT_EQ(r->sub_task_next[1].input_type, InputType::children);
}

TEST(Envelope, NullListsAreEmptyAndAnyDataIsAccepted) {
  for (const char* data : {"null", "0", "\"s\"", "[1,[2]]", "{}", "true", "-1.5e3"}) {
    std::string body = std::string(R"({"response":{"data":)") + data +
                       R"(},"immediate_next":null,"sub_task_next":[]})";
    auto r = parse_envelope(body, kLimits);
    ASSERT_TRUE(r) << body;
    EXPECT_EQ(boost::json::serialize(r->data), boost::json::serialize(boost::json::parse(data)));
  }
}

TEST(Envelope, UnknownTopLevelAndResponseFieldsAreIgnored) {
  // Forward compatibility with newer SDKs; spec fields are strict instead.
  auto r = parse_envelope(R"({"response":{"data":1,"extra":2},"sdk":"django/1.0"})", kLimits);
  EXPECT_TRUE(r);
}

TEST(Envelope, DeeplyNestedDataParses) {
  std::string data;
  for (int i = 0; i < 2000; ++i) data += R"({"replies":[)";
  data += "1";
  for (int i = 0; i < 2000; ++i) data += "]}";
  auto r = parse_envelope(R"({"response":{"data":)" + data + "}}", kLimits);
  ASSERT_TRUE(r) << r.error().message;
}

TEST(Envelope, MalformedJson) {
  expect_error("", "envelope_invalid");
  expect_error(R"({"response":{"data":)", "envelope_invalid");  // truncated
  expect_error(R"({"response":{"data":1}} trailing)", "envelope_invalid");
  expect_error("{'response': 1}", "envelope_invalid");
  Error e = expect_error(R"({"response":{"data":[1,2)", "envelope_invalid");
  EXPECT_EQ(e.message.rfind("not valid JSON", 0), 0u) << e.message;
}

TEST(Envelope, NotAnObject) {
  expect_message("[]", "envelope_invalid", "expected a JSON object, got array");
  expect_message("\"x\"", "envelope_invalid", "expected a JSON object, got string");
  expect_message("null", "envelope_invalid", "expected a JSON object, got null");
  expect_message("42", "envelope_invalid", "expected a JSON object, got number");
}

TEST(Envelope, ShapeErrors) {
  expect_message("{}", "envelope_invalid", "response: missing");
  expect_message(R"({"response":[]})", "envelope_invalid", "response: expected an object, got array");
  expect_message(R"({"response":{}})", "envelope_invalid", "response.data: missing");
  expect_message(R"({"id":5,"response":{"data":1}})", "envelope_invalid",
                 "id: expected a string, got number");
  expect_message(R"({"response":{"data":1,"status_code":"200"}})", "envelope_invalid",
                 "response.status_code: expected an integer, got string");
  expect_message(R"({"response":{"data":1,"status_code":2.5}})", "envelope_invalid",
                 "response.status_code: expected an integer, got number");
  expect_message(R"({"response":{"data":1,"status_code":99}})", "envelope_invalid",
                 "response.status_code: 99 is not an HTTP status (100 to 599)");
  expect_message(R"({"response":{"data":1,"headers":[]}})", "envelope_invalid",
                 "response.headers: expected an object of strings, got array");
  expect_message(R"({"response":{"data":1,"headers":{"X-N":5}}})", "envelope_invalid",
                 "response.headers.X-N: expected a string, got number");
}

TEST(Envelope, ListErrors) {
  expect_message(R"({"response":{"data":1},"sub_task_next":{}})", "spec_invalid",
                 "sub_task_next: expected an array, got object");
  expect_message(R"({"response":{"data":1},"immediate_next":"x"})", "spec_invalid",
                 "immediate_next: expected an array, got string");
  expect_message(R"({"response":{"data":1},"immediate_next":[1]})", "spec_invalid",
                 "immediate_next[0]: expected an object, got number");
}

std::string with_spec(std::string_view list, std::string_view spec) {
  return std::string(R"({"response":{"data":{}},")") + std::string(list) + R"(":[{"url":"/ok"},{"url":"/ok"},)" +
         std::string(spec) + "]}";
}

TEST(Envelope, SpecErrorsNameTheField) {
  expect_message(with_spec("immediate_next", R"({"url":"/x","input_type":"eachh"})"), "spec_invalid",
                 "immediate_next[2].input_type: unknown input type \"eachh\" (expected response, "
                 "each, custom, none or children)");
  expect_message(with_spec("immediate_next", R"({"method":"GET"})"), "spec_invalid",
                 "immediate_next[2].url: missing");
  expect_message(with_spec("immediate_next", R"({"url":""})"), "spec_invalid",
                 "immediate_next[2].url: must not be empty");
  expect_message(with_spec("immediate_next", R"({"url":7})"), "spec_invalid",
                 "immediate_next[2].url: expected a string, got number");
  expect_message(with_spec("sub_task_next", R"({"url":"/x","method":"FETCH"})"), "spec_invalid",
                 "sub_task_next[2].method: unknown method \"FETCH\" (expected GET, POST, PUT, PATCH, "
                 "DELETE or HEAD)");
  expect_message(with_spec("immediate_next", R"({"url":"/x","custom_input":[1]})"), "spec_invalid",
                 "immediate_next[2].custom_input: expected an object, got array");
  expect_message(with_spec("immediate_next", R"({"url":"/x","custom_input":"s"})"), "spec_invalid",
                 "immediate_next[2].custom_input: expected an object, got string");
  expect_message(with_spec("immediate_next", R"({"url":"/x","on_failure":"ignore"})"), "spec_invalid",
                 "immediate_next[2].on_failure: unknown value \"ignore\" (expected fail or continue)");
  expect_message(with_spec("immediate_next", R"({"url":"/x","queue":"bad name"})"), "spec_invalid",
                 "immediate_next[2].queue: \"bad name\" is not a valid queue name (letters, digits, "
                 "'-' and '_', 1 to 500 characters)");
  expect_message(with_spec("immediate_next", R"({"url":"/x","input_path":"items"})"), "spec_invalid",
                 "immediate_next[2].input_path: \"items\" is not a JSON Pointer (expected \"\" or a "
                 "path such as \"/items\")");
  expect_message(with_spec("immediate_next", R"({"url":"/x","input_path":"/a~2"})"), "spec_invalid",
                 "immediate_next[2].input_path: \"/a~2\" is not a JSON Pointer (expected \"\" or a "
                 "path such as \"/items\")");
  expect_message(with_spec("immediate_next", R"({"url":"/x","headers":{"X-A":1}})"), "spec_invalid",
                 "immediate_next[2].headers.X-A: expected a string, got number");
  expect_message(with_spec("immediate_next", R"({"url":"/x","headers":{"X-A":"a\r\nB: c"}})"),
                 "spec_invalid", "immediate_next[2].headers.X-A: CR, LF or NUL in a header");
  expect_message(with_spec("immediate_next", R"({"url":"/x","headers":"X-A: 1"})"), "spec_invalid",
                 "immediate_next[2].headers: expected an object of strings, got string");
  expect_message(with_spec("immediate_next", R"({"url":"/x","input_tpye":"each"})"), "spec_invalid",
                 "immediate_next[2].input_tpye: unknown field (expected url, method, input_type, "
                 "input_path, custom_input, headers, queue or on_failure)");
  expect_message(with_spec("immediate_next", R"({"url":"/x","method":1})"), "spec_invalid",
                 "immediate_next[2].method: expected a string, got number");
}

TEST(Envelope, ChildrenOnlyInSubTaskNext) {
  Error e = expect_error(with_spec("immediate_next", R"({"url":"/x","input_type":"children"})"),
                         "spec_invalid");
  EXPECT_EQ(e.message.rfind("immediate_next[2].input_type: \"children\" is only allowed in sub_task_next", 0),
            0u)
      << e.message;
  EXPECT_TRUE(parse_envelope(with_spec("sub_task_next", R"({"url":"/x","input_type":"children"})"),
                             kLimits));
}

TEST(Envelope, MethodsAndNullOptionals) {
  for (const char* m : {"get", "Post", "PUT", "patch", "DELETE", "head"}) {
    boost::json::value v = boost::json::parse(std::string(R"({"url":"/x","method":")") + m + "\"}");
    auto s = parse_spec(v, "s", false);
    ASSERT_TRUE(s) << m;
    std::string upper(m);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(s->method, upper);
  }
  auto s = parse_spec(boost::json::parse(R"({"url":"/x","method":null,"input_type":null,
      "input_path":null,"custom_input":null,"headers":null,"queue":null,"on_failure":null})"),
                      "s", false);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->method, "POST");
  EXPECT_FALSE(s->custom_input);
}

TEST(Envelope, SpecLimit) {
  Limits l;
  l.max_specs = 2;
  EXPECT_TRUE(parse_envelope(R"({"response":{"data":1},"immediate_next":[{"url":"/a"},{"url":"/b"}]})", l));
  Error e = expect_error(
      R"({"response":{"data":1},"immediate_next":[{"url":"/a"},{"url":"/b"},{"url":"/c"}]})",
      "limit_specs", l);
  EXPECT_EQ(e.message, "immediate_next: 3 specs is over the limit of 2 (max_specs)");
  expect_error(R"({"response":{"data":1},"sub_task_next":[{"url":"/a"},{"url":"/b"},{"url":"/c"}]})",
               "limit_specs", l);
}

TEST(Envelope, ResponseSizeLimit) {
  Limits l;
  l.max_response_bytes = 30;
  EXPECT_TRUE(parse_envelope(R"({"response":{"data":1}})", l));
  expect_error(R"({"response":{"data":"0123456789abcdef"}})", "limit_response", l);
}

TEST(Envelope, ParseSpecsDirectly) {
  auto none = parse_specs(boost::json::value(nullptr), "sub_task_next", true, kLimits);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto bad = parse_specs(boost::json::parse("[{}]"), "x", true, kLimits);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "x[0].url: missing");
}

TEST(Envelope, SpecRoundTrip) {
  const char* json = R"([
    {"url":"/blogs","method":"PATCH","input_type":"each","input_path":"/items/0/a~1b",
     "custom_input":{"k":{"n":[1]}},"headers":{"X-Tenant":"a","X-B":"b"},"queue":"q1",
     "on_failure":"continue"},
    {"url":"http://h/x"},
    {"url":"/r","input_type":"children","custom_input":{}}])";
  auto specs = parse_specs(boost::json::parse(json), "sub_task_next", true, kLimits);
  ASSERT_TRUE(specs) << specs.error().message;
  boost::json::value stored = to_json(*specs);
  auto again = parse_specs(boost::json::parse(boost::json::serialize(stored)), "sub_task_next", true,
                           kLimits);
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_EQ(again->size(), 3u);
  EXPECT_EQ(boost::json::serialize(to_json(*again)), boost::json::serialize(stored));
  const NextSpec& a = (*again)[0];
  EXPECT_EQ(a.method, "PATCH");
  EXPECT_EQ(a.input_path, "/items/0/a~1b");
  EXPECT_EQ(a.headers.size(), 2u);
  EXPECT_EQ(a.on_failure, OnFailure::proceed);
  EXPECT_EQ(a.queue, "q1");
  EXPECT_TRUE((*again)[2].custom_input.has_value()) << "an empty custom_input survives";
  EXPECT_EQ(stored.as_array()[1].at("on_failure"), "fail");
  EXPECT_EQ(stored.as_array()[1].at("input_type"), "response");
}

TEST(LeafData, Forms) {
  EXPECT_TRUE(leaf_data("").is_null());
  EXPECT_EQ(leaf_data(R"({"a":1})").at("a"), 1);
  EXPECT_EQ(leaf_data("[1,2]").as_array().size(), 2u);
  EXPECT_EQ(leaf_data("42"), 42);
  EXPECT_EQ(leaf_data("\"s\""), "s");
  EXPECT_EQ(leaf_data("hello world"), "hello world");
  EXPECT_EQ(leaf_data("{\"truncated\":"), "{\"truncated\":");
  EXPECT_EQ(leaf_data("<html></html>"), "<html></html>");
}

TEST(Names, RoundTrips) {
  for (int i = 0; i < kTaskStateCount; ++i) {
    auto s = static_cast<TaskState>(i);
    EXPECT_EQ(task_state_from_string(to_string(s)), s);
  }
  EXPECT_EQ(to_string(TaskState::waiting), "waiting");
  EXPECT_FALSE(task_state_from_string("Waiting"));
  EXPECT_FALSE(task_state_from_string(""));
  for (auto r : {RunState::running, RunState::completed, RunState::failed, RunState::cancelled}) {
    EXPECT_EQ(run_state_from_string(to_string(r)), r);
  }
  EXPECT_FALSE(run_state_from_string("pending"));
  for (auto t : {InputType::response, InputType::each, InputType::custom, InputType::none,
                 InputType::children}) {
    EXPECT_EQ(input_type_from_string(to_string(t)), t);
  }
  EXPECT_EQ(to_string(InputType::children), "children");
  EXPECT_FALSE(input_type_from_string("eachh"));
  EXPECT_EQ(to_string(OnFailure::proceed), "continue");
  EXPECT_EQ(to_string(OnFailure::fail), "fail");
  EXPECT_EQ(on_failure_from_string("continue"), OnFailure::proceed);
  EXPECT_FALSE(on_failure_from_string("proceed"));
  EXPECT_EQ(to_string(Phase::sub), "sub");
}

}  // namespace
}  // namespace treeflow::core

// Boost.JSON reads 1e999999 as infinity but cannot read its own output for
// it back, so a stored response or sub spec holding one would be lost.
TEST(ParseJson, RejectsNumbersThatOverflowToInfinity) {
  boost::system::error_code ec;
  auto v = treeflow::core::parse_json(R"({"a": [1, 2.5e999999]})", ec);
  EXPECT_TRUE(ec);
  ec = {};
  v = treeflow::core::parse_json(R"({"a": [1, 2.5e300]})", ec);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(treeflow::core::leaf_data("1e999999").is_string());
  auto env = treeflow::core::parse_envelope(
      R"({"response": {"data": 1}, "sub_task_next": [{"url": "/x", "input_type": "custom",
          "custom_input": {"n": 2.4e5206812}}]})",
      treeflow::core::Limits{});
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.error().message.find("not valid JSON"), std::string::npos) << env.error().message;
}
