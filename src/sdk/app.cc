// The workflow middleware: init hook -> view -> complete hook around each
// call, the envelope for the engine, and direct calls (docs/protocol.md).
#include "treeflow/app.h"

#include <chrono>
#include <optional>
#include <cstdlib>
#include <iostream>
#include <variant>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "engine_client.h"
#include "treeflow/signature.h"
#include "util.h"

namespace treeflow {
namespace {

using sdk_detail::error_body;

constexpr const char* kDefaultEngineUrl = "http://127.0.0.1:8700";

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

HttpResponse json_answer(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

HttpResponse error_answer(int status, std::string_view code, std::string_view message) {
  return json_answer(status, error_body(code, message));
}

// Runs `f`, turning exceptions into JSON error answers. `where` names the
// step for the log line.
template <class F>
std::optional<HttpResponse> guarded(const char* where, const HttpRequest& rq, F&& f) {
  try {
    f();
    return std::nullopt;
  } catch (const HttpError& e) {
    return error_answer(e.status, e.code, e.message);
  } catch (const std::exception& e) {
    std::cerr << "treeflow: " << where << " of " << rq.method << " " << rq.path()
              << " threw: " << e.what() << "\n";
    return error_answer(500, "internal", e.what());
  } catch (...) {
    std::cerr << "treeflow: " << where << " of " << rq.method << " " << rq.path()
              << " threw a non-std exception\n";
    return error_answer(500, "internal", "unknown exception");
  }
}

// Headers of the view's Response that the SDK owns.
bool reserved_header(std::string_view name) {
  using sdk_detail::iequals;
  return iequals(name, "Content-Type") || iequals(name, "Content-Length") ||
         iequals(name, "Transfer-Encoding") || iequals(name, "Connection") ||
         (name.size() >= 11 && iequals(name.substr(0, 11), "X-Workflow-"));
}

void add_view_headers(HttpResponse& out, const Response& r) {
  for (const auto& h : r.headers)
    if (!reserved_header(h.first)) out.headers.push_back(h);
}

int parse_attempt(std::string_view s) {
  int v = 0;
  if (s.empty() || s.size() > 9) return 1;
  for (char c : s) {
    if (c < '0' || c > '9') return 1;
    v = v * 10 + (c - '0');
  }
  return v > 0 ? v : 1;
}

}  // namespace

Options Options::from_env() {
  Options o;
  o.engine_url = env_or("TREEFLOW_ENGINE_URL", kDefaultEngineUrl);
  o.signing_secret = env_or("TREEFLOW_SIGNING_SECRET", "");
  o.public_base_url = env_or("TREEFLOW_PUBLIC_BASE_URL", "");
  o.engine_token = env_or("TREEFLOW_TOKEN", "");
  return o;
}

struct App::Impl {
  Options options;
  struct Route {
    std::string method;
    std::string path;
    std::variant<Handlers, std::function<HttpResponse(const HttpRequest&)>> target;
  };
  std::vector<Route> routes;

  void add(Route r) {
    for (auto& existing : routes) {
      if (existing.method == r.method && existing.path == r.path) {
        existing = std::move(r);
        return;
      }
    }
    routes.push_back(std::move(r));
  }

  HttpResponse engine_call(const HttpRequest& rq, const Handlers& h) const;
  HttpResponse direct_call(const HttpRequest& rq, const Handlers& h) const;
};

App::App(Options options) : impl_(std::make_unique<Impl>()) {
  if (options.engine_url.empty()) options.engine_url = env_or("TREEFLOW_ENGINE_URL", kDefaultEngineUrl);
  impl_->options = std::move(options);
}
App::~App() = default;
App::App(App&&) noexcept = default;
App& App::operator=(App&&) noexcept = default;

const Options& App::options() const { return impl_->options; }

void App::add_route(std::string method, std::string path, Handlers h) {
  impl_->add({std::move(method), std::move(path), std::move(h)});
}

App& App::plain(std::string method, std::string path,
                std::function<HttpResponse(const HttpRequest&)> handler) {
  impl_->add({std::move(method), std::move(path), std::move(handler)});
  return *this;
}

HttpResponse App::handle(const HttpRequest& request) const {
  try {
    std::string_view path = request.path();
    const Impl::Route* match = nullptr;
    std::string allow;
    for (const auto& r : impl_->routes) {
      if (r.path != path) continue;
      if (r.method == request.method) {
        match = &r;
        break;
      }
      if (!allow.empty()) allow += ", ";
      allow += r.method;
    }
    if (!match) {
      if (!allow.empty()) {
        auto res = error_answer(405, "method_not_allowed",
                                "method " + request.method + " is not allowed on " +
                                    std::string(path) + " (allowed: " + allow + ")");
        res.headers.emplace_back("Allow", allow);
        return res;
      }
      return error_answer(404, "not_found", "no route for " + request.method + " " +
                                                std::string(path));
    }
    if (const auto* plain = std::get_if<1>(&match->target)) {
      HttpResponse out;
      if (auto err = guarded("handler", request, [&] { out = (*plain)(request); })) return *err;
      bool has_type = !out.header("Content-Type").empty();
      if (!has_type && !out.body.empty()) out.headers.emplace_back("Content-Type", "application/json");
      return out;
    }
    const Handlers& h = std::get<0>(match->target);
    if (!request.header("X-Workflow-Task-Id").empty()) return impl_->engine_call(request, h);
    return impl_->direct_call(request, h);
  } catch (const std::exception& e) {
    // Only reachable on allocation failure and the like.
    return error_answer(500, "internal", e.what());
  } catch (...) {
    return error_answer(500, "internal", "unknown exception");
  }
}

HttpResponse App::Impl::engine_call(const HttpRequest& rq, const Handlers& h) const {
  if (!options.signing_secret.empty()) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    std::string why = verify_signature(rq.header("X-Workflow-Signature"), rq.body,
                                       options.signing_secret,
                                       options.signature_tolerance_s, now);
    if (!why.empty()) return error_answer(401, "signature_invalid", why);
  }
  Request req;
  req.http = rq;
  req.task_id = std::string(rq.header("X-Workflow-Task-Id"));
  req.run_id = std::string(rq.header("X-Workflow-Run-Id"));
  req.parent_task_id = std::string(rq.header("X-Workflow-Parent-Task-Id"));
  req.attempt = parse_attempt(rq.header("X-Workflow-Attempt"));
  req.base_url = options.public_base_url;

