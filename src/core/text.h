// Small string helpers shared by the core's .cc files (internal, not part of
// the contract other modules code against).
#pragma once

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace treeflow::core::text {

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// "object", "array", "string", "number", "boolean", "null": for messages.
inline std::string_view kind_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::object: return "object";
    case boost::json::kind::array: return "array";
    case boost::json::kind::string: return "string";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "number";
    case boost::json::kind::bool_: return "boolean";
    case boost::json::kind::null: return "null";
  }
  return "value";
}

// A string quoted for a message: "abc" (control characters escaped, long
// strings cut so that a message stays readable).
inline std::string quote(std::string_view s, std::size_t max = 200) {
  std::string out = "\"";
  std::size_t n = 0;
  for (char c : s) {
    if (n++ == max) {
      out += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace treeflow::core::text
