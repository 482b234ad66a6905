// The seed's data model: init data (before the view), complete data (after
// it) and next-step specs, with builders. docs/protocol.md is the wire format.
//
//   treeflow::next("/comments").each().custom_input({{"blog_id", 7}})
//
// builds {"url": "/comments", "method": "POST", "input_type": "each",
//         "custom_input": {"blog_id": 7}}.
#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "treeflow/http.h"

namespace treeflow {

// One next step: which endpoint to call and what payload to give it.
class Next {
 public:
  explicit Next(std::string url);

  Next& method(std::string m);              // default POST
  Next& response();                         // payload = the response data (default)
  Next& each();                             // one call per element of the data array
  Next& custom();                           // payload = custom_input alone
  Next& none();                             // empty payload
  Next& children();                         // sub tasks only: the children's data array
  Next& input_path(std::string json_pointer);
  Next& custom_input(boost::json::object obj);
  Next& header(std::string name, std::string value);
  Next& queue(std::string name);
  Next& on_failure_continue();              // a failure of this child does not block

  boost::json::value to_json() const;

 private:
  boost::json::object spec_;
};

inline Next next(std::string url) { return Next(std::move(url)); }

// get_workflow_init_data's result: what the engine stores to retry the call.
struct InitData {
  std::string id;           // the task id
  std::string parent_task;  // empty for a root
  struct RequestData {
    std::string url;                 // absolute
    std::string method;
    boost::json::value payload;      // "" for GET (the seed's rule)
    HeaderList headers;              // X-Workflow-* and hop-by-hop headers removed
  } request;

  boost::json::value to_json() const;
};

// get_workflow_complete_data's result: the envelope the engine reads.
struct CompleteData {
  std::string id;  // equals InitData::id
  int status_code = 200;
  HeaderList headers;
  boost::json::value data;
  std::vector<Next> immediate_next;
  std::vector<Next> sub_task_next;

  boost::json::value to_json() const;
};

// The defaults the hooks usually start from (the seed's dictionaries):
// id = request.task_id, request = the incoming request; and
// response = {status, request headers, data}, no next steps.
InitData default_init_data(const Request& request);
CompleteData default_complete_data(const Request& request, const Response& response);

}  // namespace treeflow
