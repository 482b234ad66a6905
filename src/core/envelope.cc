#include "core/envelope.h"

#include <cmath>
#include <vector>
#include <functional>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>

#include "core/ids.h"
#include "core/text.h"

namespace treeflow::core {

namespace {

// Response data nests deeply (threads of replies); Boost.JSON's default of 32
// levels is far too low.
constexpr std::size_t kMaxJsonDepth = 10'000;

Error env_error(std::string msg) { return Error{"envelope_invalid", std::move(msg)}; }
Error spec_error(std::string msg) { return Error{"spec_invalid", std::move(msg)}; }

std::string got(const boost::json::value& v) { return "got " + std::string(text::kind_name(v)); }

bool valid_json_pointer(std::string_view p) {
  if (p.empty()) return true;
  if (p.front() != '/') return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '~') {
      if (i + 1 >= p.size() || (p[i + 1] != '0' && p[i + 1] != '1')) return false;
    }
  }
  return true;
}

bool has_crlf(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// An object of string values -> Headers. `where` names the field.
Result<Headers> parse_header_object(const boost::json::value& v, const std::string& where,
                                    const std::function<Error(std::string)>& make_error) {
  Headers out;
  if (v.is_null()) return out;
  if (!v.is_object()) return make_error(where + ": expected an object of strings, " + got(v));
  for (const auto& kv : v.get_object()) {
    std::string field = where + "." + std::string(kv.key());
    if (!kv.value().is_string()) return make_error(field + ": expected a string, " + got(kv.value()));
    if (kv.key().empty()) return make_error(where + ": empty header name");
    if (has_crlf(kv.key()) || has_crlf(kv.value().get_string())) {
      return make_error(field + ": CR, LF or NUL in a header");
    }
    out.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
  }
  return out;
}

}  // namespace

Result<NextSpec> parse_spec(const boost::json::value& v, std::string_view where_sv, bool is_sub) {
  const std::string where(where_sv);
  if (!v.is_object()) return spec_error(where + ": expected an object, " + got(v));
  const auto& o = v.get_object();
  NextSpec spec;
  bool has_url = false;
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    const boost::json::value& f = kv.value();
    const std::string field = where + "." + std::string(key);
    if (key == "url") {
      if (!f.is_string()) return spec_error(field + ": expected a string, " + got(f));
      if (f.get_string().empty()) return spec_error(field + ": must not be empty");
      spec.url = std::string(f.get_string());
      has_url = true;
    } else if (key == "method") {
      if (f.is_null()) continue;
      if (!f.is_string()) return spec_error(field + ": expected a string, " + got(f));
      std::string m(f.get_string());
      for (char& c : m) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
      if (m != "GET" && m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE" && m != "HEAD") {
        return spec_error(field + ": unknown method " + text::quote(f.get_string()) +
                          " (expected GET, POST, PUT, PATCH, DELETE or HEAD)");
      }
      spec.method = std::move(m);
    } else if (key == "input_type") {
      if (f.is_null()) continue;
      if (!f.is_string()) return spec_error(field + ": expected a string, " + got(f));
      auto t = input_type_from_string(f.get_string());
      if (!t) {
        return spec_error(field + ": unknown input type " + text::quote(f.get_string()) +
                          " (expected response, each, custom, none or children)");
      }
      if (*t == InputType::children && !is_sub) {
        return spec_error(field +
                          ": \"children\" is only allowed in sub_task_next (the immediate children "
                          "do not exist yet)");
      }
      spec.input_type = *t;
    } else if (key == "input_path") {
      if (f.is_null()) continue;
      if (!f.is_string()) return spec_error(field + ": expected a string, " + got(f));
      if (!valid_json_pointer(f.get_string())) {
        return spec_error(field + ": " + text::quote(f.get_string()) +
                          " is not a JSON Pointer (expected \"\" or a path such as \"/items\")");
      }
      spec.input_path = std::string(f.get_string());
    } else if (key == "custom_input") {
      if (f.is_null()) continue;
      if (!f.is_object()) return spec_error(field + ": expected an object, " + got(f));
      spec.custom_input = f.get_object();
    } else if (key == "headers") {
      auto h = parse_header_object(f, field, spec_error);
      if (!h) return h.error();
      spec.headers = std::move(*h);
    } else if (key == "queue") {
      if (f.is_null()) continue;
      if (!f.is_string()) return spec_error(field + ": expected a string, " + got(f));
      if (!f.get_string().empty() && !is_valid_name(f.get_string())) {
        return spec_error(field + ": " + text::quote(f.get_string()) +
                          " is not a valid queue name (letters, digits, '-' and '_', 1 to 500 "
                          "characters)");
      }
      spec.queue = std::string(f.get_string());
    } else if (key == "on_failure") {
      if (f.is_null()) continue;
      if (!f.is_string()) return spec_error(field + ": expected a string, " + got(f));
      auto of = on_failure_from_string(f.get_string());
      if (!of) {
        return spec_error(field + ": unknown value " + text::quote(f.get_string()) +
                          " (expected fail or continue)");
      }
      spec.on_failure = *of;
    } else {
      return spec_error(field + ": unknown field (expected url, method, input_type, input_path, "
                                "custom_input, headers, queue or on_failure)");
    }
  }
  if (!has_url) return spec_error(where + ".url: missing");
  return spec;
}

