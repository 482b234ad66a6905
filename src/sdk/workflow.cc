// Next builder, InitData / CompleteData serialization and the default hooks.
#include "treeflow/workflow.h"

#include <array>

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include "util.h"

namespace treeflow {
namespace {

using sdk_detail::iequals;

boost::json::object headers_object(const HeaderList& headers) {
  boost::json::object o;
  for (const auto& [k, v] : headers) {
    if (auto* prev = o.if_contains(k); prev && prev->is_string()) {
      std::string joined(prev->as_string());
      joined += ", ";
      joined += v;
      *prev = joined;
    } else {
      o[k] = v;
    }
  }
  return o;
}

boost::json::array specs(const std::vector<Next>& list) {
  boost::json::array a;
  a.reserve(list.size());
  for (const auto& n : list) a.push_back(n.to_json());
  return a;
}

bool dropped_header(std::string_view name) {
  static constexpr std::array<std::string_view, 10> kDrop = {
      "Idempotency-Key", "traceparent",       "Host",    "Content-Length",
      "Connection",      "Keep-Alive",        "Transfer-Encoding", "TE",
      "Trailer",         "Upgrade"};
  for (auto d : kDrop)
    if (iequals(name, d)) return true;
  auto prefixed = [&](std::string_view p) {
    return name.size() >= p.size() && iequals(name.substr(0, p.size()), p);
  };
  return prefixed("X-Workflow-") || prefixed("Proxy-");
}

HeaderList filtered_headers(const HttpRequest& http) {
  HeaderList out;
  for (const auto& h : http.headers)
    if (!dropped_header(h.first)) out.push_back(h);
  return out;
}

std::string absolute_url(const Request& r) {
  const std::string& target = r.http.target;
  if (target.starts_with("http://") || target.starts_with("https://")) return target;
  std::string base;
  if (!r.base_url.empty()) {
    base = r.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
  } else {
    std::string_view host = r.http.header("Host");
    base = "http://" + std::string(host.empty() ? "localhost" : host);
  }
  if (target.empty() || target.front() != '/') base += '/';
  return base + target;
}

}  // namespace

Next::Next(std::string url) { spec_["url"] = url; }

Next& Next::method(std::string m) { spec_["method"] = m; return *this; }
Next& Next::response() { spec_["input_type"] = "response"; return *this; }
Next& Next::each() { spec_["input_type"] = "each"; return *this; }
Next& Next::custom() { spec_["input_type"] = "custom"; return *this; }
Next& Next::none() { spec_["input_type"] = "none"; return *this; }
Next& Next::children() { spec_["input_type"] = "children"; return *this; }
Next& Next::input_path(std::string json_pointer) {
  spec_["input_path"] = json_pointer;
  return *this;
}
Next& Next::custom_input(boost::json::object obj) {
  spec_["custom_input"] = std::move(obj);
  return *this;
}
Next& Next::header(std::string name, std::string value) {
  auto& h = spec_["headers"];
  if (!h.is_object()) h = boost::json::object{};
  h.as_object()[name] = value;
  return *this;
}
Next& Next::queue(std::string name) { spec_["queue"] = name; return *this; }
Next& Next::on_failure_continue() { spec_["on_failure"] = "continue"; return *this; }

boost::json::value Next::to_json() const { return spec_; }

boost::json::value InitData::to_json() const {
  boost::json::object req;
  req["url"] = request.url;
  req["method"] = request.method;
  req["payload"] = request.payload;
  req["headers"] = headers_object(request.headers);
  boost::json::object o;
  o["id"] = id;
  if (parent_task.empty())
    o["parent_task"] = nullptr;
  else
    o["parent_task"] = parent_task;
  o["request"] = std::move(req);
  return o;
}

boost::json::value CompleteData::to_json() const {
  boost::json::object resp;
  resp["status_code"] = status_code;
  resp["headers"] = headers_object(headers);
  resp["data"] = data;
  boost::json::object o;
  o["id"] = id;
  o["response"] = std::move(resp);
  o["immediate_next"] = specs(immediate_next);
  o["sub_task_next"] = specs(sub_task_next);
  return o;
}

InitData default_init_data(const Request& request) {
  InitData d;
  d.id = request.task_id;
  d.parent_task = request.parent_task_id;
  d.request.url = absolute_url(request);
  d.request.method = request.http.method;
  const std::string& body = request.http.body;
  if (request.http.method == "GET" || request.http.method == "HEAD" || body.empty()) {
    d.request.payload = "";
  } else {
    boost::json::value v;
    std::string why;
    if (sdk_detail::parse_json(body, v, why))
      d.request.payload = std::move(v);
    else
      d.request.payload = body;
  }
  d.request.headers = filtered_headers(request.http);
  return d;
}

CompleteData default_complete_data(const Request& request, const Response& response) {
  CompleteData c;
  c.id = request.task_id;
  c.status_code = response.status;
  c.headers = filtered_headers(request.http);
  c.data = response.data;
  return c;
}

}  // namespace treeflow
