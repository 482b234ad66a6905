#include "core/ids.h"

#include <set>
#include <string>

#include <gtest/gtest.h>
#include <openssl/sha.h>

namespace treeflow::core {
namespace {

// The documented formula: 16 hex of SHA-256(group), then the item as 8 hex.
std::string formula(const std::string& group, std::uint32_t item) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(group.data()), group.size(), d);
  char buf[3];
  std::string out;
  for (int i = 0; i < 8; ++i) {
    snprintf(buf, sizeof buf, "%02x", d[i]);
    out += buf;
  }
  char tail[9];
  snprintf(tail, sizeof tail, "%08x", item);
  return out + tail;
}

bool is_lower_hex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST(Ids, ChildIdIs24LowerHex) {
  std::string id = child_task_id("abc", Phase::immediate, 0, 0);
  EXPECT_EQ(id.size(), 24u);
  EXPECT_TRUE(is_lower_hex(id));
}

TEST(Ids, ChildIdMatchesDocumentedFormula) {
  EXPECT_EQ(child_task_id("parent", Phase::immediate, 2, 7), formula("parent/i/2", 7));
  EXPECT_EQ(child_task_id("parent", Phase::sub, 0, 0), formula("parent/s/0", 0));
  EXPECT_EQ(child_task_id("run1", Phase::root, 0, 0), formula("run1/r/0", 0));
  EXPECT_EQ(child_task_id("p", Phase::immediate, 4294967295u, 4294967295u),
            formula("p/i/4294967295", 4294967295u));
}

TEST(Ids, KnownVector) {
  // Computed independently with `printf 'abc/i/0' | sha256sum | cut -c1-16`;
  // pins the id format (stored ids depend on it: schema version 2).
  EXPECT_EQ(child_task_id("abc", Phase::immediate, 0, 0), "634f3f3a9766c50700000000");
  EXPECT_EQ(child_task_id("parent", Phase::sub, 3, 5), "6ba7ef22a513253300000005");
  EXPECT_EQ(child_task_id("parent", Phase::immediate, 2, 0x1234abcd), "b4e39da8ba9b7d9c1234abcd");
  // SHA-256("") prefix: e3b0c44298fc1c14...; checks the hex encoding itself.
  EXPECT_EQ(formula("", 255), "e3b0c44298fc1c14000000ff");
}

TEST(Ids, SiblingsAreAdjacentInIdOrder) {
  // What keeps a fan-out's index inserts on a few pages.
  std::string prev = child_task_id("p", Phase::immediate, 0, 0);
  for (std::uint32_t i = 1; i < 1000; ++i) {
    std::string id = child_task_id("p", Phase::immediate, 0, i);
    EXPECT_LT(prev, id);
    EXPECT_EQ(prev.substr(0, 16), id.substr(0, 16));
    prev = id;
  }
}

TEST(Ids, Deterministic) {
  EXPECT_EQ(child_task_id("x", Phase::sub, 3, 4), child_task_id("x", Phase::sub, 3, 4));
}

TEST(Ids, EveryComponentMatters) {
  std::set<std::string> ids;
  for (const char* parent : {"a", "b"}) {
    for (Phase ph : {Phase::root, Phase::immediate, Phase::sub}) {
      for (std::uint32_t s = 0; s < 3; ++s) {
        for (std::uint32_t i = 0; i < 3; ++i) ids.insert(child_task_id(parent, ph, s, i));
      }
    }
  }
  EXPECT_EQ(ids.size(), 2u * 3 * 3 * 3);
}

TEST(Ids, NoAmbiguityBetweenSpecAndItem) {
  // "1/11" vs "11/1" must differ: the separator is part of the hash input.
  EXPECT_NE(child_task_id("p", Phase::immediate, 1, 11), child_task_id("p", Phase::immediate, 11, 1));
}

TEST(Ids, ManyChildrenUnique) {
  std::set<std::string> ids;
  for (std::uint32_t i = 0; i < 100000; ++i) ids.insert(child_task_id("p", Phase::immediate, 0, i));
  EXPECT_EQ(ids.size(), 100000u);
}

TEST(Ids, RootIdIsRootPhaseChildOfRun) {
  EXPECT_EQ(root_task_id("rabc"), child_task_id("rabc", Phase::root, 0, 0));
  EXPECT_EQ(root_task_id("rabc"), "dc626c2da4e9808c00000000");
  EXPECT_NE(root_task_id("rabc"), root_task_id("rabd"));
}

TEST(Ids, RunIdFromZeroEntropy) {
  unsigned char e[16] = {};
  EXPECT_EQ(run_id_from_entropy(e), "r" + std::string(26, 'a'));
}

TEST(Ids, RunIdFromAllOnes) {
  unsigned char e[16];
  for (auto& b : e) b = 0xff;
  // 128 one bits: 25 full groups of 5 ("7") then 3 bits + 2 zero bits = 11100 = 28 = '4'.
  EXPECT_EQ(run_id_from_entropy(e), "r" + std::string(25, '7') + "4");
}

TEST(Ids, RunIdRfc4648Vector) {
  // RFC 4648 test vector: BASE32("foobar") = "MZXW6YTBOI======"; with our
  // 16 bytes "foobar" followed by zero bytes the prefix must match.
  unsigned char e[16] = {'f', 'o', 'o', 'b', 'a', 'r'};
  std::string id = run_id_from_entropy(e);
  ASSERT_EQ(id.size(), 27u);
  EXPECT_EQ(id.substr(0, 10), "rmzxw6ytbo");
}

TEST(Ids, RunIdShapeAndValidName) {
  unsigned char e[16];
  for (int i = 0; i < 16; ++i) e[i] = static_cast<unsigned char>(i * 37 + 11);
  std::string id = run_id_from_entropy(e);
  ASSERT_EQ(id.size(), 27u);
  EXPECT_EQ(id[0], 'r');
  for (char c : id.substr(1)) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << c;
  EXPECT_TRUE(is_valid_name(id));
  unsigned char e2[16];
  std::copy(std::begin(e), std::end(e), std::begin(e2));
  e2[15] ^= 1;
  EXPECT_NE(run_id_from_entropy(e2), id);
}

TEST(Ids, ValidNames) {
  EXPECT_TRUE(is_valid_name("default"));
  EXPECT_TRUE(is_valid_name("a"));
  EXPECT_TRUE(is_valid_name("Queue-1_b"));
  EXPECT_TRUE(is_valid_name(std::string(500, 'x')));
  EXPECT_FALSE(is_valid_name(std::string(501, 'x')));
  EXPECT_FALSE(is_valid_name(""));
  EXPECT_FALSE(is_valid_name("not a valid id"));
  EXPECT_FALSE(is_valid_name("a.b"));
  EXPECT_FALSE(is_valid_name("a/b"));
  EXPECT_FALSE(is_valid_name("é"));
  EXPECT_FALSE(is_valid_name(std::string("a\0b", 3)));
}

}  // namespace
}  // namespace treeflow::core
