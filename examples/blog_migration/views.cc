#include "views.h"

#include <boost/json.hpp>
#include <string>

#include "http_get.h"
#include "warehouse.h"

namespace blog {

namespace json = boost::json;
using treeflow::CompleteData;
using treeflow::InitData;
using treeflow::Request;
using treeflow::Response;

namespace {

Context* g_ctx = nullptr;
Context& ctx() { return *g_ctx; }

// --flaky: answer 503 at the given point of the work when the (task id,
// attempt) hash says so. Direct calls (a person starting the job) never fail.
void maybe_fail(const Request& r, Fault at) {
  if (r.direct || ctx().flaky.decide(r.task_id, r.attempt) != at) return;
  if (at == Fault::before_work) {
    ++ctx().failed_before_work;
    throw treeflow::HttpError(503, "flaky", "simulated failure before the work (--flaky)");
  }
  ++ctx().failed_after_commit;
  throw treeflow::HttpError(503, "flaky", "simulated failure after the commit (--flaky)");
}

std::int64_t query_int(const Request& r, const char* name, std::int64_t dflt) {
  auto v = r.http.query_param(name);
  if (!v) return dflt;
  try {
    std::size_t used = 0;
    long long n = std::stoll(*v, &used);
    if (used == v->size() && n >= 1) return n;
  } catch (const std::exception&) {
  }
  throw treeflow::BadRequest(std::string(name) + " must be a positive integer, got \"" + *v + "\"");
}

// The payload as a JSON object. Parsed here rather than with request.json():
// a blog carries its whole comment tree (79 levels here, each an object in an
// array), deeper than the default nesting limit of a JSON parser.
json::object payload_object(const Request& r) {
  json::value v;
  try {
    v = parse_deep(r.http.body);
  } catch (const std::exception& e) {
    throw treeflow::BadRequest(std::string("the payload is not valid JSON: ") + e.what());
  }
  if (!v.is_object()) throw treeflow::BadRequest("the payload must be a JSON object");
  return std::move(v.get_object());
}

std::int64_t int_field(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it != o.end()) {
    if (auto p = it->value().if_int64()) return *p;
    if (auto q = it->value().if_uint64()) return static_cast<std::int64_t>(*q);
  }
  throw treeflow::BadRequest(std::string("the payload needs an integer \"") + key + "\"");
}

std::string text_field(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string())
    throw treeflow::BadRequest(std::string("the payload needs a string \"") + key + "\"");
  return std::string(it->value().get_string());
}

// The popped "comments" of a blog or comment: the input of the next step.
json::array pop_comments(json::object& o) {
  auto it = o.find("comments");
  if (it == o.end() || it->value().is_null()) return {};
  if (!it->value().is_array()) throw treeflow::BadRequest("\"comments\" must be an array");
  json::array popped = std::move(it->value().get_array());
  o.erase(it);
  return popped;
}

bool succeeded(const Response& response) { return response.status >= 200 && response.status < 300; }

}  // namespace

void set_context(Context* c) { g_ctx = c; }

// ---------------------------------------------------------------- Trigger ---

InitData Trigger::get_workflow_init_data(const Request& request) {
  return treeflow::default_init_data(request);
}

// Fetches one page of blogs from the warehouse and returns it as is:
// {"page", "page_size", "blogs": [...], "next_page"}.
Response Trigger::view(const Request& request) {
  std::int64_t page = query_int(request, "page", 1);
  std::int64_t page_size = query_int(request, "page_size", 50);
  maybe_fail(request, Fault::before_work);

  std::string url = ctx().warehouse_url + "/blogs?page=" + std::to_string(page) +
                    "&page_size=" + std::to_string(page_size);
  HttpResult got;
  try {
    got = http_get(url);
  } catch (const std::exception& e) {
    throw treeflow::HttpError(503, "warehouse_unavailable", e.what());
  }
  if (got.status != 200)
    throw treeflow::HttpError(502, "warehouse_error",
                              "GET " + url + " answered " + std::to_string(got.status));
  json::value data;
  try {
    data = parse_deep(got.body);
  } catch (const std::exception& e) {
    throw treeflow::HttpError(502, "warehouse_error", "GET " + url + ": not JSON: " + e.what());
  }
  if (!data.is_object() || !data.get_object().contains("blogs"))
    throw treeflow::HttpError(502, "warehouse_error",
                              "GET " + url + ": no \"blogs\" in the answer");

  maybe_fail(request, Fault::after_commit);
  return Response::json(std::move(data));
}

