// URLs of targets: resolution of relative URLs, the allowed schemes, and GET
// payloads as query strings.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/types.h"

namespace treeflow::core {

// `ref` resolved against `base` (RFC 3986). Error if the result is not an
// absolute http/https URL with a host, or longer than limits.max_url_bytes.
Result<std::string> resolve_url(std::string_view base, std::string_view ref, const Limits& limits);

// Error unless `url` is an absolute http/https URL with a host.
Result<std::string> validate_target_url(std::string_view url, const Limits& limits);

// Appends an object of scalars as a query string (strings, numbers, bools;
// null becomes an empty value). Error if a value is an array or object.
Result<std::string> append_query(std::string_view url, const boost::json::object& params);

// Header names are tokens; values have no CR, LF or NUL; total size limit.
// X-Workflow-* headers are reserved for the engine and dropped by callers
// (see strip_engine_headers).
Result<bool> validate_headers(const Headers& headers, const Limits& limits);
Headers strip_engine_headers(const Headers& headers);

// Masks secrets for display/logging (Authorization, Proxy-Authorization,
// Cookie, X-Api-Key, X-Workflow-Signature).
Headers masked(const Headers& headers);

}  // namespace treeflow::core
