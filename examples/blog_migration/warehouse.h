// The "data warehouse": serves data/warehouse.json page by page, as a plain
// (non-workflow) endpoint of the same service.
//
//   GET /blogs?page=N&page_size=K
//   -> {"page": N, "page_size": K, "blogs": [...], "next_page": N+1 or null}
#pragma once

#include <treeflow/http.h>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>

namespace blog {

class Warehouse {
 public:
  // Reads and parses the file once; throws with the path and reason.
  static Warehouse load(const std::string& path);

  std::size_t size() const { return blogs_.size(); }
  boost::json::value page(std::int64_t page, std::int64_t page_size) const;

  // GET /blogs: 400 for a bad page or page_size (1..1000).
  treeflow::HttpResponse handle(const treeflow::HttpRequest& request) const;

 private:
  boost::json::array blogs_;
};

// JSON parse options for this data: comments nest 79 levels deep here (and
// deeper elsewhere), far beyond Boost.JSON's default limit of 32.
boost::json::value parse_deep(std::string_view text);

}  // namespace blog
