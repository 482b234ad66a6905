// Turning a task's answer into its children (SPEC section 4): input types,
// input_path (JSON Pointer), custom_input merge, relative URLs, header
// inheritance, GET payloads as query strings, and the limits.
#pragma once

#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/types.h"

namespace treeflow::core {

struct ExpandInput {
  std::string_view parent_id;
  const TaskRequest* parent_request = nullptr;  // url is the base for relative URLs
  std::string_view parent_queue;
  int parent_depth = 0;
  Phase phase = Phase::immediate;                 // immediate or sub
  const std::vector<NextSpec>* specs = nullptr;
  const boost::json::value* data = nullptr;       // the parent's response data
  // For input_type children (sub phase only): the immediate children's
  // response data in order; a failed child (on_failure=continue) is given as
  // {"error": "..."} by the caller. nullptr in the immediate phase.
  const std::vector<boost::json::value>* children_data = nullptr;
  const Limits* limits = nullptr;
};

// All children of all specs, in spec order then item order, ids from
// child_task_id. On any error nothing is returned (nothing partial is stored)
// and the error says which spec and why ("immediate_next[1] (input_type each):
// /items is an object, not an array"). Errors: each over a non-array,
// unresolvable input_path, children in the immediate phase, bad URL or
// scheme, payload over max_payload_bytes, fan-out over max_fanout, depth over
// max_depth, headers over max_headers_bytes.
Result<std::vector<NewTask>> expand(const ExpandInput& in);

// Payload of one child from its input (after input_path/each): applies
// custom_input per SPEC section 4. Exposed for tests.
boost::json::value make_payload(const NextSpec& spec, const boost::json::value* input);

}  // namespace treeflow::core
