// blog_verify: is the relational copy an exact copy of the warehouse file?
//
//   blog_verify --data data/warehouse.json --target blog.db|postgresql://...
//   blog_verify --data data/warehouse.json --source-only
//
// Computes, from the source file and from the target tables, the figures of
// data/README.md: blogs, comments, comments per depth, max depth and the
// three checksums (sha256_structure, sha256_messages, sha256_blogs; each the
// sha256 hex of lines sorted by their first field as an integer, each line
// ending "\n"). Prints both sides in full and "exact copy: yes" (exit 0) only
// when everything matches; otherwise says what differs (exit 1). Exit 2 on a
// usage or I/O error.
//
// Depths are computed with explicit stacks, never by recursion on the C++
// stack: the data is 79 levels deep and other warehouses may be deeper.
#include <openssl/evp.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "target_db.h"

namespace json = boost::json;

namespace {

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("openssl: sha256 failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

// sha256 hex of the lines sorted by their (integer) first field, each + "\n".
std::string digest(std::vector<std::pair<std::int64_t, std::string>> rows) {
  std::sort(rows.begin(), rows.end());
  std::string text;
  for (const auto& [id, line] : rows) {
    text += line;
    text += '\n';
  }
  return sha256_hex(text);
}

struct Figures {
  std::int64_t blogs = 0;
  std::int64_t comments = 0;
  std::map<int, std::int64_t> per_depth;  // depth (top-level = 1) -> comments
  std::string sha256_structure, sha256_messages, sha256_blogs;
  std::vector<std::string> problems;  // orphans, cycles, malformed items

  int max_depth() const { return per_depth.empty() ? 0 : per_depth.rbegin()->first; }
};

// Accumulates rows and produces the figures.
struct Builder {
  std::vector<std::pair<std::int64_t, std::string>> structure, messages, blogs;
  Figures fig;

  void blog(std::int64_t id, std::string_view name, std::string_view description) {
    ++fig.blogs;
    blogs.emplace_back(id,
                       std::to_string(id) + "|" + sha256_hex(name) + "|" + sha256_hex(description));
  }
  void comment(std::int64_t id, std::int64_t blog_id, const std::int64_t* parent,
               std::string_view message, int depth) {
    ++fig.comments;
    structure.emplace_back(id, std::to_string(id) + "|" + (parent ? std::to_string(*parent) : "") +
                                   "|" + std::to_string(blog_id));
    messages.emplace_back(id, std::to_string(id) + "|" + sha256_hex(message));
    if (depth > 0) ++fig.per_depth[depth];
  }
  Figures finish() {
    fig.sha256_structure = digest(std::move(structure));
    fig.sha256_messages = digest(std::move(messages));
    fig.sha256_blogs = digest(std::move(blogs));
    return std::move(fig);
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::int64_t as_id(const json::value& v, const char* what) {
  if (auto p = v.if_int64()) return *p;
  if (auto q = v.if_uint64()) return static_cast<std::int64_t>(*q);
  throw std::runtime_error(std::string(what) + " is not an integer: " + json::serialize(v));
}

std::string_view as_text(const json::object& o, const char* key, const char* what) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string())
    throw std::runtime_error(std::string(what) + " has no string \"" + key + "\"");
  const auto& s = it->value().get_string();
  return std::string_view(s.data(), s.size());
}

Figures source_figures(const std::string& path) {
  std::string text = read_file(path);
  json::parse_options opts;
  opts.max_depth = 100000;  // comments nest deeply; the default (32) is far too small
  json::value doc = json::parse(text, {}, opts);  // parsed once
  if (!doc.is_array()) throw std::runtime_error(path + ": the top level is not an array of blogs");

  Builder b;
  struct Item {
    const json::object* comment;
    std::int64_t parent;  // 0 = top level
    int depth;
  };
  std::vector<Item> stack;
  for (const json::value& bv : doc.get_array()) {
    if (!bv.is_object()) throw std::runtime_error(path + ": a blog is not an object");
    const json::object& blog = bv.get_object();
    std::int64_t blog_id = as_id(blog.at("id"), "blog id");
    b.blog(blog_id, as_text(blog, "name", "blog"), as_text(blog, "description", "blog"));

    auto push_children = [&](const json::object& owner, std::int64_t parent, int depth) {
      auto it = owner.find("comments");
      if (it == owner.end() || it->value().is_null()) return;
      if (!it->value().is_array())
        throw std::runtime_error("blog " + std::to_string(blog_id) + ": comments is not an array");
      const auto& arr = it->value().get_array();
      for (auto c = arr.rbegin(); c != arr.rend(); ++c) {
        if (!c->is_object())
          throw std::runtime_error("blog " + std::to_string(blog_id) +
                                   ": a comment is not an object");
        stack.push_back(Item{&c->get_object(), parent, depth});
      }
    };
    push_children(blog, 0, 1);
    while (!stack.empty()) {
      Item it = stack.back();
      stack.pop_back();
      std::int64_t id = as_id(it.comment->at("id"), "comment id");
      b.comment(id, blog_id, it.parent ? &it.parent : nullptr,
                as_text(*it.comment, "message", "comment"), it.depth);
      push_children(*it.comment, id, it.depth + 1);
    }
  }
  return b.finish();
}

Figures target_figures(blog::TargetDb& db) {
  std::vector<blog::BlogRow> blogs = db.read_blogs();
  std::vector<blog::CommentRow> comments = db.read_comments();
  Builder b;
  for (const auto& r : blogs) b.blog(r.id, r.name, r.description);

  // Depth of each comment by walking up parent links with an explicit path,
  // memoised, so every comment is visited a bounded number of times.
  std::unordered_map<std::int64_t, std::size_t> index;
  index.reserve(comments.size());
  for (std::size_t i = 0; i < comments.size(); ++i) index.emplace(comments[i].id, i);
  std::vector<int> depth(comments.size(), 0);  // 0 = unknown, -1 = broken chain
  std::vector<std::size_t> path;
  for (std::size_t i = 0; i < comments.size(); ++i) {
    path.clear();
    std::size_t cur = i;
    int base = 0;
    while (true) {
      if (depth[cur] != 0) {
        base = depth[cur];
        break;
      }
      path.push_back(cur);
      if (path.size() > comments.size()) {  // a cycle of parent links
        b.fig.problems.push_back("comment " + std::to_string(comments[i].id) +
                                 ": cycle in parent links");
        base = -1;
        break;
      }
      const auto& p = comments[cur].parent_id;
      if (!p) {
        base = 0;  // top level: the node itself gets depth 1
        break;
      }
      auto f = index.find(*p);
      if (f == index.end()) {
        b.fig.problems.push_back("comment " + std::to_string(comments[cur].id) +
                                 ": parent comment " + std::to_string(*p) + " is missing");
        base = -1;
        break;
      }
      cur = f->second;
    }
    // Unwind: path.back() is the highest node whose depth was unknown.
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      if (depth[*it] != 0) continue;  // set inside a cycle already
      depth[*it] = base < 0 ? -1 : ++base;
    }
  }
  for (std::size_t i = 0; i < comments.size(); ++i) {
    const auto& c = comments[i];
    b.comment(c.id, c.blog_id, c.parent_id ? &*c.parent_id : nullptr, c.message,
              depth[i] > 0 ? depth[i] : 0);
  }
  return b.finish();
}

std::string per_depth_text(const Figures& f) {
  std::string s;
  for (const auto& [d, n] : f.per_depth) {
    if (!s.empty()) s += ' ';
    s += std::to_string(d) + ":" + std::to_string(n);
  }
  return s.empty() ? "(none)" : s;
}

// Wraps "a b c ..." to lines of about `width` characters, each indented.
std::string wrap(const std::string& words, std::size_t width, const std::string& indent) {
  std::istringstream in(words);
  std::string w, line, out;
  while (in >> w) {
    if (!line.empty() && line.size() + 1 + w.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + w;
  }
  if (!line.empty()) out += indent + line + "\n";
  return out;
}

void print_source_only(const std::string& data, const Figures& s) {
  std::printf("source: %s\n", data.c_str());
  std::printf("blogs             %lld\n", static_cast<long long>(s.blogs));
  std::printf("comments          %lld\n", static_cast<long long>(s.comments));
  std::printf("max depth         %d\n", s.max_depth());
  std::printf("sha256_structure  %s\n", s.sha256_structure.c_str());
  std::printf("sha256_messages   %s\n", s.sha256_messages.c_str());
  std::printf("sha256_blogs      %s\n", s.sha256_blogs.c_str());
  std::printf("comments per depth (depth:count):\n%s", wrap(per_depth_text(s), 78, "  ").c_str());
}

int compare(const std::string& data, const std::string& target_name, const Figures& s,
            const Figures& t) {
  std::vector<std::string> diffs;
  auto row = [&](const char* what, const std::string& a, const std::string& b) {
    bool same = a == b;
    if (!same) diffs.push_back(what);
    std::printf("%-18s %-66s %-66s %s\n", what, a.c_str(), b.c_str(), same ? "ok" : "DIFFERS");
  };
  std::printf("%-18s %-66s %-66s\n", "", ("source: " + data).c_str(),
              ("target: " + target_name).c_str());
  row("blogs", std::to_string(s.blogs), std::to_string(t.blogs));
  row("comments", std::to_string(s.comments), std::to_string(t.comments));
  row("max depth", std::to_string(s.max_depth()), std::to_string(t.max_depth()));
  row("sha256_structure", s.sha256_structure, t.sha256_structure);
  row("sha256_messages", s.sha256_messages, t.sha256_messages);
  row("sha256_blogs", s.sha256_blogs, t.sha256_blogs);

  std::string sd = per_depth_text(s), td = per_depth_text(t);
  std::printf("comments per depth (depth:count), source:\n%s", wrap(sd, 100, "  ").c_str());
  std::printf("comments per depth (depth:count), target:\n%s", wrap(td, 100, "  ").c_str());
  if (sd == td) {
    std::printf("comments per depth: ok\n");
  } else {
    diffs.push_back("comments per depth");
    std::map<int, std::pair<std::int64_t, std::int64_t>> both;
    for (const auto& [d, n] : s.per_depth) both[d].first = n;
    for (const auto& [d, n] : t.per_depth) both[d].second = n;
    std::printf("comments per depth: DIFFERS at");
    for (const auto& [d, p] : both)
      if (p.first != p.second)
        std::printf(" %d (source %lld, target %lld)", d, static_cast<long long>(p.first),
                    static_cast<long long>(p.second));
    std::printf("\n");
  }
  if (!t.problems.empty()) {
    diffs.push_back("target integrity");
    std::printf("target integrity problems (%zu):\n", t.problems.size());
    for (std::size_t i = 0; i < t.problems.size() && i < 20; ++i)
      std::printf("  %s\n", t.problems[i].c_str());
    if (t.problems.size() > 20) std::printf("  ... and %zu more\n", t.problems.size() - 20);
  }
  if (diffs.empty()) {
    std::printf("exact copy: yes\n");
    return 0;
  }
  std::string list;
  for (const auto& d : diffs) list += (list.empty() ? "" : ", ") + d;
  std::printf("exact copy: NO (differs: %s)\n", list.c_str());
  return 1;
}

void usage(std::FILE* to) {
  std::fprintf(
      to,
      "usage: blog_verify --data FILE (--target blog.db|postgresql://... | --source-only)\n"
      "  Compares the warehouse file with its relational copy (blog, comment tables):\n"
      "  counts, comments per depth and the checksums of data/README.md.\n"
      "  Exit 0: exact copy; 1: the copy differs; 2: usage or I/O error.\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string data, target;
  bool source_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "blog_verify: %s needs a value\n", name);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--data")
      data = value("--data");
    else if (a == "--target")
      target = value("--target");
    else if (a == "--source-only")
      source_only = true;
    else if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "blog_verify: unknown argument %s\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (data.empty() || (!source_only && target.empty())) {
    usage(stderr);
    return 2;
  }

  Figures s;
  try {
    s = source_figures(data);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "blog_verify: source %s: %s\n", data.c_str(), e.what());
    return 2;
  }
  if (source_only) {
    print_source_only(data, s);
    return 0;
  }
  Figures t;
  std::string target_name = target;
  try {
    auto db = blog::open_target(target, /*create=*/false);
    target_name = db->describe();
    t = target_figures(*db);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "blog_verify: target %s: %s\n", target.c_str(), e.what());
    return 2;
  }
  std::fflush(stdout);
  return compare(data, target_name, s, t);
}
