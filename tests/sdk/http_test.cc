// HttpRequest helpers and Request::json().
#include <gtest/gtest.h>

#include "treeflow/http.h"
#include "treeflow/workflow.h"

namespace {

using treeflow::HttpRequest;

TEST(HttpRequest, HeaderLookupIsCaseInsensitive) {
  HttpRequest r;
  r.headers = {{"Content-Type", "application/json"}, {"X-Thing", "a"}, {"x-thing", "b"}};
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("X-THING"), "a");
  EXPECT_EQ(r.header("missing"), "");
}

TEST(HttpRequest, PathAndQuery) {
  HttpRequest r;
  r.target = "/blogs?page=2&q=a%20b+c&flag&e=%zz#frag";
  EXPECT_EQ(r.path(), "/blogs");
  EXPECT_EQ(r.query(), "page=2&q=a%20b+c&flag&e=%zz");
  EXPECT_EQ(r.query_param("page"), "2");
  EXPECT_EQ(r.query_param("q"), "a b c");
  EXPECT_EQ(r.query_param("flag"), "");
  EXPECT_EQ(r.query_param("e"), "%zz");
  EXPECT_FALSE(r.query_param("nope").has_value());
  HttpRequest plain;
  plain.target = "/x";
  EXPECT_EQ(plain.path(), "/x");
  EXPECT_EQ(plain.query(), "");
  EXPECT_FALSE(plain.query_param("x"));
}

TEST(HttpResponse, HeaderLookup) {
  treeflow::HttpResponse r;
  r.headers = {{"X-Workflow-Envelope", "1"}};
  EXPECT_EQ(r.header("x-workflow-envelope"), "1");
}

TEST(Request, JsonParsesAndCaches) {
  treeflow::Request r;
  r.http.body = R"({"a": [1, 2]})";
  const auto& v = r.json();
  EXPECT_EQ(v.at("a").as_array().size(), 2u);
  EXPECT_EQ(&v, &r.json());
}

TEST(Request, EmptyBodyIsNull) {
  treeflow::Request r;
  EXPECT_TRUE(r.json().is_null());
  r.http.body = "  \n";
  treeflow::Request r2;
  r2.http.body = " \n";
  EXPECT_TRUE(r2.json().is_null());
}

TEST(Request, DeeplyNestedJsonIsAccepted) {
  // Nested comment trees go far beyond Boost.JSON's default depth of 32.
  treeflow::Request r;
  for (int i = 0; i < 500; ++i) r.http.body += R"({"comments": [)";
  for (int i = 0; i < 500; ++i) r.http.body += "]}";
  EXPECT_TRUE(r.json().is_object());
  treeflow::Request get;
  get.http.method = "POST";
  get.http.body = r.http.body;
  EXPECT_TRUE(treeflow::default_init_data(get).request.payload.is_object());
}

TEST(Request, BadJsonThrowsBadRequestWithOffset) {
  treeflow::Request r;
  r.http.body = R"({"a": tru})";
  try {
    r.json();
    FAIL() << "no throw";
  } catch (const treeflow::BadRequest& e) {
    EXPECT_EQ(e.status, 400);
    std::string m = e.message;
    EXPECT_EQ(m.rfind("request body is not valid JSON: ", 0), 0u) << m;
    EXPECT_NE(m.find(" at offset "), std::string::npos) << m;
  }
  treeflow::Request trailing;
  trailing.http.body = R"({"a": 1} x)";
  EXPECT_THROW(trailing.json(), treeflow::BadRequest);
  treeflow::Request truncated;
  truncated.http.body = R"({"a": )";
  EXPECT_THROW(truncated.json(), treeflow::BadRequest);
}

}  // namespace
