// Deterministic task ids (SPEC section 3, "Exactly-once scheduling"): a
// child's id is a function of (parent id, phase, spec index, item index), so
// processing the same answer twice inserts the same ids and the store ignores
// the second insert. Ids are 24 lower-case hex characters, which fit Cloud
// Tasks' task-name rules: 16 of SHA-256("<parent>/<phase r|i|s>/<spec>"),
// then the item index as 8 hex digits. Siblings are thus adjacent in the
// store's id index: a fan-out's inserts touch a few index pages, not one
// page per child (which, written to the WAL at every commit, cost a quarter
// of the throughput).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/types.h"

namespace treeflow::core {

std::string child_task_id(std::string_view parent_id, Phase phase, std::uint32_t spec_index,
                          std::uint32_t item_index);

// The same in two steps, for a whole fan-out: the hash of (parent, phase,
// spec) once, then each child's id from it (child_task_id hashes per call).
struct ChildIdPrefix {
  char hex[16];
};
ChildIdPrefix child_id_prefix(std::string_view parent_id, Phase phase, std::uint32_t spec_index);
std::string child_task_id(const ChildIdPrefix& prefix, std::uint32_t item_index);

// The root task's id is derived from the run id the same way.
std::string root_task_id(std::string_view run_id);

// A run id from 16 bytes of caller-supplied entropy: "r" + 26 base32 chars.
// (The core takes the randomness as input so that it stays pure.)
std::string run_id_from_entropy(const unsigned char (&entropy)[16]);

// Names given by users (queues, run names): letters, digits, '-', '_', 1..500
// characters, as Cloud Tasks requires.
bool is_valid_name(std::string_view name);

}  // namespace treeflow::core
