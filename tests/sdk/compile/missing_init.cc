// Must NOT compile, and the error must name get_workflow_init_data.
#include <treeflow/treeflow.h>

struct NoInit {
  static treeflow::Response view(const treeflow::Request& r) {
    return treeflow::Response::json(r.json());
  }
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& r,
                                                           const treeflow::Response& res) {
    return treeflow::default_complete_data(r, res);
  }
};

void mount(treeflow::App& app) { app.route<NoInit>("POST", "/blogs"); }
