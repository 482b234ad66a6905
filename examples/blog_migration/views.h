// The three workflow views of the flagship job, each with the seed's two
// mandatory hooks:
//
//   Trigger        GET  /trigger?page=N&page_size=K   one page of blogs
//     immediate_next: Write Blog, each blog            (input_path /blogs)
//     sub_task_next:  Trigger for page N+1             (only if there is one)
//   Write Blog     POST /blogs                         insert, pop the comments
//     immediate_next: Write Comment, each comment      (+ {"blog_id": id})
//   Write Comment  POST /comments                      insert, pop the replies
//     immediate_next: Write Comment, each reply        (+ {"blog_id", "parent_id"})
#pragma once

#include <treeflow/treeflow.h>

#include <atomic>
#include <string>

#include "flaky.h"
#include "target_db.h"

namespace blog {

// What the views share: set once by main() before the server starts.
struct Context {
  TargetDb* db = nullptr;
  std::string warehouse_url;  // "http://127.0.0.1:9100" (no trailing slash)
  Flaky flaky;

  // Counters, shown by GET /stats.
  std::atomic<long> blogs_written{0}, comments_written{0}, repeats_skipped{0};
  std::atomic<long> failed_before_work{0}, failed_after_commit{0};
};
void set_context(Context* ctx);

struct Trigger {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& request);
  static treeflow::Response view(const treeflow::Request& request);
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& request,
                                                           const treeflow::Response& response);
};

struct WriteBlog {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& request);
  static treeflow::Response view(const treeflow::Request& request);
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& request,
                                                           const treeflow::Response& response);
};

struct WriteComment {
  static treeflow::InitData get_workflow_init_data(const treeflow::Request& request);
  static treeflow::Response view(const treeflow::Request& request);
  static treeflow::CompleteData get_workflow_complete_data(const treeflow::Request& request,
                                                           const treeflow::Response& response);
};

// GET /stats: the counters above, as JSON.
treeflow::HttpResponse stats(const treeflow::HttpRequest& request);

}  // namespace blog
