#include "core/url.h"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace treeflow::core {
namespace {

const Limits kLimits;

std::string resolved(std::string_view base, std::string_view ref) {
  auto r = resolve_url(base, ref, kLimits);
  return r ? *r : "ERROR " + r.error().code + ": " + r.error().message;
}

TEST(ResolveUrl, RelativeForms) {
  const char* base = "http://api.example.com/v1/blogs/list?page=1";
  EXPECT_EQ(resolved(base, "/comments"), "http://api.example.com/comments");
  EXPECT_EQ(resolved(base, "write"), "http://api.example.com/v1/blogs/write");
  EXPECT_EQ(resolved(base, "../x"), "http://api.example.com/v1/x");
  EXPECT_EQ(resolved(base, "../../../../x"), "http://api.example.com/x");
  EXPECT_EQ(resolved(base, "?page=2"), "http://api.example.com/v1/blogs/list?page=2");
  EXPECT_EQ(resolved(base, "./"), "http://api.example.com/v1/blogs/");
  EXPECT_EQ(resolved(base, "//other.example.org/p"), "http://other.example.org/p");
  EXPECT_EQ(resolved(base, "https://secure.example.com/a?b=c"), "https://secure.example.com/a?b=c");
}

TEST(ResolveUrl, Rfc3986NormalExamples) {
  // RFC 3986 section 5.4.1 (base http://a/b/c/d;p?q).
  const char* base = "http://a/b/c/d;p?q";
  EXPECT_EQ(resolved(base, "g"), "http://a/b/c/g");
  EXPECT_EQ(resolved(base, "./g"), "http://a/b/c/g");
  EXPECT_EQ(resolved(base, "g/"), "http://a/b/c/g/");
  EXPECT_EQ(resolved(base, "/g"), "http://a/g");
  EXPECT_EQ(resolved(base, "//g"), "http://g");
  EXPECT_EQ(resolved(base, "?y"), "http://a/b/c/d;p?y");
  EXPECT_EQ(resolved(base, "g?y"), "http://a/b/c/g?y");
  EXPECT_EQ(resolved(base, ".."), "http://a/b/");
  EXPECT_EQ(resolved(base, "../g"), "http://a/b/g");
  EXPECT_EQ(resolved(base, "../.."), "http://a/");
  EXPECT_EQ(resolved(base, "../../g"), "http://a/g");
  EXPECT_EQ(resolved(base, "../../../g"), "http://a/g");
  EXPECT_EQ(resolved(base, "/./g"), "http://a/g");
  EXPECT_EQ(resolved(base, "/../g"), "http://a/g");
  EXPECT_EQ(resolved(base, "g."), "http://a/b/c/g.");
  EXPECT_EQ(resolved(base, ".g"), "http://a/b/c/.g");
  EXPECT_EQ(resolved(base, "g.."), "http://a/b/c/g..");
  EXPECT_EQ(resolved(base, "./../g"), "http://a/b/g");
  EXPECT_EQ(resolved(base, "./g/."), "http://a/b/c/g/");
  EXPECT_EQ(resolved(base, "g/./h"), "http://a/b/c/g/h");
  EXPECT_EQ(resolved(base, "g/../h"), "http://a/b/c/h");
}

TEST(ResolveUrl, ErrorsNameTheUrl) {
  auto r = resolve_url("http://a/b", "ftp://x/", kLimits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "url_invalid");
  EXPECT_EQ(r.error().message, "url \"ftp://x/\": scheme \"ftp\" is not supported (http or https only)");
  auto e = resolve_url("http://a/b", "", kLimits);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, "url_invalid");
  auto sp = resolve_url("http://a/b", "/a b", kLimits);
  ASSERT_FALSE(sp);
  EXPECT_EQ(sp.error().code, "url_invalid");
  auto badbase = resolve_url("not a url", "/x", kLimits);
  ASSERT_FALSE(badbase);
  EXPECT_EQ(badbase.error().code, "url_invalid");
  // An absolute ref needs no base at all.
  EXPECT_EQ(resolved("", "http://h/x"), "http://h/x");
}

