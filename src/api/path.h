// Splitting a request path into its segments: pure, shared by the API server
// and its fuzz target (fuzz/fuzz_api_request.cc).
#pragma once

#include <string_view>
#include <vector>

namespace treeflow::api {

// "/v1//runs/r1/" -> {"v1", "runs", "r1"}: empty segments are dropped.
inline std::vector<std::string_view> split_path(std::string_view p) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < p.size()) {
    while (i < p.size() && p[i] == '/') ++i;
    std::size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    if (j > i) out.push_back(p.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace treeflow::api
