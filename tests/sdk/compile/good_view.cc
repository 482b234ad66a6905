// Must compile: a view class with both mandatory hooks and the view.
#include <treeflow/treeflow.h>

struct WriteBlog {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& r) {
    return treeflow::default_init_data(r);
  }
  static treeflow::Response view(const treeflow::Request& r) {
    return treeflow::Response::json(r.json());
  }
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& r,
                                                           const treeflow::Response& res) {
    auto c = treeflow::default_complete_data(r, res);
    c.immediate_next.push_back(treeflow::next("/comments").each());
    return c;
  }
};

static_assert(treeflow::WorkflowView<WriteBlog>);

void mount(treeflow::App& app) { app.route<WriteBlog>("POST", "/blogs"); }