TEST(ResolveUrl, LengthLimit) {
  Limits small;
  small.max_url_bytes = 30;
  EXPECT_TRUE(resolve_url("http://h/", "/abc", small));
  auto r = resolve_url("http://h/", "/" + std::string(40, 'a'), small);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "limit_url");
  EXPECT_NE(r.error().message.find("max_url_bytes"), std::string::npos);
}

TEST(ValidateTargetUrl, AcceptsHttpAndHttps) {
  for (const char* ok : {"http://h", "http://h/", "https://example.com:8443/a/b?c=d",
                         "HTTP://Example.COM/x", "http://127.0.0.1:8080/x", "http://[::1]:9/x",
                         "http://user:pw@h/x"}) {
    auto r = validate_target_url(ok, kLimits);
    EXPECT_TRUE(r) << ok << ": " << r.error().message;
    if (r) {
      EXPECT_EQ(*r, ok);
    }
  }
}

TEST(ValidateTargetUrl, Rejects) {
  struct Case {
    const char* url;
    const char* fragment;
  };
  for (const Case& c : {Case{"ftp://x/", "scheme \"ftp\" is not supported (http or https only)"},
                        Case{"x.com", "not an absolute URL"},
                        Case{"/relative", "not an absolute URL"},
                        Case{"", "is empty"},
                        Case{"http:///x", "missing host"},
                        Case{"http:/x", "missing host"},
                        Case{"mailto:a@b", "scheme \"mailto\""},
                        Case{"http://h:99999/", "invalid port"},
                        Case{"http://h:0/", "invalid port"},
                        Case{"http://a b/", "not a valid URL"}}) {
    auto r = validate_target_url(c.url, kLimits);
    ASSERT_FALSE(r) << c.url;
    EXPECT_EQ(r.error().code, "url_invalid") << c.url;
    EXPECT_NE(r.error().message.find(c.fragment), std::string::npos)
        << c.url << " -> " << r.error().message;
    EXPECT_EQ(r.error().message.rfind("url \"", 0), 0u) << r.error().message;
  }
  auto ftp = validate_target_url("ftp://x/", kLimits);
  EXPECT_EQ(ftp.error().message, "url \"ftp://x/\": scheme \"ftp\" is not supported (http or https only)");
}

boost::json::object obj(std::string_view json) { return boost::json::parse(json).as_object(); }

