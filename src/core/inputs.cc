#include "core/inputs.h"

#include <boost/json/serialize.hpp>

#include "core/ids.h"
#include "core/text.h"
#include "core/url.h"

namespace treeflow::core {

namespace {

bool carries_body(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

// Parent headers (engine ones stripped), overridden by the spec's headers
// (names compared case-insensitively; an override takes the spec's spelling
// and the parent header's position).
Headers merge_headers(const Headers& parent, const Headers& overrides) {
  Headers out = strip_engine_headers(parent);
  for (const auto& [name, value] : overrides) {
    bool replaced = false;
    for (auto it = out.begin(); it != out.end();) {
      if (text::iequals(it->first, name)) {
        if (!replaced) {
          *it = {name, value};
          replaced = true;
          ++it;
        } else {
          it = out.erase(it);
        }
      } else {
        ++it;
      }
    }
    if (!replaced) out.emplace_back(name, value);
  }
  return strip_engine_headers(out);
}

struct Plan {
  const boost::json::value* input = nullptr;  // selected by input_path (response, each)
  std::size_t count = 0;
};

}  // namespace

boost::json::value make_payload(const NextSpec& spec, const boost::json::value* input) {
  if (spec.input_type == InputType::none) return nullptr;
  if (spec.input_type == InputType::custom) {
    return spec.custom_input ? boost::json::value(*spec.custom_input)
                             : boost::json::value(boost::json::object{});
  }
  boost::json::value payload = input ? *input : boost::json::value(nullptr);
  if (!spec.custom_input) return payload;
  const boost::json::object& custom = *spec.custom_input;
  if (payload.is_object()) {
    auto& o = payload.get_object();
    for (const auto& kv : custom) o[kv.key()] = kv.value();
    return payload;
  }
  if (payload.is_null()) return custom;
  if (custom.empty()) return payload;
  boost::json::object o;
  o.reserve(custom.size() + 1);
  o["input"] = std::move(payload);
  for (const auto& kv : custom) o[kv.key()] = kv.value();
  return o;
}

Result<std::vector<NewTask>> expand(const ExpandInput& in) {
  if (!in.parent_request || !in.specs || !in.limits) {
    return Error{"internal", "expand: parent_request, specs and limits are required"};
  }
  if (in.phase != Phase::immediate && in.phase != Phase::sub) {
    return Error{"internal", "expand: phase must be immediate or sub"};
  }
  const Limits& limits = *in.limits;
  const std::vector<NextSpec>& specs = *in.specs;
  const std::string list = in.phase == Phase::sub ? "sub_task_next" : "immediate_next";
  static const boost::json::value kNull;
  const boost::json::value& data = in.data ? *in.data : kNull;

  auto where = [&](std::size_t i) {
    return list + "[" + std::to_string(i) + "] (input_type " +
           std::string(to_string(specs[i].input_type)) + "): ";
  };
  auto fail = [&](std::size_t i, std::string code, std::string msg) {
    return Error{std::move(code), where(i) + msg};
  };

  // Pass 1: select inputs and count the children, so that a huge array fails
  // the fan-out limit before any payload is built.
  std::vector<Plan> plans(specs.size());
  std::size_t total = 0;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const NextSpec& spec = specs[i];
    Plan& plan = plans[i];
    switch (spec.input_type) {
      case InputType::response:
      case InputType::each: {
        const boost::json::value* input = &data;
        if (!spec.input_path.empty()) {
          boost::json::error_code ec;
          input = data.find_pointer(spec.input_path, ec);
          if (!input || ec) {
            return fail(i, "input_invalid", "input_path " + text::quote(spec.input_path) +
                                                " does not resolve in the response data");
          }
        }
        plan.input = input;
        if (spec.input_type == InputType::each) {
          if (!input->is_array()) {
            std::string what = spec.input_path.empty() ? std::string("the response data")
                                                       : spec.input_path;
            return fail(i, "input_invalid",
                        what + " is " + (input->is_array() || input->is_object() ? "an " : "a ") +
                            std::string(text::kind_name(*input)) + ", not an array");
          }
          plan.count = input->get_array().size();
        } else {
          plan.count = 1;
        }
        break;
      }
      case InputType::custom:
      case InputType::none:
        plan.count = 1;
        break;
      case InputType::children:
        if (!in.children_data || in.phase != Phase::sub) {
          return fail(i, "input_invalid",
                      "input_type children is only allowed in sub_task_next (the immediate "
                      "children's data is not available)");
        }
        plan.count = 1;
        break;
    }
    total += plan.count;
    if (total > limits.max_fanout) {
      return fail(i, "limit_fanout", "at least " + std::to_string(total) +
                                         " children is over the limit of " +
                                         std::to_string(limits.max_fanout) + " (max_fanout)");
    }
  }
  std::vector<NewTask> out;
  if (total == 0) return out;
  const int depth = in.parent_depth + 1;
  if (depth > limits.max_depth) {
    return Error{"limit_depth", list + ": a child at depth " + std::to_string(depth) +
                                    " is over the limit of " + std::to_string(limits.max_depth) +
                                    " (max_depth)"};
  }