Result<std::vector<NextSpec>> parse_specs(const boost::json::value& v, std::string_view where_sv,
                                          bool is_sub, const Limits& limits) {
  const std::string where(where_sv);
  std::vector<NextSpec> out;
  if (v.is_null()) return out;
  if (!v.is_array()) return spec_error(where + ": expected an array, " + got(v));
  const auto& a = v.get_array();
  if (a.size() > limits.max_specs) {
    return Error{"limit_specs", where + ": " + std::to_string(a.size()) +
                                    " specs is over the limit of " +
                                    std::to_string(limits.max_specs) + " (max_specs)"};
  }
  out.reserve(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto s = parse_spec(a[i], where + "[" + std::to_string(i) + "]", is_sub);
    if (!s) return s.error();
    out.push_back(std::move(*s));
  }
  return out;
}

Result<Envelope> parse_envelope(std::string_view body, const Limits& limits) {
  if (body.size() > limits.max_response_bytes) {
    return Error{"limit_response", "envelope: " + std::to_string(body.size()) +
                                       " bytes is over the limit of " +
                                       std::to_string(limits.max_response_bytes) +
                                       " bytes (max_response_bytes)"};
  }
  boost::json::error_code ec;
  boost::json::value root = parse_json(body, ec);
  if (ec) return env_error("not valid JSON: " + ec.message());
  if (!root.is_object()) return env_error("expected a JSON object, " + got(root));
  const auto& o = root.get_object();

  Envelope env;
  if (const auto* id = o.if_contains("id"); id && !id->is_null()) {
    if (!id->is_string()) return env_error("id: expected a string, " + got(*id));
    env.id = std::string(id->get_string());
  }

  const auto* resp = o.if_contains("response");
  if (!resp) return env_error("response: missing");
  if (!resp->is_object()) return env_error("response: expected an object, " + got(*resp));
  const auto& r = resp->get_object();
  if (const auto* sc = r.if_contains("status_code"); sc && !sc->is_null()) {
    std::int64_t code = 0;
    if (sc->is_int64()) {
      code = sc->get_int64();
    } else if (sc->is_uint64()) {
      code = sc->get_uint64() > 1000 ? 1000 : static_cast<std::int64_t>(sc->get_uint64());
    } else {
      return env_error("response.status_code: expected an integer, " + got(*sc));
    }
    if (code < 100 || code > 599) {
      return env_error("response.status_code: " + std::to_string(code) +
                       " is not an HTTP status (100 to 599)");
    }
    env.status_code = static_cast<int>(code);
  }
  if (const auto* h = r.if_contains("headers")) {
    auto headers = parse_header_object(*h, "response.headers", env_error);
    if (!headers) return headers.error();
    env.response_headers = std::move(*headers);
  }
  const auto* data = r.if_contains("data");
  if (!data) return env_error("response.data: missing");
  env.data = *data;

  if (const auto* imm = o.if_contains("immediate_next")) {
    auto specs = parse_specs(*imm, "immediate_next", false, limits);
    if (!specs) return specs.error();
    env.immediate_next = std::move(*specs);
  }
  if (const auto* sub = o.if_contains("sub_task_next")) {
    auto specs = parse_specs(*sub, "sub_task_next", true, limits);
    if (!specs) return specs.error();
    env.sub_task_next = std::move(*specs);
  }
  return env;
}

boost::json::value to_json(const NextSpec& spec) {
  boost::json::object o;
  o["url"] = spec.url;
  o["method"] = spec.method;
  o["input_type"] = to_string(spec.input_type);
  if (!spec.input_path.empty()) o["input_path"] = spec.input_path;
  if (spec.custom_input) o["custom_input"] = *spec.custom_input;
  if (!spec.headers.empty()) {
    boost::json::object h;
    for (const auto& [name, value] : spec.headers) h[name] = value;
    o["headers"] = std::move(h);
  }
  if (!spec.queue.empty()) o["queue"] = spec.queue;
  o["on_failure"] = to_string(spec.on_failure);
  return o;
}

boost::json::value to_json(const std::vector<NextSpec>& specs) {
  boost::json::array a;
  a.reserve(specs.size());
  for (const auto& s : specs) a.push_back(to_json(s));
  return a;
}

// True if a number in `v` is not finite: Boost.JSON reads 1e999999 as
// infinity without an error, but serializes it as text it cannot read back,
// so such a value stored (a response, a sub spec) would be lost on reload.
static bool has_non_finite(const boost::json::value& v) {
  std::vector<const boost::json::value*> todo{&v};
  while (!todo.empty()) {
    const boost::json::value* x = todo.back();
    todo.pop_back();
    if (x->is_double() && !std::isfinite(x->get_double())) return true;
    if (x->is_array())
      for (const auto& e : x->get_array()) todo.push_back(&e);
    else if (x->is_object())
      for (const auto& kv : x->get_object()) todo.push_back(&kv.value());
  }
  return false;
}

boost::json::value parse_json(std::string_view text, boost::system::error_code& ec) {
  boost::json::parse_options opts;
  opts.max_depth = kMaxJsonDepth;
  boost::json::value v = boost::json::parse(text, ec, {}, opts);
  if (!ec && has_non_finite(v)) {
    ec = boost::json::error::exponent_overflow;
    return nullptr;
  }
  return v;
}

std::string leaf_data_text(std::string_view body) {
  if (body.empty()) return "null";
  boost::json::error_code ec;
  parse_json(body, ec);
  if (ec) return boost::json::serialize(boost::json::string(body));
  return std::string(body);
}

boost::json::value leaf_data(std::string_view body) {
  if (body.empty()) return nullptr;
  boost::json::error_code ec;
  boost::json::value v = parse_json(body, ec);
  if (ec) return boost::json::string(body);
  return v;
}

}  // namespace treeflow::core
