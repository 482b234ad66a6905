// Must NOT compile, and the error must name get_workflow_complete_data: the
// complete hook forgets the Response parameter (and returns the wrong type).
#include <treeflow/treeflow.h>

struct WrongSignature {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
    return treeflow::default_init_data(r);
  }
  static treeflow::Response view(const treeflow::Request& r) {
    return treeflow::Response::json(r.json());
  }
  static boost::json::value get_workflow_complete_data(const treeflow::Request& r) {
    return nullptr;
  }
};

void mount(treeflow::App& app) { app.route<WrongSignature>("POST", "/blogs"); }
