// HttpRequest / HttpResponse helpers and Request::json().
#include "treeflow/http.h"

#include <cctype>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>

#include "util.h"

namespace treeflow {
namespace sdk_detail {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string error_body(std::string_view code, std::string_view message) {
  boost::json::object err;
  err["code"] = code;
  err["message"] = message;
  boost::json::object o;
  o["error"] = std::move(err);
  return boost::json::serialize(o);
}

bool parse_json(std::string_view text, boost::json::value& out, std::string& why) {
  // Boost's default nesting limit (32) is far too low for trees of nested
  // comments; the engine uses 10,000 (core/envelope.h), so does the SDK.
  boost::json::parse_options opts;
  opts.max_depth = 10000;
  boost::json::stream_parser p({}, opts);
  boost::system::error_code ec;
  std::size_t n = p.write_some(text.data(), text.size(), ec);
  if (!ec && n < text.size()) {
    // write_some stops after a complete value: anything left is garbage.
    std::size_t i = n;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i < text.size()) {
      why = "unexpected trailing characters at offset " + std::to_string(i);
      return false;
    }
  }
  if (!ec) p.finish(ec);
  if (ec) {
    why = ec.message() + " at offset " + std::to_string(n);
    return false;
  }
  out = p.release();
  return true;
}

}  // namespace sdk_detail

namespace {

std::string_view find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers)
    if (sdk_detail::iequals(k, name)) return v;
  return {};
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() &&
               hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
  return find_header(headers, name);
}

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  auto q = t.find_first_of("?#");
  return q == std::string_view::npos ? t : t.substr(0, q);
}

std::string_view HttpRequest::query() const {
  std::string_view t = target;
  auto q = t.find('?');
  if (q == std::string_view::npos) return {};
  t = t.substr(q + 1);
  auto h = t.find('#');
  return h == std::string_view::npos ? t : t.substr(0, h);
}

std::optional<std::string> HttpRequest::query_param(std::string_view name) const {
  std::string_view q = query();
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key = percent_decode(part.substr(0, eq));
    if (key != name) continue;
    if (eq == std::string_view::npos) return std::string{};
    return percent_decode(part.substr(eq + 1));
  }
  return std::nullopt;
}

std::string_view HttpResponse::header(std::string_view name) const {
  return find_header(headers, name);
}

const boost::json::value& Request::json() const {
  if (json_) return *json_;
  std::string_view body = http.body;
  bool blank = true;
  for (char c : body)
    if (!std::isspace(static_cast<unsigned char>(c))) { blank = false; break; }
  if (blank) {
    json_.emplace(nullptr);
    return *json_;
  }
  boost::json::value v;
  std::string why;
  if (!sdk_detail::parse_json(body, v, why))
    throw BadRequest("request body is not valid JSON: " + why);
  json_.emplace(std::move(v));
  return *json_;
}

}  // namespace treeflow
