// libFuzzer target: the envelope an endpoint answers with (untrusted bytes
// from any endpoint) -> core::parse_envelope -> core::expand, as the scheduler
// does on a 2xx answer marked X-Workflow-Envelope: 1. See fuzz/README.md.
//
// Invariants (a violation calls __builtin_trap(), which libFuzzer reports as a
// crash and saves the input):
//   * no exception escapes parse_envelope, expand or to_json/parse_specs;
//   * every child has a 24 lower-case hex id, the parent's id, an absolute
//     http(s) URL with a host within max_url_bytes, valid headers without
//     X-Workflow-*, a body within max_payload_bytes (empty for GET/HEAD/DELETE);
//   * child ids are unique;
//   * expand is deterministic: the same input twice gives identical children;
//   * specs survive the round trip the scheduler uses to store sub_task_next
//     until the join fires (to_json -> parse_specs).
#include <cstddef>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "core/envelope.h"
#include "core/inputs.h"
#include "core/types.h"
#include "core/url.h"

namespace core = treeflow::core;

namespace {

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

constexpr std::string_view kParentId = "0123456789abcdef01234567";

const core::TaskRequest& parent_request() {
  static const core::TaskRequest r = [] {
    core::TaskRequest t;
    t.method = "POST";
    t.url = "http://127.0.0.1:9/a/b?x=1";
    t.headers = {{"Authorization", "Bearer secret"},
                 {"X-Tenant", "acme"},
                 {"Content-Type", "application/json"},
                 {"X-Workflow-Task-Id", "ffffffffffffffffffffffff"},  // stripped by expand
                 {"Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
    t.body = R"({"page":1})";
    return t;
  }();
  return r;
}

bool is_hex24(const std::string& id) {
  if (id.size() != 24) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool lower_eq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

void check_child(const core::NewTask& t, core::Phase phase, const core::Limits& limits) {
  CHECK(is_hex24(t.id));
  CHECK(t.parent_id == kParentId);
  CHECK(t.phase == phase);
  CHECK(t.depth == 1);
  CHECK(!t.queue.empty());
  const auto& r = t.request;
  CHECK(r.url.size() <= limits.max_url_bytes);
  auto u = boost::urls::parse_uri(r.url);
  CHECK(u.has_value());
  CHECK(lower_eq(u->scheme(), "http") || lower_eq(u->scheme(), "https"));
  CHECK(u->has_authority() && !u->encoded_host().empty());
  const bool body_method = r.method == "POST" || r.method == "PUT" || r.method == "PATCH";
  CHECK(body_method || r.method == "GET" || r.method == "HEAD" || r.method == "DELETE");
  CHECK(r.body.size() <= limits.max_payload_bytes);
  if (!body_method) CHECK(r.body.empty());
  if (!r.body.empty()) {
    boost::system::error_code ec;
    core::parse_json(r.body, ec);
    CHECK(!ec);  // bodies are serialized JSON
  }
  CHECK(core::validate_headers(r.headers, limits).ok());
  for (const auto& [name, value] : r.headers) {
    std::string n = name;
    for (char& c : n) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    CHECK(n.rfind("x-workflow-", 0) != 0);
  }
}

bool same_task(const core::NewTask& a, const core::NewTask& b) {
  return a.id == b.id && a.parent_id == b.parent_id && a.phase == b.phase &&
         a.spec_index == b.spec_index && a.item_index == b.item_index && a.depth == b.depth &&
         a.queue == b.queue && a.on_failure == b.on_failure &&
         a.request.method == b.request.method && a.request.url == b.request.url &&
         a.request.headers == b.request.headers && a.request.body == b.request.body;
}

// JSON equality where doubles may differ in the last bits: Boost.JSON 1.81
// does not parse decimal text with correct rounding, so a huge literal and
// its serialized E-notation can land on neighbouring doubles. Iterative.
bool same_json(const boost::json::value& x, const boost::json::value& y) {
  std::vector<std::pair<const boost::json::value*, const boost::json::value*>> todo{{&x, &y}};
  while (!todo.empty()) {
    auto [a, b] = todo.back();
    todo.pop_back();
    if (a->is_double() || b->is_double()) {
      if (!a->is_number() || !b->is_number()) return false;
      double da = a->to_number<double>(), db = b->to_number<double>();
      if (da != db && std::fabs(da - db) > 1e-12 * std::max(std::fabs(da), std::fabs(db)))
        return false;
      continue;
    }
    if (a->kind() != b->kind()) return false;
    if (a->is_array()) {
      const auto &aa = a->get_array(), &ba = b->get_array();
      if (aa.size() != ba.size()) return false;
      for (std::size_t i = 0; i < aa.size(); ++i) todo.emplace_back(&aa[i], &ba[i]);
    } else if (a->is_object()) {
      const auto &ao = a->get_object(), &bo = b->get_object();
      if (ao.size() != bo.size()) return false;
      for (const auto& kv : ao) {
        const auto* other = bo.if_contains(kv.key());
        if (!other) return false;
        todo.emplace_back(&kv.value(), other);
      }
    } else if (*a != *b) {
      return false;
    }
  }
  return true;
}

bool same_spec(const core::NextSpec& a, const core::NextSpec& b) {
  bool same_custom = a.custom_input.has_value() == b.custom_input.has_value() &&
                     (!a.custom_input || same_json(*a.custom_input, *b.custom_input));
  return a.url == b.url && a.method == b.method && a.input_type == b.input_type &&
         a.input_path == b.input_path && same_custom && a.headers == b.headers &&
         a.queue == b.queue && a.on_failure == b.on_failure;
}

core::Result<std::vector<core::NewTask>> run_expand(const std::vector<core::NextSpec>& specs,
                                                     core::Phase phase,
                                                     const boost::json::value& data,
                                                     const std::vector<boost::json::value>* kids,
                                                     const core::Limits& limits) {
  core::ExpandInput in;
  in.parent_id = kParentId;
  in.parent_request = &parent_request();
  in.parent_queue = "default";
  in.parent_depth = 0;
  in.phase = phase;
  in.specs = &specs;
  in.data = &data;
  in.children_data = kids;
  in.limits = &limits;
  return core::expand(in);
}

void check_expand(const std::vector<core::NextSpec>& specs, core::Phase phase,
                  const boost::json::value& data, const std::vector<boost::json::value>* kids,
                  const core::Limits& limits) {
  auto first = run_expand(specs, phase, data, kids, limits);
  auto second = run_expand(specs, phase, data, kids, limits);
  CHECK(first.ok() == second.ok());
  if (!first) {
    CHECK(!first.error().code.empty() && !first.error().message.empty());
    CHECK(first.error().code == second.error().code);
    CHECK(first.error().message == second.error().message);
    return;
  }
  CHECK(first->size() == second->size());
  CHECK(first->size() <= limits.max_fanout);
  std::set<std::string> ids;
  for (std::size_t i = 0; i < first->size(); ++i) {
    const auto& t = (*first)[i];
    check_child(t, phase, limits);
    CHECK(same_task(t, (*second)[i]));
    CHECK(t.spec_index < specs.size());
    CHECK(ids.insert(t.id).second);  // unique
  }
}

void check_spec_round_trip(const std::vector<core::NextSpec>& specs, bool is_sub,
                           const core::Limits& limits) {
  // Serialized and parsed again, as the scheduler stores sub_task_next.
  std::string text = boost::json::serialize(core::to_json(specs));
  boost::system::error_code ec;
  boost::json::value v = core::parse_json(text, ec);
  CHECK(!ec);
  auto back = core::parse_specs(v, is_sub ? "sub_task_next" : "immediate_next", is_sub, limits);
  CHECK(back.ok());
  CHECK(back->size() == specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) CHECK(same_spec(specs[i], (*back)[i]));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const core::Limits limits;  // the defaults
  static const std::vector<boost::json::value> children_data = {
      boost::json::parse(R"({"id":1,"ok":true})"), boost::json::value(nullptr),
      boost::json::parse(R"({"error":"HTTP 500"})")};
  try {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    auto env = core::parse_envelope(body, limits);
    if (!env) {
      CHECK(!env.error().code.empty() && !env.error().message.empty());
      return 0;
    }
    CHECK(env->status_code >= 100 && env->status_code <= 599);
    CHECK(env->immediate_next.size() <= limits.max_specs);
    CHECK(env->sub_task_next.size() <= limits.max_specs);
    check_spec_round_trip(env->immediate_next, false, limits);
    check_spec_round_trip(env->sub_task_next, true, limits);
    check_expand(env->immediate_next, core::Phase::immediate, env->data, nullptr, limits);
    // The join, with the children's data of three immediate children.
    check_expand(env->sub_task_next, core::Phase::sub, env->data, &children_data, limits);
  } catch (...) {
    __builtin_trap();
  }
  return 0;
}
