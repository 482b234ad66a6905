#include "warehouse.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace blog {

namespace json = boost::json;

json::value parse_deep(std::string_view text) {
  json::parse_options opts;
  opts.max_depth = 100000;
  return json::parse(text, {}, opts);
}

Warehouse Warehouse::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  json::value doc;
  try {
    doc = parse_deep(ss.str());
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": not valid JSON: " + e.what());
  }
  if (!doc.is_array()) throw std::runtime_error(path + ": the top level is not an array of blogs");
  Warehouse w;
  w.blogs_ = std::move(doc.get_array());
  return w;
}

json::value Warehouse::page(std::int64_t page, std::int64_t page_size) const {
  json::array items;
  auto total = static_cast<std::int64_t>(blogs_.size());
  std::int64_t begin = (page - 1) * page_size;
  for (std::int64_t i = begin; i < total && i < begin + page_size; ++i)
    items.push_back(blogs_[static_cast<std::size_t>(i)]);
  json::object out;
  out["page"] = page;
  out["page_size"] = page_size;
  out["blogs"] = std::move(items);
  if (begin + page_size < total)
    out["next_page"] = page + 1;
  else
    out["next_page"] = nullptr;
  return out;
}

namespace {

std::int64_t int_param(const treeflow::HttpRequest& r, const char* name, std::int64_t dflt,
                       std::int64_t lo, std::int64_t hi) {
  auto v = r.query_param(name);
  if (!v) return dflt;
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v->size() || n < lo || n > hi)
    throw std::invalid_argument(std::string(name) + " must be an integer in " + std::to_string(lo) +
                                ".." + std::to_string(hi) + ", got \"" + *v + "\"");
  return n;
}

treeflow::HttpResponse json_answer(int status, const json::value& body) {
  treeflow::HttpResponse res;
  res.status = status;
  res.headers.emplace_back("Content-Type", "application/json");
  res.body = json::serialize(body);
  return res;
}

}  // namespace

treeflow::HttpResponse Warehouse::handle(const treeflow::HttpRequest& request) const {
  try {
    auto p = int_param(request, "page", 1, 1, 1'000'000'000);
    auto k = int_param(request, "page_size", 50, 1, 1000);
    return json_answer(200, page(p, k));
  } catch (const std::invalid_argument& e) {
    return json_answer(400, {{"error", {{"code", "bad_request"}, {"message", e.what()}}}});
  }
}

}  // namespace blog
