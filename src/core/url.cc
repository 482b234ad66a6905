#include "core/url.h"

#include <charconv>
#include <cmath>

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include "core/text.h"

namespace treeflow::core {

namespace {

Error url_error(std::string_view url, std::string_view why) {
  return Error{"url_invalid", "url " + text::quote(url) + ": " + std::string(why)};
}

// Checks an absolute URL already parsed.
Result<std::string> check_target(std::string_view original, const boost::urls::url_view& u,
                                 const Limits& limits) {
  if (!u.has_scheme()) return url_error(original, "not an absolute URL (expected http:// or https://)");
  std::string scheme = text::lower(u.scheme());
  if (scheme != "http" && scheme != "https") {
    return url_error(original, "scheme " + text::quote(u.scheme()) +
                                   " is not supported (http or https only)");
  }
  if (!u.has_authority() || u.encoded_host().empty()) return url_error(original, "missing host");
  if (u.has_port()) {
    std::string_view port = u.port();
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return url_error(original, "invalid port " + text::quote(port));
    }
  }
  if (u.buffer().size() > limits.max_url_bytes) {
    return Error{"limit_url", "url " + text::quote(original, 80) + ": " +
                                  std::to_string(u.buffer().size()) + " bytes is over the limit of " +
                                  std::to_string(limits.max_url_bytes) + " bytes (max_url_bytes)"};
  }
  return std::string(u.buffer());
}

bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void percent_encode(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (is_unreserved(u)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
}

bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// RFC 3986 5.2.4. Boost.URL 1.81's resolve keeps ".." segments that climb
// above the root ("http://h/../x"); RFC 3986 drops them ("http://h/x").
std::string remove_dot_segments(std::string_view path) {
  std::string in(path);
  std::string out;
  auto pop_last = [&out] {
    auto pos = out.rfind('/');
    out.erase(pos == std::string::npos ? 0 : pos);
  };
  std::size_t i = 0;
  auto rest = [&] { return std::string_view(in).substr(i); };
  while (i < in.size()) {
    std::string_view r = rest();
    if (r.substr(0, 3) == "../") {
      i += 3;
    } else if (r.substr(0, 2) == "./") {
      i += 2;
    } else if (r.substr(0, 3) == "/./") {
      i += 2;
    } else if (r == "/.") {
      in.replace(i, 2, "/");
    } else if (r.substr(0, 4) == "/../") {
      i += 3;
      pop_last();
    } else if (r == "/..") {
      in.replace(i, 3, "/");
      pop_last();
    } else if (r == "." || r == "..") {
      i = in.size();
    } else {
      std::size_t end = in.find('/', i + (in[i] == '/' ? 1 : 0));
      if (end == std::string::npos) end = in.size();
      out.append(in, i, end - i);
      i = end;
    }
  }
  return out;
}

}  // namespace

Result<std::string> resolve_url(std::string_view base, std::string_view ref, const Limits& limits) {
  if (ref.empty()) return url_error(ref, "is empty");
  auto r = boost::urls::parse_uri_reference(ref);
  if (!r) return url_error(ref, "is not a valid URL or relative reference");
  if (r->has_scheme()) return check_target(ref, *r, limits);  // absolute: base not needed
  auto b = boost::urls::parse_uri(base);
  if (!b) return url_error(base, "base URL is not a valid absolute URL");
  boost::urls::url dest;
  auto res = boost::urls::resolve(*b, *r, dest);
  if (!res) return url_error(ref, "cannot be resolved against " + text::quote(base));
  if (dest.encoded_path().find('.') != std::string_view::npos) {
    dest.set_encoded_path(remove_dot_segments(dest.encoded_path()));
  }
  std::string resolved(dest.buffer());
  auto check = check_target(resolved, dest, limits);
  return check;
}

Result<std::string> validate_target_url(std::string_view url, const Limits& limits) {
  if (url.empty()) return url_error(url, "is empty");
  auto r = boost::urls::parse_uri(url);
  if (!r) {
    auto rel = boost::urls::parse_uri_reference(url);
    if (rel) return url_error(url, "not an absolute URL (expected http:// or https://)");
    return url_error(url, "is not a valid URL");
  }
  return check_target(url, *r, limits);
}

Result<std::string> append_query(std::string_view url, const boost::json::object& params) {
  if (params.empty()) return std::string(url);
  auto r = boost::urls::parse_uri_reference(url);
  if (!r) return url_error(url, "is not a valid URL");
  std::string query;
  for (const auto& kv : params) {
    const boost::json::value& v = kv.value();
    std::string value;
    switch (v.kind()) {
      case boost::json::kind::string: value = std::string(v.get_string()); break;
      case boost::json::kind::int64:
      case boost::json::kind::uint64: value = boost::json::serialize(v); break;
      case boost::json::kind::double_: {
        // Shortest round-trip form ("1.5", "1e+21"), not Boost.JSON's "1.5E0".
        double d = v.get_double();
        char buf[64];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
        value = ec == std::errc() ? std::string(buf, end) : boost::json::serialize(v);
        break;
      }
      case boost::json::kind::bool_: value = v.get_bool() ? "true" : "false"; break;
      case boost::json::kind::null: break;
      case boost::json::kind::array:
      case boost::json::kind::object:
        return Error{"payload_invalid", "query parameter " + text::quote(kv.key()) + ": an " +
                                            std::string(text::kind_name(v)) +
                                            " cannot be sent in a query string (scalars only)"};
    }
    if (!query.empty()) query.push_back('&');
    percent_encode(query, kv.key());
    query.push_back('=');
    percent_encode(query, value);
  }
  boost::urls::url u(*r);
  if (u.has_query() && !u.encoded_query().empty()) {
    std::string combined(u.encoded_query());
    combined.push_back('&');
    combined += query;
    u.set_encoded_query(combined);
  } else {
    u.set_encoded_query(query);
  }
  return std::string(u.buffer());
}

Result<bool> validate_headers(const Headers& headers, const Limits& limits) {
  std::size_t total = 0;
  for (const auto& [name, value] : headers) {
    if (name.empty()) return Error{"headers_invalid", "header with an empty name"};
    for (char c : name) {
      if (!is_tchar(static_cast<unsigned char>(c))) {
        return Error{"headers_invalid", "header " + text::quote(name) +
                                            ": the name contains a character not allowed in a "
                                            "header name (RFC 7230 token)"};
      }
    }
    for (char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') {
        return Error{"headers_invalid",
                     "header " + text::quote(name) + ": the value contains CR, LF or NUL"};
      }
    }
    total += name.size() + value.size() + 4;
  }
  if (total > limits.max_headers_bytes) {
    return Error{"limit_headers", "headers: " + std::to_string(total) +
                                      " bytes is over the limit of " +
                                      std::to_string(limits.max_headers_bytes) +
                                      " bytes (max_headers_bytes)"};
  }
  return true;
}

Headers strip_engine_headers(const Headers& headers) {
  static constexpr std::string_view kDropped[] = {
      "idempotency-key", "traceparent", "host",    "content-length", "connection",
      "transfer-encoding", "keep-alive", "upgrade", "te",           "trailer",
      "proxy-connection"};
  Headers out;
  out.reserve(headers.size());
  for (const auto& h : headers) {
    if (text::istarts_with(h.first, "x-workflow-")) continue;
    bool drop = false;
    for (auto d : kDropped) {
      if (text::iequals(h.first, d)) {
        drop = true;
        break;
      }
    }
    if (!drop) out.push_back(h);
  }
  return out;
}

Headers masked(const Headers& headers) {
  static constexpr std::string_view kSecret[] = {"authorization", "proxy-authorization", "cookie",
                                                 "set-cookie", "x-api-key", "x-workflow-signature"};
  Headers out = headers;
  for (auto& h : out) {
    for (auto s : kSecret) {
      if (text::iequals(h.first, s)) {
        h.second = "***";
        break;
      }
    }
  }
  return out;
}

}  // namespace treeflow::core
