// The middleware: routes requests to workflow views and runs
// get_workflow_init_data -> view -> get_workflow_complete_data around each
// call, answering the engine with the envelope (docs/protocol.md, docs/sdk.md).
//
//   treeflow::App app;                       // Options::from_env()
//   app.route<WriteBlog>("POST", "/blogs");
//   treeflow::serve(app, "127.0.0.1:9000");  // or mount app.handle() elsewhere
//
// Thread-safety: route() and plain() are not thread-safe: add every route
// before the first handle(). After that, handle() may be called from many
// threads at once (views and hooks then run concurrently too).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "treeflow/http.h"
#include "treeflow/view.h"
#include "treeflow/workflow.h"

namespace treeflow {

// Configuration of an App. Plain values; copy freely.
struct Options {
  // Where the engine's API is, for direct calls (http:// only). Default:
  // $TREEFLOW_ENGINE_URL, else http://127.0.0.1:8700. An App built with an
  // empty engine_url uses that default too.
  std::string engine_url;
  // Shared secret for X-Workflow-Signature. Default: $TREEFLOW_SIGNING_SECRET.
  // When empty, signatures are not checked. When set, every engine-dispatched
  // call (one carrying X-Workflow-Task-Id) must carry a valid signature or is
  // answered 401 {"error": {"code": "signature_invalid", ...}}.
  std::string signing_secret;
  // Base URL the engine should use to call this service back (for direct
  // calls), e.g. "http://127.0.0.1:9000". Default: $TREEFLOW_PUBLIC_BASE_URL,
  // else built from the Host header of each request.
  std::string public_base_url;
  std::string queue = "default";  // queue of runs started by direct calls
  int signature_tolerance_s = 300;  // accepted clock skew of a signature's t
  // (Addition.) Timeout of each call to the engine's API, connect included.
  int engine_timeout_ms = 10000;
  // (Addition.) Bearer token for the engine's API (a "write" token), needed
  // when the engine is configured with [auth] tokens. Default:
  // $TREEFLOW_TOKEN (the variable the `treeflow` CLI reads). Empty: none sent.
  std::string engine_token;

  // The defaults above, read from the environment.
  static Options from_env();
};

// Routes and the workflow middleware. Owns its routes and options; movable,
// not copyable. See the file comment for thread-safety.
class App {
 public:
  explicit App(Options options = Options::from_env());
  ~App();
  App(App&&) noexcept;
  App& operator=(App&&) noexcept;

  // Registers view V for `method` on the exact `path` ("/blogs"; the query
  // is ignored when matching). V must provide the two mandatory hooks and
  // the view (see view.h); otherwise this does not compile and the error
  // names what is missing. A later registration of the same method and path
  // replaces the earlier one.
  //
  // A call carrying X-Workflow-Task-Id is engine-dispatched: signature check
  // (when a secret is set), init hook, view, complete hook; the answer has
  // the view's status, `X-Workflow-Envelope: 1` and the complete data as
  // body. A call without it is direct: the init data is registered with the
  // engine as a new run (POST {engine}/v1/runs), the view runs, the complete
  // data is reported (POST {engine}/v1/tasks/{id}/complete) and the caller
  // gets the view's status and data as JSON with `X-Workflow-Run-Id`. When
  // the engine cannot be reached the direct call is answered 503 and the
  // view does not run.
  template <class V>
  App& route(std::string method, std::string path) {
    static_assert(check_view<V>());
    Handlers h;
    h.init = [](const Request& r) { return V::get_workflow_init_data(r); };
    h.view = [](const Request& r) { return V::view(r); };
    h.complete = [](const Request& r, const Response& s) {
      return V::get_workflow_complete_data(r, s);
    };
    add_route(std::move(method), std::move(path), std::move(h));
    return *this;
  }

  // A plain (non-workflow) handler, e.g. a data source or a health check:
  // called as is, no hooks, no engine. Exceptions are answered like a
  // view's (HttpError -> its status, others -> 500 JSON).
  App& plain(std::string method, std::string path,
             std::function<HttpResponse(const HttpRequest&)> handler);

  // The framework-neutral entry point: mount it in any C++ HTTP server.
  // Never throws: exceptions in views and hooks become JSON 500 answers.
  // An unknown path is answered 404 and a known path with another method
  // 405 (with an Allow header), both {"error": {...}} JSON. Blocks while a
  // direct call talks to the engine (at most engine_timeout_ms per call).
  HttpResponse handle(const HttpRequest& request) const;

  const Options& options() const;

  // The type-erased hooks of one route (what route<V>() stores).
  struct Handlers {
    std::function<InitData(const Request&)> init;
    std::function<Response(const Request&)> view;
    std::function<CompleteData(const Request&, const Response&)> complete;
  };

 private:
  void add_route(std::string method, std::string path, Handlers h);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace treeflow