  Response response;
  CompleteData complete;
  auto err = guarded("get_workflow_init_data", rq, [&] { (void)h.init(req); });
  if (!err) err = guarded("view", rq, [&] { response = h.view(req); });
  if (!err) err = guarded("get_workflow_complete_data", rq, [&] {
    complete = h.complete(req, response);
  });
  if (err) return *err;
  if (complete.id.empty()) complete.id = req.task_id;

  HttpResponse out;
  out.status = response.status;
  add_view_headers(out, response);
  out.headers.emplace_back("Content-Type", "application/json");
  out.headers.emplace_back("X-Workflow-Envelope", "1");
  out.body = boost::json::serialize(complete.to_json());
  return out;
}

HttpResponse App::Impl::direct_call(const HttpRequest& rq, const Handlers& h) const {
  Request req;
  req.http = rq;
  req.direct = true;
  req.base_url = options.public_base_url;

  InitData init;
  if (auto err = guarded("get_workflow_init_data", rq, [&] { init = h.init(req); })) return *err;

  // 1. Register the run from the init data.
  boost::json::object reg;
  reg["direct"] = true;
  reg["request"] = init.to_json().as_object()["request"];
  reg["queue"] = options.queue;
  auto timeout = std::chrono::milliseconds(options.engine_timeout_ms);
  auto reply = sdk_detail::engine_post(options.engine_url, "/v1/runs",
                                       boost::json::serialize(reg), timeout,
                                       options.engine_token);
  const std::string where = "the treeflow engine at " + options.engine_url;
  if (reply.status == 0)
    return error_answer(503, "engine_unavailable",
                        "cannot register this direct call as a run: " + where +
                            " is unreachable (" + reply.error +
                            "); set TREEFLOW_ENGINE_URL or Options::engine_url");
  if (reply.status < 200 || reply.status > 299)
    return error_answer(502, "engine_rejected",
                        "cannot register this direct call as a run: " + where +
                            " answered " + std::to_string(reply.status) + ": " + reply.body);
  boost::json::value registered;
  std::string why;
  if (!sdk_detail::parse_json(reply.body, registered, why) || !registered.is_object() ||
      !registered.as_object().contains("run_id") || !registered.as_object().contains("task_id") ||
      !registered.at("run_id").is_string() || !registered.at("task_id").is_string())
    return error_answer(502, "engine_rejected",
                        "cannot register this direct call as a run: " + where +
                            " answered an unexpected body: " + reply.body);
  req.run_id = std::string(registered.at("run_id").as_string());
  req.task_id = std::string(registered.at("task_id").as_string());

  // 2. The view and the complete hook.
  Response response;
  CompleteData complete;
  auto err = guarded("view", rq, [&] { response = h.view(req); });
  if (!err) err = guarded("get_workflow_complete_data", rq, [&] {
    complete = h.complete(req, response);
  });

  // 3. Report the answer (a failure is a failed attempt; the engine retries
  // by dispatching the stored request once the lease expires).
  boost::json::object report;
  if (err) {
    report["status_code"] = err->status;
    report["error"] = err->body;
  } else {
    if (complete.id.empty()) complete.id = req.task_id;
    report["status_code"] = response.status;
    report["envelope"] = complete.to_json();
  }
  auto rep = sdk_detail::engine_post(options.engine_url, "/v1/tasks/" + req.task_id + "/complete",
                                     boost::json::serialize(report), timeout,
                                     options.engine_token);
  if (rep.status < 200 || rep.status > 299)
    std::cerr << "treeflow: could not report task " << req.task_id << " of run " << req.run_id
              << " to " << options.engine_url << " ("
              << (rep.status == 0 ? rep.error : "status " + std::to_string(rep.status) + ": " + rep.body)
              << "); the engine will dispatch it again when its lease expires\n";

  // 4. Answer the caller.
  HttpResponse out;
  if (err) {
    out = std::move(*err);
  } else {
    out.status = response.status;
    add_view_headers(out, response);
    out.headers.emplace_back("Content-Type", "application/json");
    out.body = boost::json::serialize(response.data);
  }
  out.headers.emplace_back("X-Workflow-Run-Id", req.run_id);
  return out;
}

}  // namespace treeflow
