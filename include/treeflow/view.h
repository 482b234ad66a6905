// What a workflow view class must provide. Both hooks are mandatory, as in the
// seed; a class without one of them (or with the wrong signature) does not
// compile, and the error names the missing hook.
//
// The three members are static and called with the Request by const
// reference; they may run concurrently on several threads (one call per
// request), so they must not share mutable state without synchronization.
// Any of them may throw: HttpError answers its status, anything else 500.
//
//   struct WriteBlog {
//     static treeflow::InitData get_workflow_init_data(const treeflow::Request& r);
//     static treeflow::Response view(const treeflow::Request& r);
//     static treeflow::CompleteData get_workflow_complete_data(
//         const treeflow::Request& r, const treeflow::Response& res);
//   };
#pragma once

#include <concepts>

#include "treeflow/http.h"
#include "treeflow/workflow.h"

namespace treeflow {

// V has `static InitData get_workflow_init_data(const Request&)` (View Init).
template <class V>
concept HasInitHook = requires(const Request& rq) {
  { V::get_workflow_init_data(rq) } -> std::same_as<InitData>;
};

// V has `static CompleteData get_workflow_complete_data(const Request&,
// const Response&)` (On Complete).
template <class V>
concept HasCompleteHook = requires(const Request& rq, const Response& rs) {
  { V::get_workflow_complete_data(rq, rs) } -> std::same_as<CompleteData>;
};

// V has `static Response view(const Request&)`.
template <class V>
concept HasView = requires(const Request& rq) {
  { V::view(rq) } -> std::same_as<Response>;
};

// All three: what App::route<V>() accepts.
template <class V>
concept WorkflowView = HasInitHook<V> && HasCompleteHook<V> && HasView<V>;

// Used by App::route; gives one readable message per missing piece. Usable
// directly too: static_assert(treeflow::check_view<MyView>());
template <class V>
constexpr bool check_view() {
  static_assert(HasInitHook<V>,
                "treeflow: the view class is missing its mandatory hook "
                "`static treeflow::InitData get_workflow_init_data(const treeflow::Request&)` "
                "(or it has another signature)");
  static_assert(HasCompleteHook<V>,
                "treeflow: the view class is missing its mandatory hook "
                "`static treeflow::CompleteData get_workflow_complete_data("
                "const treeflow::Request&, const treeflow::Response&)` (or it has another signature)");
  static_assert(HasView<V>,
                "treeflow: the view class is missing "
                "`static treeflow::Response view(const treeflow::Request&)` "
                "(or it has another signature)");
  return true;
}

}  // namespace treeflow
