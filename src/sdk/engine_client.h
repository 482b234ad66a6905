// Internal: the SDK's small synchronous client of the engine's /v1 API.
// Each call uses its own io_context, so it is safe to call from a handler
// running on any server's I/O thread. Thread-safe.
#pragma once

#include <chrono>
#include <string>

namespace treeflow::sdk_detail {

struct EngineReply {
  int status = 0;     // HTTP status; 0 when no answer arrived
  std::string body;
  std::string error;  // why there is no answer (status == 0)
};

// POSTs `json_body` to engine_url + path ("http://127.0.0.1:8700" + "/v1/runs").
// Only http:// URLs are supported. Never throws.
// `token`, when not empty, is sent as "Authorization: Bearer <token>".
EngineReply engine_post(const std::string& engine_url, const std::string& path,
                        const std::string& json_body, std::chrono::milliseconds timeout,
                        const std::string& token = "");

}  // namespace treeflow::sdk_detail
