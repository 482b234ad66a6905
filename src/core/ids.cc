#include "core/ids.h"

#include <openssl/sha.h>

#include <algorithm>
#include <iterator>

namespace treeflow::core {

namespace {

constexpr char kHex[] = "0123456789abcdef";

char phase_char(Phase p) {
  switch (p) {
    case Phase::root: return 'r';
    case Phase::immediate: return 'i';
    case Phase::sub: return 's';
  }
  return '?';
}

}  // namespace

ChildIdPrefix child_id_prefix(std::string_view parent_id, Phase phase, std::uint32_t spec_index) {
  std::string input;
  input.reserve(parent_id.size() + 32);
  input.append(parent_id);
  input.push_back('/');
  input.push_back(phase_char(phase));
  input.push_back('/');
  input.append(std::to_string(spec_index));

  // 64 bits of hash per (parent, phase, spec): a collision between two of a
  // billion such groups has a chance of about 3 in 100 million.
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  ChildIdPrefix prefix;
  for (int i = 0; i < 8; ++i) {
    prefix.hex[2 * i] = kHex[digest[i] >> 4];
    prefix.hex[2 * i + 1] = kHex[digest[i] & 0x0f];
  }
  return prefix;
}

std::string child_task_id(const ChildIdPrefix& prefix, std::uint32_t item_index) {
  std::string id(24, '0');
  std::copy(std::begin(prefix.hex), std::end(prefix.hex), id.begin());
  for (int i = 0; i < 8; ++i) id[16 + i] = kHex[(item_index >> (28 - 4 * i)) & 0x0f];
  return id;
}

std::string child_task_id(std::string_view parent_id, Phase phase, std::uint32_t spec_index,
                          std::uint32_t item_index) {
  return child_task_id(child_id_prefix(parent_id, phase, spec_index), item_index);
}

std::string root_task_id(std::string_view run_id) {
  return child_task_id(run_id, Phase::root, 0, 0);
}

std::string run_id_from_entropy(const unsigned char (&entropy)[16]) {
  // RFC 4648 base32 alphabet, lower-cased; 128 bits -> 26 characters (the
  // last one carries 3 bits plus 2 zero bits of padding), no '=' padding.
  static constexpr char kB32[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string id = "r";
  id.reserve(27);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char byte : entropy) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      id.push_back(kB32[(buffer >> (bits - 5)) & 0x1f]);
      bits -= 5;
    }
  }
  if (bits > 0) id.push_back(kB32[(buffer << (5 - bits)) & 0x1f]);
  return id;
}

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 500) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace treeflow::core
