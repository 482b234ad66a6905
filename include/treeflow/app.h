// The middleware: routes requests to workflow views and runs
// get_workflow_init_data -> view -> get_workflow_complete_data around each
// call, answering the engine with the envelope (docs/protocol.md).
//
// Thread-safety: after the routes are added, handle() may be called from
// many threads at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "treeflow/http.h"
#include "treeflow/view.h"
#include "treeflow/workflow.h"

namespace treeflow {

struct Options {
  // Where the engine's API is, for direct calls. Default: $TREEFLOW_ENGINE_URL,
  // else http://127.0.0.1:8700.
  std::string engine_url;
  // Shared secret for X-Workflow-Signature. Default: $TREEFLOW_SIGNING_SECRET.
  // When empty, signatures are not checked.
  std::string signing_secret;
  // Base URL the engine should use to call this service back (for direct
  // calls), e.g. "http://127.0.0.1:9000". Default: from the Host header.
  std::string public_base_url;
  std::string queue = "default";  // queue of runs started by direct calls
  int signature_tolerance_s = 300;

  static Options from_env();
};

class App {
 public:
  explicit App(Options options = Options::from_env());
  ~App();
  App(App&&) noexcept;
  App& operator=(App&&) noexcept;

  // Registers view V for `method` on the exact `path` ("/blogs").
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

  // A plain (non-workflow) handler, e.g. a data source or a health check.
  App& plain(std::string method, std::string path,
             std::function<HttpResponse(const HttpRequest&)> handler);

  // The framework-neutral entry point: mount it in any C++ HTTP server.
  // Never throws: exceptions in views and hooks become JSON 500 answers.
  HttpResponse handle(const HttpRequest& request) const;

  const Options& options() const;

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
