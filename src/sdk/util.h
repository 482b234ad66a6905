// Internal helpers of the SDK (not installed; src/sdk only).
#pragma once

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace treeflow::sdk_detail {

bool iequals(std::string_view a, std::string_view b);
// {"error": {"code": code, "message": message}} serialized.
std::string error_body(std::string_view code, std::string_view message);
// Parses `text` as JSON; on failure returns false and sets `why` to
// "<reason> at offset N".
bool parse_json(std::string_view text, boost::json::value& out, std::string& why);

}  // namespace treeflow::sdk_detail
