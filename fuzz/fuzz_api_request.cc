// libFuzzer target: the engine API's request parsing (src/api/api_server.cc),
// the bytes a client sends on one keep-alive connection. See fuzz/README.md.
//
// Covered: what ApiServer::Impl::session() and the top of route() do before
// they need the engine -- Beast's request_parser<string_body> with the same
// limits (64 KiB of headers, body limit Limits::max_request_bytes = 2 MiB,
// eager as http::async_read sets it), request after request on one
// connection while keep-alive; then route()'s target handling:
// boost::urls::parse_origin_form, split_path (src/api/path.h, the server's
// own), percent-decoding of each segment,
// params().find for the query parameters route() reads (state, limit, before,
// parent, after) with the same atol/clamp; the bearer-token prefix check; and
// body_object() (core::parse_json, must be an object), fed for queue routes to
// core::apply_queue_patch as the scheduler's update_queue does.
// Not covered: route()'s dispatch to the scheduler/store (needs a running
// engine: Scheduler, Store and Dispatcher are members of the server), which
// the integration tests exercise.
//
// Invariants: no exception escapes; no ASan/UBSan report; the parser never
// accepts a body over the limit; every decoded segment comes from a
// non-empty encoded one.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "api/path.h"
#include "core/envelope.h"
#include "core/queue.h"
#include "core/types.h"

namespace core = treeflow::core;
namespace http = boost::beast::http;

namespace {

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

using treeflow::api::split_path;

const core::Limits kLimits;  // the API's body limit is kLimits.max_request_bytes

void handle(const http::request<http::string_body>& req) {
  CHECK(req.body().size() <= kLimits.max_request_bytes);
  (void)req.keep_alive();
  (void)req.version();
  std::string method(req.method_string());
  std::string raw_target(req.target());

  // route(): the target.
  auto target = boost::urls::parse_origin_form(req.target());
  if (!target) return;  // 400 invalid_target
  auto parts = split_path(target->encoded_path());
  std::vector<std::string> seg;
  for (auto p : parts) {
    CHECK(!p.empty());
    auto r = boost::urls::make_pct_string_view(p);
    if (!r) return;  // 400 invalid_target
    std::string s = r->decode();
    CHECK(s.size() <= p.size());
    seg.push_back(std::move(s));
  }
  auto param = [&](std::string_view k) -> std::string {
    auto it = target->params().find(k);
    if (it == target->params().end()) return {};
    return std::string((*it).value);
  };
  std::string state = param("state");
  if (!state.empty()) (void)core::run_state_from_string(state);
  if (auto l = param("limit"); !l.empty()) {
    long limit = std::clamp<long>(std::atol(l.c_str()), 1, 1000);
    CHECK(limit >= 1 && limit <= 1000);
  }
  (void)param("before");
  (void)param("parent");
  (void)std::atoll(param("after").c_str());
  std::string path(target->path());  // used in 404 messages

  // authorized(): the bearer prefix.
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    std::string_view v = it->value();
    if (v.substr(0, 7) == "Bearer ") std::string token(v.substr(7));
  }

  // body_object().
  if (req.body().empty()) return;
  boost::system::error_code ec;
  boost::json::value v = core::parse_json(req.body(), ec);
  if (ec || !v.is_object()) return;  // 400 malformed_body
  // PUT/PATCH /v1/queues/{name}: the scheduler applies the body as a patch.
  if (seg.size() == 3 && seg[0] == "v1" && seg[1] == "queues") {
    core::QueueConfig base;
    (void)core::apply_queue_patch(base, v.get_object());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const char* p = reinterpret_cast<const char*>(data);
    std::size_t left = size;
    // Requests one after another on one connection, as session() reads them.
    for (int n = 0; n < 16; ++n) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(64 * 1024);
      parser.body_limit(kLimits.max_request_bytes);
      parser.eager(true);
      boost::beast::error_code ec;
      while (!parser.is_done()) {
        std::size_t used = parser.put(boost::asio::const_buffer(p, left), ec);
        CHECK(used <= left);
        p += used;
        left -= used;
        if (ec == http::error::need_more) ec = {};
        if (ec) break;
        // Nothing consumed (need_more, or a chunked body with no complete
        // chunk left, which Beast reports with no error): a server would
        // read more, and there is nothing more on this connection: EOF.
        if (used == 0 && !parser.is_done()) {
          parser.put_eof(ec);
          break;
        }
      }
      if (ec || !parser.is_done()) return 0;  // 400/413/431, or the connection ends
      auto req = parser.release();
      handle(req);
      if (!req.keep_alive() || left == 0) return 0;
    }
  } catch (...) {
    __builtin_trap();
  }
  return 0;
}