CompleteData Trigger::get_workflow_complete_data(const Request& request, const Response& response) {
  CompleteData complete = treeflow::default_complete_data(request, response);
  if (!succeeded(response)) return complete;
  const json::object& page = response.data.get_object();

  // BLOG[] of this page -> one Write Blog per blog, in parallel.
  complete.immediate_next.push_back(treeflow::next("/blogs").each().input_path("/blogs"));

  // Once every blog of this page (and all its comments) is written: the next page.
  if (auto it = page.find("next_page"); it != page.end() && !it->value().is_null()) {
    std::string url = "/trigger?page=" + json::serialize(it->value()) +
                      "&page_size=" + json::serialize(page.at("page_size"));
    complete.sub_task_next.push_back(treeflow::next(url).method("GET").none());
  }
  return complete;
}

// ------------------------------------------------------------- Write Blog ---

InitData WriteBlog::get_workflow_init_data(const Request& request) {
  return treeflow::default_init_data(request);
}

// Inserts the blog and returns its popped comments.
Response WriteBlog::view(const Request& request) {
  json::object blog = payload_object(request);
  BlogRow row{int_field(blog, "id"), text_field(blog, "name"), text_field(blog, "description")};
  json::array comments = pop_comments(blog);
  maybe_fail(request, Fault::before_work);

  if (ctx().db->write_blog(request.task_id, row))
    ++ctx().blogs_written;
  else
    ++ctx().repeats_skipped;  // a retry of a task that already wrote: same answer

  maybe_fail(request, Fault::after_commit);
  return Response::json(std::move(comments));
}

CompleteData WriteBlog::get_workflow_complete_data(const Request& request,
                                                   const Response& response) {
  CompleteData complete = treeflow::default_complete_data(request, response);
  if (!succeeded(response)) return complete;
  std::int64_t blog_id = int_field(payload_object(request), "id");

  // Comment[] -> one Write Comment per top-level comment, told its blog.
  complete.immediate_next.push_back(
      treeflow::next("/comments").each().custom_input({{"blog_id", blog_id}}));
  return complete;
}

// ---------------------------------------------------------- Write Comment ---

InitData WriteComment::get_workflow_init_data(const Request& request) {
  return treeflow::default_init_data(request);
}

// Inserts the comment (its blog_id and parent_id come from the custom_input
// merged into the payload; no parent_id for a top-level comment) and returns
// its popped replies.
Response WriteComment::view(const Request& request) {
  json::object comment = payload_object(request);
  CommentRow row;
  row.id = int_field(comment, "id");
  row.blog_id = int_field(comment, "blog_id");
  if (auto it = comment.find("parent_id"); it != comment.end() && !it->value().is_null())
    row.parent_id = int_field(comment, "parent_id");
  row.message = text_field(comment, "message");
  json::array replies = pop_comments(comment);
  maybe_fail(request, Fault::before_work);

  if (ctx().db->write_comment(request.task_id, row))
    ++ctx().comments_written;
  else
    ++ctx().repeats_skipped;

  maybe_fail(request, Fault::after_commit);
  return Response::json(std::move(replies));
}

CompleteData WriteComment::get_workflow_complete_data(const Request& request,
                                                      const Response& response) {
  CompleteData complete = treeflow::default_complete_data(request, response);
  if (!succeeded(response)) return complete;
  json::object comment = payload_object(request);
  std::int64_t blog_id = int_field(comment, "blog_id");
  std::int64_t comment_id = int_field(comment, "id");

  // Nested Comment[] -> Write Comment again, one level deeper (any depth).
  complete.immediate_next.push_back(
      treeflow::next("/comments")
          .each()
          .custom_input({{"blog_id", blog_id}, {"parent_id", comment_id}}));
  return complete;
}

// ------------------------------------------------------------------ stats ---

treeflow::HttpResponse stats(const treeflow::HttpRequest&) {
  json::object o;
  o["blogs_written"] = ctx().blogs_written.load();
  o["comments_written"] = ctx().comments_written.load();
  o["repeats_skipped"] = ctx().repeats_skipped.load();
  o["failed_before_work"] = ctx().failed_before_work.load();
  o["failed_after_commit"] = ctx().failed_after_commit.load();
  treeflow::HttpResponse res;
  res.headers.emplace_back("Content-Type", "application/json");
  res.body = json::serialize(o);
  return res;
}

}  // namespace blog
