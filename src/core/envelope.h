// Parsing and validating what an endpoint answers (SPEC section 7) and the
// next-step specs inside it (SPEC section 4). Every error names the field and
// the spec, e.g. "immediate_next[2].input_type: unknown input type \"eachh\"
// (expected response, each, custom, none or children)".
#pragma once

#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/types.h"

namespace treeflow::core {

// Parses the body of an answer marked `X-Workflow-Envelope: 1`.
// Checks: valid JSON object; `response.data` present (any JSON); the lists are
// arrays of at most limits.max_specs specs; each spec valid (see parse_spec).
Result<Envelope> parse_envelope(std::string_view body, const Limits& limits);

// One spec. `where` is used in messages ("immediate_next[0]"). `children`
// input is allowed only when is_sub is true. url required, non-empty;
// method one of GET POST PUT PATCH DELETE HEAD (case-insensitive, stored
// upper-case); on_failure "fail" | "continue"; queue a valid name or absent;
// headers an object of strings (no CR/LF).
Result<NextSpec> parse_spec(const boost::json::value& v, std::string_view where, bool is_sub);
Result<std::vector<NextSpec>> parse_specs(const boost::json::value& v, std::string_view where,
                                          bool is_sub, const Limits& limits);

// Round trip for storing sub_task_next until the join fires.
boost::json::value to_json(const NextSpec& spec);
boost::json::value to_json(const std::vector<NextSpec>& specs);

// Parses any JSON text with treeflow's nesting limit (10,000 levels, not
// Boost's default of 32: nested comment trees go deep). Every JSON parse of
// user data in the engine goes through here.
boost::json::value parse_json(std::string_view text, boost::system::error_code& ec);

// The response data of a leaf (2xx without the envelope header): the body as
// JSON if it parses, else as a JSON string; an empty body is null.
boost::json::value leaf_data(std::string_view body);
// The same as JSON text: the body itself when it is JSON (no re-serializing:
// the engine stores it as it came), else leaf_data's text.
std::string leaf_data_text(std::string_view body);

}  // namespace treeflow::core