TEST(AppendQuery, Scalars) {
  auto r = append_query("http://h/p", obj(R"({"a":"x y","n":5,"f":1.5,"t":true,"b":false,"z":null})"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "http://h/p?a=x%20y&n=5&f=1.5&t=true&b=false&z=");
}

TEST(AppendQuery, PercentEncodesKeysAndValues) {
  auto r = append_query("http://h/p", obj(R"({"k&=?":"a+b&c=d/é#"})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "http://h/p?k%26%3D%3F=a%2Bb%26c%3Dd%2F%C3%A9%23");
}

TEST(AppendQuery, KeepsExistingQueryAndFragment) {
  EXPECT_EQ(*append_query("http://h/p?x=1", obj(R"({"y":2})")), "http://h/p?x=1&y=2");
  EXPECT_EQ(*append_query("http://h/p#frag", obj(R"({"y":2})")), "http://h/p?y=2#frag");
  EXPECT_EQ(*append_query("http://h/p?", obj(R"({"y":2})")), "http://h/p?y=2");
}

TEST(AppendQuery, EmptyObjectAddsNothing) {
  EXPECT_EQ(*append_query("http://h/p?x=1", boost::json::object{}), "http://h/p?x=1");
}

TEST(AppendQuery, NumbersKeepTheirValue) {
  auto r = append_query("http://h/", obj(R"({"i":-12,"u":18446744073709551615,"d":0.25,"e":1e21})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "http://h/?i=-12&u=18446744073709551615&d=0.25&e=1e%2B21");
}

TEST(AppendQuery, RejectsNested) {
  for (const char* j : {R"({"a":[1,2]})", R"({"ok":1,"a":{"b":1}})"}) {
    auto r = append_query("http://h/", obj(j));
    ASSERT_FALSE(r) << j;
    EXPECT_EQ(r.error().code, "payload_invalid");
    EXPECT_NE(r.error().message.find("query parameter \"a\""), std::string::npos) << r.error().message;
  }
}

TEST(Headers, ValidHeaders) {
  Headers h = {{"X-Tenant", "a"}, {"Content-Type", "application/json"}, {"X-Utf8", "héllo wörld"},
               {"X-Empty", ""}, {"!#$%&'*+-.^_`|~", "v"}};
  EXPECT_TRUE(validate_headers(h, kLimits));
}

TEST(Headers, InvalidNamesAndValues) {
  struct Case {
    Headers h;
    const char* fragment;
  };
  for (const auto& c : {Case{{{"Bad Name", "v"}}, "header \"Bad Name\""},
                        Case{{{"Bad:Name", "v"}}, "header \"Bad:Name\""},
                        Case{{{"", "v"}}, "empty name"},
                        Case{{{"X-A", "line\r\nInjected: 1"}}, "header \"X-A\": the value contains CR"},
                        Case{{{"X-A", "a\nb"}}, "header \"X-A\""},
                        Case{{{"X-A", std::string("a\0b", 3)}}, "header \"X-A\""},
                        Case{{{"Nämé", "v"}}, "header \"N"}}) {
    auto r = validate_headers(c.h, kLimits);
    ASSERT_FALSE(r) << c.fragment;
    EXPECT_EQ(r.error().code, "headers_invalid");
    EXPECT_NE(r.error().message.find(c.fragment), std::string::npos) << r.error().message;
  }
}

TEST(Headers, SizeLimitCountsNameValueAndFour) {
  Limits l;
  l.max_headers_bytes = 20;
  EXPECT_TRUE(validate_headers({{"abcd", "0123456789ab"}}, l));   // 4 + 12 + 4 = 20
  auto r = validate_headers({{"abcd", "0123456789abc"}}, l);     // 21
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "limit_headers");
  EXPECT_NE(r.error().message.find("max_headers_bytes"), std::string::npos);
  EXPECT_FALSE(validate_headers({{"a", "1234567"}, {"b", "1234"}}, l));  // 12 + 9 = 21
}

TEST(Headers, StripEngineHeaders) {
  Headers in = {{"X-Workflow-Task-Id", "t"}, {"x-workflow-anything", "1"}, {"X-WORKFLOW-RUN-ID", "r"},
                {"Idempotency-Key", "k"},     {"traceparent", "00-..."},   {"Host", "h"},
                {"Content-Length", "5"},      {"Connection", "close"},     {"Transfer-Encoding", "x"},
                {"Keep-Alive", "5"},          {"Upgrade", "h2"},           {"TE", "trailers"},
                {"Trailer", "x"},             {"Proxy-Connection", "x"},   {"X-Tenant", "a"},
                {"Authorization", "Bearer s"}, {"X-Workflowish", "kept"},  {"Content-Type", "text/plain"}};
  Headers out = strip_engine_headers(in);
  Headers expected = {{"X-Tenant", "a"}, {"Authorization", "Bearer s"}, {"X-Workflowish", "kept"},
                      {"Content-Type", "text/plain"}};
  EXPECT_EQ(out, expected);
}

TEST(Headers, Masked) {
  Headers in = {{"Authorization", "Bearer secret"}, {"proxy-authorization", "x"}, {"COOKIE", "c"},
                {"Set-Cookie", "s"}, {"X-Api-Key", "k"}, {"X-Workflow-Signature", "t=1,v1=ab"},
                {"X-Tenant", "a"}, {"Accept", "*/*"}};
  Headers out = masked(in);
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(out[i].first, in[i].first);
    EXPECT_EQ(out[i].second, "***") << in[i].first;
  }
  EXPECT_EQ(out[6].second, "a");
  EXPECT_EQ(out[7].second, "*/*");
}

}  // namespace
}  // namespace treeflow::core
