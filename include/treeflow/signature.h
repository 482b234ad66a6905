// (Addition.) The X-Workflow-Signature scheme of docs/protocol.md section 1:
//   X-Workflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
// App::handle() verifies it by itself when Options::signing_secret is set;
// these functions are for tests and for endpoints mounted without an App.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace treeflow {

// The header value the engine sends for `body` signed at `unix_time`.
std::string sign_payload(std::string_view secret, std::int64_t unix_time,
                         std::string_view body);

// Checks `header` (the X-Workflow-Signature value) against `body`. Returns ""
// when valid, else why not (missing header, malformed header, stale or future
// timestamp beyond `tolerance_s` from `now_unix`, or no v1 that matches).
// Several v1= entries are allowed (secret rotation); one match suffices.
// The comparison is constant-time.
std::string verify_signature(std::string_view header, std::string_view body,
                             std::string_view secret, int tolerance_s,
                             std::int64_t now_unix);

}  // namespace treeflow
