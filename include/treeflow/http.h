// HTTP request and response types of the treeflow endpoint SDK.
// Plain values, no networking: the same types serve the built-in server
// (server.h), the framework-neutral entry point (App::handle) and tests.
//
// Thread-safety: these are ordinary value types. Distinct objects may be used
// from distinct threads; one object needs external synchronization when any
// thread modifies it (Request::json() counts as a modification: it caches).
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

namespace treeflow {

// Header fields in arrival order, as (name, value) pairs. Names keep the
// spelling they arrived with; every lookup in the SDK is case-insensitive.
// A name may appear more than once.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One incoming HTTP request, as the server received it.
struct HttpRequest {
  std::string method;      // "GET", "POST", ... (upper-case)
  std::string target;      // path and query, e.g. "/blogs?page=2"
  HeaderList headers;
  std::string body;

  // Value of the first header called `name` (compared case-insensitively);
  // empty when absent. The view points into `headers`: it is valid while
  // this request is alive and its headers are not modified.
  std::string_view header(std::string_view name) const;
  // `target` without the query ("/blogs" for "/blogs?page=2"), not decoded.
  // Points into `target`.
  std::string_view path() const;
  // The part of `target` after the first '?', without it (and without any
  // "#fragment"); empty when there is none. Not decoded. Points into `target`.
  std::string_view query() const;
  // Percent-decoded value of the first query parameter called `name`
  // (case-sensitive; '+' decodes to a space). A parameter present without a
  // value ("?flag") gives "". std::nullopt when absent.
  std::optional<std::string> query_param(std::string_view name) const;
};

// One HTTP answer on the wire. App::handle() always fills Content-Type.
struct HttpResponse {
  int status = 200;
  HeaderList headers;
  std::string body;
  // Case-insensitive lookup; empty when absent. Points into `headers`.
  std::string_view header(std::string_view name) const;
};

// What a view sees: the HTTP request plus the workflow context the middleware
// read from the X-Workflow-* headers (or registered for a direct call).
//
// The middleware creates one Request per call and passes it by const
// reference to get_workflow_init_data, the view and get_workflow_complete_data
// in turn; it lives until the answer is built. Do not keep references to it.
struct Request {
  HttpRequest http;
  // The task id. Set for every engine-dispatched call. On a direct call it
  // is "" while get_workflow_init_data runs (the engine has not assigned one
  // yet) and the registered root task's id in the view and the complete hook.
  std::string task_id;
  std::string run_id;          // "" only in the init hook of a direct call
  std::string parent_task_id;  // empty for a root task
  int attempt = 1;             // X-Workflow-Attempt: 1, 2, 3, ...
  bool direct = false;         // true when a person or cron called the endpoint
  // (Addition.) Options::public_base_url of the App that handles the call
  // ("" when unset); default_init_data() uses it to build the absolute URL.
  std::string base_url;

  // The body parsed as JSON; null for an empty (or all-whitespace) body.
  // Parsed on first use and cached: the reference stays valid as long as this
  // Request. Throws BadRequest (which the middleware answers with 400) with
  // the message "request body is not valid JSON: <reason> at offset <N>".
  const boost::json::value& json() const;

 private:
  mutable std::optional<boost::json::value> json_;
};

// What a view returns: a status and JSON data (the response data that the
// engine passes to the next steps). The HTTP status of the answer is
// `status`; `headers` are added to the answer (Content-Type, Content-Length
// and the X-Workflow-* headers are the SDK's and cannot be overridden).
struct Response {
  int status = 200;
  boost::json::value data;
  HeaderList headers;

  // Response::json({{"ok", true}}) - a JSON answer with the given status.
  static Response json(boost::json::value data, int status = 200) {
    return Response{status, std::move(data), {}};
  }
};

// Throw from a view, a hook or a plain handler to answer with this status
// and the body {"error": {"code": <code>, "message": <message>}} (without the
// envelope header, so the engine sees a failed attempt: 5xx, 408 and 429 are
// retried, other statuses fail the task). Any other exception is a 500 with
// code "internal" and the exception's what() as message.
struct HttpError : std::exception {
  int status;
  std::string code;     // machine-readable, e.g. "not_found"
  std::string message;  // for people
  HttpError(int s, std::string c, std::string m)
      : status(s), code(std::move(c)), message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
};
// A 400 with code "bad_request".
struct BadRequest : HttpError {
  explicit BadRequest(std::string m) : HttpError(400, "bad_request", std::move(m)) {}
};

}  // namespace treeflow
