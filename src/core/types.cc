#include "core/types.h"

namespace treeflow::core {

std::string_view to_string(TaskState s) {
  switch (s) {
    case TaskState::pending: return "pending";
    case TaskState::running: return "running";
    case TaskState::waiting: return "waiting";
    case TaskState::completed: return "completed";
    case TaskState::failed: return "failed";
    case TaskState::cancelled: return "cancelled";
  }
  return "?";
}

std::optional<TaskState> task_state_from_string(std::string_view s) {
  for (int i = 0; i < kTaskStateCount; ++i) {
    auto t = static_cast<TaskState>(i);
    if (to_string(t) == s) return t;
  }
  return std::nullopt;
}

std::string_view to_string(RunState s) {
  switch (s) {
    case RunState::running: return "running";
    case RunState::completed: return "completed";
    case RunState::failed: return "failed";
    case RunState::cancelled: return "cancelled";
  }
  return "?";
}

std::optional<RunState> run_state_from_string(std::string_view s) {
  for (auto r : {RunState::running, RunState::completed, RunState::failed, RunState::cancelled}) {
    if (to_string(r) == s) return r;
  }
  return std::nullopt;
}

std::string_view to_string(InputType t) {
  switch (t) {
    case InputType::response: return "response";
    case InputType::each: return "each";
    case InputType::custom: return "custom";
    case InputType::none: return "none";
    case InputType::children: return "children";
  }
  return "?";
}

std::optional<InputType> input_type_from_string(std::string_view s) {
  for (auto t : {InputType::response, InputType::each, InputType::custom, InputType::none,
                 InputType::children}) {
    if (to_string(t) == s) return t;
  }
  return std::nullopt;
}

std::string_view to_string(OnFailure f) {
  switch (f) {
    case OnFailure::fail: return "fail";
    case OnFailure::proceed: return "continue";
  }
  return "?";
}

std::optional<OnFailure> on_failure_from_string(std::string_view s) {
  if (s == "fail") return OnFailure::fail;
  if (s == "continue") return OnFailure::proceed;
  return std::nullopt;
}

std::string_view to_string(Phase p) {
  switch (p) {
    case Phase::root: return "root";
    case Phase::immediate: return "immediate";
    case Phase::sub: return "sub";
  }
  return "?";
}

}  // namespace treeflow::core