  // Pass 2: build the children.
  out.reserve(total);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const NextSpec& spec = specs[i];
    const Plan& plan = plans[i];
    if (plan.count == 0) continue;

    auto url = resolve_url(in.parent_request->url, spec.url, limits);
    if (!url) return fail(i, url.error().code, url.error().message);
    Headers headers = merge_headers(in.parent_request->headers, spec.headers);
    if (auto ok = validate_headers(headers, limits); !ok) {
      return fail(i, ok.error().code, ok.error().message);
    }
    const std::string queue = spec.queue.empty() ? std::string(in.parent_queue) : spec.queue;
    const bool body_method = carries_body(spec.method);

    boost::json::value children_array;
    if (spec.input_type == InputType::children) {
      boost::json::array a;
      a.reserve(in.children_data->size());
      for (const auto& c : *in.children_data) a.push_back(c);
      children_array = std::move(a);
    }

    const ChildIdPrefix id_prefix =
        child_id_prefix(in.parent_id, in.phase, static_cast<std::uint32_t>(i));
    for (std::size_t j = 0; j < plan.count; ++j) {
      const boost::json::value* input = nullptr;
      switch (spec.input_type) {
        case InputType::response: input = plan.input; break;
        case InputType::each: input = &plan.input->get_array()[j]; break;
        case InputType::children: input = &children_array; break;
        case InputType::custom:
        case InputType::none: break;
      }
      boost::json::value payload = make_payload(spec, input);

      TaskRequest req;
      req.method = spec.method;
      req.headers = headers;
      auto item = [&] { return plan.count > 1 ? "item " + std::to_string(j) + ": " : std::string(); };
      if (body_method) {
        req.url = *url;
        if (!payload.is_null()) req.body = boost::json::serialize(payload);
        if (req.body.size() > limits.max_payload_bytes) {
          return fail(i, "limit_payload",
                      item() + "payload of " + std::to_string(req.body.size()) +
                          " bytes is over the limit of " +
                          std::to_string(limits.max_payload_bytes) + " bytes (max_payload_bytes)");
        }
      } else if (payload.is_null()) {
        req.url = *url;
      } else if (payload.is_object()) {
        auto q = append_query(*url, payload.get_object());
        if (!q) return fail(i, q.error().code, item() + spec.method + " payload: " + q.error().message);
        auto checked = validate_target_url(*q, limits);
        if (!checked) return fail(i, checked.error().code, item() + checked.error().message);
        req.url = std::move(*q);
      } else {
        return fail(i, "payload_invalid",
                    item() + spec.method + " cannot carry a payload of type " +
                        std::string(text::kind_name(payload)) +
                        " (only an object of scalars, sent as the query string)");
      }

      NewTask t;
      t.id = child_task_id(id_prefix, static_cast<std::uint32_t>(j));
      t.parent_id = std::string(in.parent_id);
      t.phase = in.phase;
      t.spec_index = static_cast<std::uint32_t>(i);
      t.item_index = static_cast<std::uint32_t>(j);
      t.depth = depth;
      t.queue = queue;
      t.on_failure = spec.on_failure;
      t.request = std::move(req);
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace treeflow::core
