// HTTP request and response types of the treeflow endpoint SDK.
// Plain values, no networking: the same types serve the built-in server
// (server.h), the framework-neutral entry point (App::handle) and tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

namespace treeflow {

// Header fields in arrival order. Lookups are case-insensitive.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One incoming HTTP request, as the server received it.
struct HttpRequest {
  std::string method;      // "GET", "POST", ... (upper-case)
  std::string target;      // path and query, e.g. "/blogs?page=2"
  HeaderList headers;
  std::string body;

  // Case-insensitive; empty when absent.
  std::string_view header(std::string_view name) const;
  std::string_view path() const;   // target without the query
  std::string_view query() const;  // after '?', without it
  // Decoded value of a query parameter, if present.
  std::optional<std::string> query_param(std::string_view name) const;
};

// One HTTP answer on the wire.
struct HttpResponse {
  int status = 200;
  HeaderList headers;
  std::string body;
  std::string_view header(std::string_view name) const;
};

// What a view sees: the HTTP request plus the workflow context the middleware
// read from the X-Workflow-* headers (or registered for a direct call).
struct Request {
  HttpRequest http;
  std::string task_id;         // never empty inside a view (direct calls get one)
  std::string run_id;
  std::string parent_task_id;  // empty for a root task
  int attempt = 1;
  bool direct = false;         // true when a person or cron called the endpoint

  // The body parsed as JSON; null for an empty body. Throws BadRequest (a 400
  // answer) when the body is not valid JSON.
  const boost::json::value& json() const;

 private:
  mutable std::optional<boost::json::value> json_;
};

// What a view returns: a status and JSON data (the response data that the
// engine passes to the next steps).
struct Response {
  int status = 200;
  boost::json::value data;
  HeaderList headers;

  static Response json(boost::json::value data, int status = 200) {
    return Response{status, std::move(data), {}};
  }
};

// Throw from a view or hook to answer with this status and message (as
// {"error": {"code": ..., "message": ...}}). Any other exception is a 500.
struct HttpError : std::exception {
  int status;
  std::string code;
  std::string message;
  HttpError(int s, std::string c, std::string m)
      : status(s), code(std::move(c)), message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
};
struct BadRequest : HttpError {
  explicit BadRequest(std::string m) : HttpError(400, "bad_request", std::move(m)) {}
};

}  // namespace treeflow
