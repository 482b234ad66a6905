#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <toml++/toml.h>

#include <set>
#include <sstream>

#include "api/api_server.h"
#include "core/queue.h"
#include "engine/dispatcher.h"
#include "engine/transitions.h"
#include "net/http_client.h"

namespace treeflow::engine {

namespace asio = boost::asio;

namespace {

// TOML values -> the JSON shape core::apply_queue_patch validates, so the
// config file and the API share one set of rules and messages.
boost::json::value to_json(const toml::node& n) {
  if (auto v = n.as_string()) return boost::json::string(v->get());
  if (auto v = n.as_integer()) return v->get();
  if (auto v = n.as_floating_point()) return v->get();
  if (auto v = n.as_boolean()) return v->get();
  if (auto t = n.as_table()) {
    boost::json::object o;
    for (auto& [k, val] : *t) o[std::string(k.str())] = to_json(val);
    return o;
  }
  if (auto a = n.as_array()) {
    boost::json::array arr;
    for (auto& e : *a) arr.push_back(to_json(e));
    return arr;
  }
  return nullptr;
}

std::vector<std::string> strings(toml::node_view<toml::node> v, const std::string& where) {
  std::vector<std::string> out;
  if (!v) return out;
  auto* a = v.as_array();
  if (!a) throw std::runtime_error(where + ": expected an array of strings");
  for (auto& e : *a) {
    auto s = e.value<std::string>();
    if (!s) throw std::runtime_error(where + ": expected an array of strings");
    out.push_back(*s);
  }
  return out;
}

}  // namespace

EngineOptions load_config(const std::string& path, EngineOptions o) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream m;
    m << path << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
      << e.description();
    throw std::runtime_error(m.str());
  }
  static const std::set<std::string> top{"engine", "queues", "auth", "limits"};
  for (auto& [k, v] : t)
    if (!top.count(std::string(k.str())))
      throw std::runtime_error(path + ": unknown section [" + std::string(k.str()) +
                               "] (expected engine, queues, auth, limits)");
  if (auto e = t["engine"].as_table()) {
    for (auto& [k, v] : *e) {
      std::string key(k.str());
      std::string where = path + ": engine." + key;
      if (key == "db") {
        o.db_path = v.value<std::string>().value_or(o.db_path);
      } else if (key == "listen") {
        o.listen = v.value<std::string>().value_or(o.listen);
      } else if (key == "signing_secret") {
        o.signing_secret = v.value<std::string>().value_or("");
      } else if (key == "sync") {
        auto s = v.value<std::string>();
        if (!s || (*s != "full" && *s != "normal"))
          throw std::runtime_error(where + ": expected \"full\" or \"normal\"");
        o.sync_full = *s == "full";
      } else if (key == "max_connections_per_host") {
        auto n = v.value<std::int64_t>();
        if (!n || *n < 1 || *n > 10000) throw std::runtime_error(where + ": expected 1..10000");
        o.max_connections_per_host = static_cast<std::size_t>(*n);
      } else if (key == "verify_tls") {
        auto b = v.value<bool>();
        if (!b) throw std::runtime_error(where + ": expected true or false");
        o.verify_tls = *b;
      } else if (key == "ca_file") {
        o.ca_file = v.value<std::string>().value_or("");
      } else {
        throw std::runtime_error(path + ": unknown key engine." + key);
      }
    }
  }
  if (auto lim = t["limits"].as_table()) {
    for (auto& [k, v] : *lim) {
      std::string key(k.str());
      auto n = v.value<std::int64_t>();
      if (!n || *n < 1) throw std::runtime_error(path + ": limits." + key + ": expected a positive integer");
      auto sz = static_cast<std::size_t>(*n);
      if (key == "max_payload_bytes") o.limits.max_payload_bytes = sz;
      else if (key == "max_response_bytes") o.limits.max_response_bytes = sz;
      else if (key == "max_request_bytes") o.limits.max_request_bytes = sz;
      else if (key == "max_headers_bytes") o.limits.max_headers_bytes = sz;
      else if (key == "max_fanout") o.limits.max_fanout = sz;
      else if (key == "max_depth") o.limits.max_depth = static_cast<int>(*n);
      else throw std::runtime_error(path + ": unknown key limits." + key);
    }
  }
  if (auto a = t["auth"].as_table()) {
    o.tokens_read = strings((*a)["read_tokens"], path + ": auth.read_tokens");
    o.tokens_write = strings((*a)["write_tokens"], path + ": auth.write_tokens");
    o.tokens_admin = strings((*a)["admin_tokens"], path + ": auth.admin_tokens");
  }
  if (auto qs = t["queues"].as_table()) {
    for (auto& [k, v] : *qs) {
      std::string name(k.str());
      if (!v.is_table()) throw std::runtime_error(path + ": queues." + name + ": expected a table");
      core::QueueConfig base;
      base.name = name;
      auto patch = to_json(v).as_object();
      bool paused = false;
      if (auto* p = patch.if_contains("paused")) {
        paused = p->is_bool() && p->as_bool();
        patch.erase("paused");
      }
      auto r = core::apply_queue_patch(base, patch);
      if (!r) throw std::runtime_error(path + ": queues." + name + ": " + r.error().message);
      r->name = name;
      r->paused = paused;
      o.queues.push_back(*r);
    }
  }
  return o;
}

struct Engine::Impl {
  explicit Impl(EngineOptions o)
      : options(std::move(o)),
        store(store::open_sqlite(store::StoreOptions{options.db_path, options.sync_full, false})),
        client(io, net::HttpClientOptions{options.max_connections_per_host, options.verify_tls,
                                          options.ca_file, std::chrono::seconds(30),
                                          "treeflow/0.1"}),
        scheduler(*store, options, [this](std::vector<Dispatch> d) { dispatcher->enqueue(std::move(d)); }),
        dispatcher(std::make_unique<Dispatcher>(io, scheduler, client, options)),
        api(io, scheduler, *store, *dispatcher, options),
        signals(io, SIGINT, SIGTERM) {}

  EngineOptions options;
  asio::io_context io{1};
  std::unique_ptr<store::Store> store;
  net::HttpClient client;
  Scheduler scheduler;
  std::unique_ptr<Dispatcher> dispatcher;
  api::ApiServer api;
  asio::signal_set signals;
};

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Engine::~Engine() { stop(); }

std::uint16_t Engine::start() {
  std::uint16_t port = impl_->api.listen(impl_->options.listen);
  // Task transitions feed the live event streams, on the io thread.
  impl_->scheduler.set_transition_sink(
      [impl = impl_.get()](const std::vector<Transition>& t) {
        asio::post(impl->io, [impl, t] { impl->api.publish(t); });
      },
      [impl = impl_.get()] { return impl->api.has_listeners(); });
  impl_->scheduler.start();
  impl_->signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    stop();
  });
  return port;
}

void Engine::run() {
  auto guard = asio::make_work_guard(impl_->io);
  impl_->io.run();
}

void Engine::stop() {
  if (!impl_) return;
  impl_->api.stop();
  impl_->scheduler.stop();
  impl_->client.shutdown();
  boost::system::error_code ec;
  impl_->signals.cancel(ec);
  impl_->io.stop();
}

}  // namespace treeflow::engine
