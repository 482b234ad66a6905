// The seed's data model: init data (before the view), complete data (after
// it) and next-step specs, with builders. docs/protocol.md is the wire format.
//
//   treeflow::next("/comments").each().custom_input({{"blog_id", 7}})
//
// builds {"url": "/comments", "input_type": "each",
//         "custom_input": {"blog_id": 7}}  (method POST is the default).
//
// Thread-safety: value types; see http.h.
#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "treeflow/http.h"

namespace treeflow {

// One next step: which endpoint to call and what payload to give it
// (docs/protocol.md, "Next-step spec"). Each setter returns *this so calls
// chain; a later call of the same setter wins. Only fields that were set are
// emitted by to_json() (plus "url"); the engine applies the defaults.
// The builder does not validate: the engine rejects a bad spec when it reads
// the envelope and fails the task with a message naming the field.
class Next {
 public:
  // `url`: absolute http(s) URL, or relative to the current task's URL
  // ("/comments").
  explicit Next(std::string url);

  Next& method(std::string m);              // "GET", "POST", ...; default POST
  Next& response();                         // input_type "response": payload = the response data (default)
  Next& each();                             // input_type "each": one call per element of the data array
  Next& custom();                           // input_type "custom": payload = custom_input alone
  Next& none();                             // input_type "none": empty payload
  Next& children();                         // input_type "children" (sub tasks only): the children's data array
  // A JSON Pointer (RFC 6901, e.g. "/comments") applied to the data before
  // input_type.
  Next& input_path(std::string json_pointer);
  // Merged into object payloads (its keys win); a non-object payload becomes
  // {"input": <payload>, ...custom_input}.
  Next& custom_input(boost::json::object obj);
  // Overrides one header the child inherits from this task's request. May be
  // called several times for different names.
  Next& header(std::string name, std::string value);
  Next& queue(std::string name);            // default: this task's queue
  Next& on_failure_continue();              // on_failure "continue": a failure of this child does not block

  // The spec object, e.g. {"url": "/c", "input_type": "each"}.
  boost::json::value to_json() const;

 private:
  boost::json::object spec_;
};

// Shorthand for Next(url): treeflow::next("/comments").each().
inline Next next(std::string url) { return Next(std::move(url)); }

// get_workflow_init_data's result: what the engine stores to retry the call.
// to_json() gives the seed's dictionary:
//   {"id": "...", "parent_task": "..." or null,
//    "request": {"url", "method", "payload", "headers": {name: value}}}
// (repeated header names are joined with ", ").
struct InitData {
  std::string id;           // the task id ("" in a direct call's init hook)
  std::string parent_task;  // empty for a root (emitted as null)
  struct RequestData {
    std::string url;                 // absolute
    std::string method;
    boost::json::value payload;      // "" for GET (the seed's rule)
    HeaderList headers;              // X-Workflow-* and hop-by-hop headers removed
  } request;

  boost::json::value to_json() const;
};

// get_workflow_complete_data's result: the envelope the engine reads.
// to_json() gives
//   {"id", "response": {"status_code", "headers": {...}, "data"},
//    "immediate_next": [spec...], "sub_task_next": [spec...]}
// The middleware sets an empty `id` to the task id before answering.
struct CompleteData {
  std::string id;  // equals InitData::id
  int status_code = 200;
  HeaderList headers;
  boost::json::value data;
  std::vector<Next> immediate_next;  // created at once, run in parallel
  std::vector<Next> sub_task_next;   // created when all immediate subtrees completed

  boost::json::value to_json() const;
};

// The defaults the hooks usually start from (the seed's dictionaries):
//
// default_init_data: id = request.task_id, parent_task = parent_task_id,
// request.method = the HTTP method, request.url = the absolute URL
// (request.base_url + target when base_url is set, else
// "http://" + Host header + target), request.payload = "" for GET and HEAD
// (the seed's rule) and for an empty body, else the body as JSON (or the raw
// body string when it is not JSON), request.headers = the request's headers
// without X-Workflow-*, Idempotency-Key, traceparent, Host, Content-Length
// and the hop-by-hop headers (Connection, Keep-Alive, Transfer-Encoding, TE,
// Trailer, Upgrade, Proxy-*). Never throws on a malformed body.
InitData default_init_data(const Request& request);
// default_complete_data: id = request.task_id, status_code = response.status,
// headers = the request's headers (filtered as above; the seed's "same as
// request's header"), data = response.data, no next steps.
CompleteData default_complete_data(const Request& request, const Response& response);

}  // namespace treeflow
