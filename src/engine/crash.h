// Test-only crash points (issue: reliability). When the environment variable
// TREEFLOW_CRASH_AT is "<name>" or "<name>:<n>", the engine calls _exit(86)
// the n-th time (default 1st) it reaches crash_point("<name>"). Costs one
// branch when unset. Names: before_commit, after_commit, after_children_insert,
// before_join_insert, after_dispatch, after_fanout_chunk.
#pragma once

namespace treeflow::engine {
void crash_point(const char* name);
}
