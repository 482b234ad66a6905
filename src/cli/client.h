// The CLI's HTTP client for the engine API (synchronous, one call at a time).
#pragma once

#include <string>

#include <boost/json/value.hpp>

namespace treeflow::cli {

struct ApiReply {
  int status = 0;
  boost::json::value body;  // parsed JSON (or a string for non-JSON bodies)
};

// Calls the engine at `server` (http://host:port). Throws std::runtime_error
// with a message a person can act on (engine unreachable, bad URL, timeout),
// never for HTTP error statuses (those come back in ApiReply).
ApiReply call(const std::string& server, const std::string& method, const std::string& path,
              const std::string& body = "", int timeout_ms = 30000);

// The message of an API error body, or a generic one.
std::string error_message(const ApiReply& r);

}  // namespace treeflow::cli
