// Must NOT compile, and the error must name get_workflow_complete_data.
#include <treeflow/treeflow.h>

struct NoComplete {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
    return treeflow::default_init_data(r);
  }
  static treeflow::Response view(const treeflow::Request& r) {
    return treeflow::Response::json(r.json());
  }
};

void mount(treeflow::App& app) { app.route<NoComplete>("POST", "/blogs"); }
