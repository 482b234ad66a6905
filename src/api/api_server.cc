#include "core/envelope.h"
#include "api/api_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <array>
#include <deque>
#include <sstream>
#include <unordered_map>

#include "api/path.h"
#include "core/queue.h"
#include "core/url.h"
#include "engine/dispatcher.h"
#include "engine/transitions.h"

namespace treeflow::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using engine::ApiError;
using engine::CommandResult;

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

Reply json_reply(const json::value& v, int status = 200) {
  return Reply{status, json::serialize(v) + "\n"};
}
Reply error_reply(int status, std::string_view code, std::string_view message) {
  return json_reply(json::object{{"error", json::object{{"code", code}, {"message", message}}}},
                    status);
}
Reply error_reply(const ApiError& e) { return error_reply(e.http_status, e.code, e.message); }

json::object counts_json(const store::StateCounts& c) {
  json::object o;
  for (int i = 0; i < core::kTaskStateCount; ++i)
    o[core::to_string(static_cast<core::TaskState>(i))] = c[i];
  return o;
}

json::object run_json(const store::RunRow& r) {
  std::int64_t total = 0;
  for (auto n : r.counts) total += n;
  std::int64_t end = r.finished_at ? r.finished_at : engine::now_ms();
  return json::object{{"id", r.id},
                      {"name", r.name},
                      {"state", core::to_string(r.state)},
                      {"root_task_id", r.root_task_id},
                      {"cancelled", r.cancelled},
                      {"created_at", r.created_at},
                      {"finished_at", r.finished_at},
                      {"elapsed_ms", end - r.created_at},
                      {"counts", counts_json(r.counts)},
                      {"tasks_total", total},
                      {"dispatches", r.dispatches},
                      {"retries", r.retries}};
}

json::value parse_or_string(const std::string& s) {
  if (s.empty()) return nullptr;
  boost::system::error_code ec;
  json::value v = core::parse_json(s, ec);
  if (ec) return json::string(s);
  return v;
}

json::object headers_json(const core::Headers& h) {
  json::object o;
  for (const auto& [k, v] : core::masked(h)) o[k] = v;
  return o;
}

std::string_view phase_name(core::Phase p) {
  switch (p) {
    case core::Phase::root: return "root";
    case core::Phase::immediate: return "immediate";
    case core::Phase::sub: return "sub";
  }
  return "?";
}

json::object task_json(const store::TaskRow& t) {
  return json::object{
      {"id", t.id},
      {"run_id", t.run_id},
      {"parent_id", t.parent_id},
      {"phase", phase_name(t.phase)},
      {"spec_index", t.spec_index},
      {"item_index", t.item_index},
      {"depth", t.depth},
      {"state", core::to_string(t.state)},
      {"queue", t.queue},
      {"request", json::object{{"method", t.request.method},
                               {"url", t.request.url},
                               {"headers", headers_json(t.request.headers)},
                               {"body", t.request.body}}},
      {"on_failure", t.on_failure == core::OnFailure::proceed ? "continue" : "fail"},
      {"attempts", t.attempts},
      {"not_before", t.not_before},
      {"first_attempt_at", t.first_attempt_at},
      {"last_status", t.last_status},
      {"last_error", t.last_error},
      {"response", parse_or_string(t.response_data)},
      {"outstanding", t.node.outstanding},
      {"blocked", t.node.blocked},
      {"join_fired", t.node.join_fired},
      {"created_at", t.created_at},
      {"updated_at", t.updated_at},
      {"finished_at", t.finished_at}};
}

json::object summary_json(const store::TaskSummary& t) {
  return json::object{{"seq", t.seq},
                      {"id", t.id},
                      {"parent_id", t.parent_id},
                      {"phase", phase_name(t.phase)},
                      {"state", core::to_string(t.state)},
                      {"method", t.method},
                      {"url", t.url},
                      {"attempts", t.attempts},
                      {"last_status", t.last_status},
                      {"last_error", t.last_error},
                      {"children", t.children}};
}

bool is_loopback(const std::string& host) {
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

enum class Access { read, write, admin };

}  // namespace

struct ApiServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, engine::Scheduler& s, store::Store& st, engine::Dispatcher& d,
       const engine::EngineOptions& o)
      : io(io_), scheduler(s), store(st), dispatcher(d), options(o), acceptor(io_) {}

  asio::io_context& io;
  engine::Scheduler& scheduler;
  store::Store& store;
  engine::Dispatcher& dispatcher;
  engine::EngineOptions options;
  tcp::acceptor acceptor;
  std::unique_ptr<store::Reader> reader_;
  bool auth_required = false;
  bool stopped = false;

  // Live event streams (SSE), per run. Touched on the io thread only.
  struct Subscriber {
    Subscriber(asio::io_context& io, std::atomic<int>& n) : wake(io), count(n) { ++count; }
    ~Subscriber() { --count; }
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;
    asio::steady_timer wake;
    std::atomic<int>& count;
    std::deque<std::string> events;
    bool overflowed = false;
  };
  static constexpr std::size_t kMaxQueuedEvents = 10'000;
  std::unordered_map<std::string, std::vector<std::weak_ptr<Subscriber>>> subscribers;
  std::atomic<int> listeners{0};  // live Subscribers (read by the scheduler thread)

  void publish(const std::vector<engine::Transition>& transitions) {
    for (const auto& [run, task, state] : transitions) {
      auto it = subscribers.find(run);
      if (it == subscribers.end()) continue;
      std::string event = "event: task\ndata: " +
                          json::serialize(json::object{{"task_id", task},
                                                       {"state", core::to_string(state)}}) +
                          "\n\n";
      auto& list = it->second;
      std::erase_if(list, [](const auto& w) { return w.expired(); });
      for (auto& w : list) {
        auto sub = w.lock();
        if (sub->events.size() >= kMaxQueuedEvents) {
          sub->overflowed = true;  // a slow reader gets the counts, not every event
          continue;
        }
        sub->events.push_back(event);
        sub->wake.cancel();
      }
      if (list.empty()) subscribers.erase(it);
    }
  }

  // GET /v1/runs/{id}/events: Server-Sent Events until the run ends. A `run`
  // event (the run with its counts) first, on every second and at the end;
  // a `task` event for every transition of the run's tasks in between.
  asio::awaitable<void> stream_events(beast::tcp_stream& stream, const std::string& run_id) {
    auto run = reader().run(run_id);
    std::string head;
    if (!run) {
      Reply r = error_reply(404, "not_found", "no run " + run_id);
      head = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
             std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" + r.body;
      co_await asio::async_write(stream, asio::buffer(head), asio::as_tuple(asio::use_awaitable));
      co_return;
    }
    auto sub = std::make_shared<Subscriber>(io, listeners);
    subscribers[run_id].push_back(sub);
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
           "Connection: close\r\n\r\n";
    auto run_event = [&](const store::RunRow& r) {
      return "event: run\ndata: " + json::serialize(run_json(r)) + "\n\n";
    };
    std::string out = head + run_event(*run);
    for (;;) {
      stream.expires_after(std::chrono::seconds(30));
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(out), asio::as_tuple(asio::use_awaitable));
      if (wec || stopped) co_return;
      out.clear();
      if (run->state != core::RunState::running) co_return;
      if (sub->events.empty()) {
        sub->wake.expires_after(std::chrono::seconds(1));
        co_await sub->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      while (!sub->events.empty()) {
        out += std::move(sub->events.front());
        sub->events.pop_front();
      }
      sub->overflowed = false;
      run = reader().run(run_id);
      if (!run) co_return;
      out += run_event(*run);
    }
  }

  store::Reader& reader() {
    if (!reader_) reader_ = store.read();
    return *reader_;
  }

  asio::awaitable<CommandResult> command(engine::Scheduler::Command cmd) {
    auto ex = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(CommandResult)>(
        [this, ex](auto handler, engine::Scheduler::Command c) {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          scheduler.submit(std::move(c), [h, ex](CommandResult r) {
            asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
          });
        },
        asio::use_awaitable, std::move(cmd));
  }

  static Reply result_reply(const CommandResult& r, int ok_status = 200) {
    if (!r.ok) return error_reply(r.error);
    return json_reply(r.value, ok_status);
  }

  bool authorized(const Request& req, Access need) const {
    if (!auth_required) return true;
    auto it = req.find(http::field::authorization);
    if (it == req.end()) return false;
    std::string_view v = it->value();
    if (v.substr(0, 7) != "Bearer ") return false;
    std::string tok(v.substr(7));
    auto in = [&](const std::vector<std::string>& l) {
      return std::find(l.begin(), l.end(), tok) != l.end();
    };
    if (in(options.tokens_admin)) return true;
    if (need == Access::admin) return false;
    if (in(options.tokens_write)) return true;
    return need == Access::read && in(options.tokens_read);
  }

  std::optional<json::object> body_object(const Request& req, Reply& err) {
    if (req.body().empty()) return json::object{};
    boost::system::error_code ec;
    json::value v = core::parse_json(req.body(), ec);
    if (ec) {
      err = error_reply(400, "malformed_body", "request body is not valid JSON: " + ec.message());
      return std::nullopt;
    }
    if (!v.is_object()) {
      err = error_reply(400, "malformed_body", "request body must be a JSON object");
      return std::nullopt;
    }
    return std::move(v.as_object());
  }

  Reply metrics() {
    std::ostringstream o;
    auto counts = reader().task_counts();
    o << "# HELP treeflow_tasks Tasks by state.\n# TYPE treeflow_tasks gauge\n";
    for (int i = 0; i < core::kTaskStateCount; ++i)
      o << "treeflow_tasks{state=\"" << core::to_string(static_cast<core::TaskState>(i)) << "\"} "
        << counts[i] << "\n";
    const auto& s = scheduler.stats();
    auto counter = [&](const char* name, const char* help, std::uint64_t v) {
      o << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
        << name << " " << v << "\n";
    };
    counter("treeflow_dispatches_total", "HTTP attempts sent.", s.dispatches.load());
    counter("treeflow_retries_total", "Failed attempts scheduled again.", s.retries.load());
    counter("treeflow_answers_total", "Attempt outcomes applied.", s.answers.load());
    counter("treeflow_tasks_created_total", "Tasks created.", s.tasks_created.load());
    counter("treeflow_tasks_completed_total", "Tasks completed.", s.tasks_completed.load());
    counter("treeflow_tasks_failed_total", "Tasks failed.", s.tasks_failed.load());
    counter("treeflow_joins_fired_total", "Joins fired (sub tasks created).", s.joins_fired.load());
    counter("treeflow_store_transactions_total", "Store transactions committed.",
            s.transactions.load());
    o << "# HELP treeflow_inflight Attempts in flight.\n# TYPE treeflow_inflight gauge\n"
      << "treeflow_inflight " << scheduler.inflight() << "\n";
    const auto& h = dispatcher.latency();
    o << "# HELP treeflow_dispatch_latency_seconds Time from send to answer.\n"
      << "# TYPE treeflow_dispatch_latency_seconds histogram\n";
    std::uint64_t cum = 0;
    for (std::size_t i = 0; i < engine::LatencyHistogram::kBounds.size(); ++i) {
      cum += h.buckets[i].load();
      o << "treeflow_dispatch_latency_seconds_bucket{le=\"" << engine::LatencyHistogram::kBounds[i]
        << "\"} " << cum << "\n";
    }
    cum += h.buckets.back().load();
    o << "treeflow_dispatch_latency_seconds_bucket{le=\"+Inf\"} " << cum << "\n"
      << "treeflow_dispatch_latency_seconds_sum " << static_cast<double>(h.sum_us.load()) / 1e6
      << "\n"
      << "treeflow_dispatch_latency_seconds_count " << h.count.load() << "\n";
    o << "# HELP treeflow_store_bytes Size of the store on disk.\n# TYPE treeflow_store_bytes "
         "gauge\ntreeflow_store_bytes "
      << store.size_bytes() << "\n";
    return Reply{200, o.str(), "text/plain; version=0.0.4"};
  }

  asio::awaitable<Reply> route(const Request& req) {
    boost::system::error_code ec;
    auto target = boost::urls::parse_origin_form(req.target());
    if (!target) co_return error_reply(400, "invalid_target", "request target is not a valid path");
    auto parts = split_path(target->encoded_path());
    std::vector<std::string> seg;
    for (auto p : parts) {
      std::string s;
      boost::urls::pct_string_view pv;
      auto r = boost::urls::make_pct_string_view(p);
      if (!r) co_return error_reply(400, "invalid_target", "bad percent-encoding in path");
      pv = *r;
      s = pv.decode();
      seg.push_back(std::move(s));
    }
    auto param = [&](std::string_view k) -> std::string {
      auto it = target->params().find(k);
      if (it == target->params().end()) return {};
      return std::string((*it).value);
    };
    auto m = req.method();
    auto need = [&](Access a) { return authorized(req, a); };
    auto denied = [&] {
      return error_reply(401, "unauthorized", "a bearer token with the right scope is required");
    };

    if (seg.size() == 1 && seg[0] == "healthz") co_return Reply{200, "ok\n", "text/plain"};
    if (seg.size() == 1 && seg[0] == "metrics") {
      if (!need(Access::read)) co_return denied();
      co_return metrics();
    }
    if (seg.empty() || seg[0] != "v1")
      co_return error_reply(404, "not_found", "no route " + std::string(target->path()) +
                                                  " (the API is under /v1)");
    Reply err;
    // --- runs ---
    if (seg.size() == 2 && seg[1] == "runs") {
      if (m == http::verb::post) {
        if (!need(Access::write)) co_return denied();
        auto b = body_object(req, err);
        if (!b) co_return err;
        engine::Scheduler::Command cmd = [b = std::move(*b)](engine::CommandContext& c) {
          return c.start_run(b);
        };
        auto r = co_await command(std::move(cmd));
        co_return result_reply(r, 201);
      }
      if (m == http::verb::get) {
        if (!need(Access::read)) co_return denied();
        std::optional<core::RunState> st;
        std::string s = param("state");
        if (!s.empty()) {
          st = core::run_state_from_string(s);
          if (!st)
            co_return error_reply(400, "invalid_argument",
                                  "state: \"" + s + "\" is not running, completed, failed or cancelled");
        }
        std::size_t limit = 50;
        if (auto l = param("limit"); !l.empty()) limit = std::clamp<long>(std::atol(l.c_str()), 1, 1000);
        json::array arr;
        for (auto& r : reader().runs(st, param("before"), limit)) arr.push_back(run_json(r));
        co_return json_reply(json::object{{"runs", std::move(arr)}});
      }
      co_return error_reply(405, "method_not_allowed", "use GET or POST on /v1/runs");
    }
    if (seg.size() >= 3 && seg[1] == "runs") {
      const std::string& id = seg[2];
      if (seg.size() == 3 && m == http::verb::get) {
        if (!need(Access::read)) co_return denied();
        auto r = reader().run(id);
        if (!r) co_return error_reply(404, "not_found", "no run " + id);
        co_return json_reply(run_json(*r));
      }
      if (seg.size() == 4 && seg[3] == "tree" && m == http::verb::get) {
        if (!need(Access::read)) co_return denied();
        auto r = reader().run(id);
        if (!r) co_return error_reply(404, "not_found", "no run " + id);
        std::string parent = param("parent");
        json::array arr;
        std::int64_t after = std::atoll(param("after").c_str());
        std::size_t limit = 200;
        if (auto l = param("limit"); !l.empty()) limit = std::clamp<long>(std::atol(l.c_str()), 1, 1000);
        json::value next = nullptr;
        if (parent.empty()) {
          auto root = reader().task(r->root_task_id);
          if (root) {
            store::TaskSummary s;
            s.seq = root->seq;
            s.id = root->id;
            s.phase = root->phase;
            s.state = root->state;
            s.method = root->request.method;
            s.url = root->request.url;
            s.attempts = root->attempts;
            s.last_status = root->last_status;
            s.last_error = root->last_error;
            s.children = reader().child_count(root->id);
            arr.push_back(summary_json(s));
          }
        } else {
          auto kids = reader().children(parent, after, limit + 1);
          if (kids.size() > limit) {
            kids.resize(limit);
            next = kids.back().seq;
          }
          for (auto& k : kids) arr.push_back(summary_json(k));
        }
        co_return json_reply(json::object{{"run_id", id}, {"parent", parent}, {"tasks", std::move(arr)}, {"next_after", next}});
      }
      if (seg.size() == 4 && m == http::verb::post && (seg[3] == "cancel" || seg[3] == "retry")) {
        if (!need(Access::write)) co_return denied();
        bool cancel = seg[3] == "cancel";
        engine::Scheduler::Command cmd = [id, cancel](engine::CommandContext& c) {
          return cancel ? c.cancel_run(id) : c.retry_run(id);
        };
        auto r = co_await command(std::move(cmd));
        co_return result_reply(r);
      }
      co_return error_reply(404, "not_found", "no route " + std::string(req.method_string()) + " " + std::string(target->path()));
    }
    // --- tasks ---
    if (seg.size() >= 3 && seg[1] == "tasks") {
      const std::string& id = seg[2];
      if (seg.size() == 3 && m == http::verb::get) {
        if (!need(Access::read)) co_return denied();
        auto t = reader().task(id);
        if (!t) co_return error_reply(404, "not_found", "no task " + id);
        co_return json_reply(task_json(*t));
      }
      if (seg.size() == 4 && m == http::verb::post && seg[3] == "retry") {
        if (!need(Access::write)) co_return denied();
        engine::Scheduler::Command cmd = [id](engine::CommandContext& c) { return c.retry_task(id); };
        auto r = co_await command(std::move(cmd));
        co_return result_reply(r);
      }
      if (seg.size() == 4 && m == http::verb::post && seg[3] == "complete") {
        if (!need(Access::write)) co_return denied();
        auto b = body_object(req, err);
        if (!b) co_return err;
        engine::Scheduler::Command cmd = [id, b = std::move(*b)](engine::CommandContext& c) {
          return c.complete_task(id, b);
        };
        auto r = co_await command(std::move(cmd));
        co_return result_reply(r);
      }
      co_return error_reply(404, "not_found", "no route " + std::string(req.method_string()) + " " + std::string(target->path()));
    }
    // --- queues ---
    if (seg.size() == 2 && seg[1] == "queues" && m == http::verb::get) {
      if (!need(Access::read)) co_return denied();
      json::array arr;
      for (auto& q : scheduler.queues()) arr.push_back(core::to_json(q));
      co_return json_reply(json::object{{"queues", std::move(arr)}});
    }
    if (seg.size() >= 3 && seg[1] == "queues") {
      const std::string& name = seg[2];
      if (seg.size() == 3 && m == http::verb::get) {
        if (!need(Access::read)) co_return denied();
        for (auto& q : scheduler.queues())
          if (q.name == name) co_return json_reply(core::to_json(q));
        co_return error_reply(404, "queue_not_found", "queue \"" + name + "\" does not exist");
      }
      if (seg.size() == 3 && (m == http::verb::patch || m == http::verb::put)) {
        if (!need(Access::admin)) co_return denied();
        auto b = body_object(req, err);
        if (!b) co_return err;
        bool create = m == http::verb::put;
        engine::Scheduler::Command cmd = [name, create, b = std::move(*b)](engine::CommandContext& c) {
          return c.update_queue(name, b, create);
        };
        auto r = co_await command(std::move(cmd));
        co_return result_reply(r);
      }
      if (seg.size() == 4 && m == http::verb::post &&
          (seg[3] == "pause" || seg[3] == "resume" || seg[3] == "purge")) {
        if (!need(Access::admin)) co_return denied();
        std::string verb = seg[3];
        engine::Scheduler::Command cmd = [name, verb](engine::CommandContext& c) {
          if (verb == "purge") return c.purge_queue(name);
          return c.set_queue_paused(name, verb == "pause");
        };
        auto r = co_await command(std::move(cmd));
        co_return result_reply(r);
      }
    }
    co_return error_reply(404, "not_found", "no route " + std::string(req.method_string()) + " " + std::string(target->path()));
  }

  // "/v1/runs/{id}/events" (GET) -> the run id.
  static std::optional<std::string> events_route(const Request& req) {
    if (req.method() != http::verb::get) return std::nullopt;
    std::string_view target = req.target();
    target = target.substr(0, target.find('?'));
    auto seg = split_path(target);
    if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "runs" && seg[3] == "events")
      return std::string(seg[2]);
    return std::nullopt;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      stream.expires_after(std::chrono::seconds(60));
      http::request_parser<http::string_body> parser;
      parser.header_limit(64 * 1024);
      parser.body_limit(options.limits.max_request_bytes);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout)
        break;
      Reply reply;
      bool keep = false;
      unsigned version = 11;
      if (ec == http::error::body_limit) {
        reply = error_reply(413, "payload_too_large",
                            "request body exceeds " + std::to_string(options.limits.max_request_bytes) + " bytes");
      } else if (ec == http::error::header_limit) {
        reply = error_reply(431, "headers_too_large", "request headers exceed 65536 bytes");
      } else if (ec) {
        if (ec == asio::error::connection_reset || ec == asio::error::operation_aborted) break;
        reply = error_reply(400, "malformed_request", "could not parse the HTTP request: " + ec.message());
      } else {
        const Request& req = parser.get();
        keep = req.keep_alive();
        version = req.version();
        if (auto run_id = events_route(req)) {
          if (!authorized(req, Access::read)) {
            reply = error_reply(401, "unauthorized", "a bearer token with the right scope is required");
          } else {
            co_await stream_events(stream, *run_id);
            break;
          }
        } else try {
          reply = co_await route(req);
        } catch (const std::exception& e) {
          spdlog::error("API {} {}: {}", std::string(req.method_string()), std::string(req.target()), e.what());
          reply = error_reply(500, "internal", e.what());
        }
      }
      Response res{static_cast<http::status>(reply.status), version};
      res.set(http::field::server, "treeflow");
      res.set(http::field::content_type, reply.content_type);
      res.keep_alive(keep);
      res.body() = std::move(reply.body);
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      if (wec || !keep) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    // Lingering close: read (and drop) what the client is still sending, for
    // a short while, so that closing with unread data (an oversized body we
    // refused) does not reset the connection before the client reads our
    // answer.
    stream.expires_after(std::chrono::seconds(2));
    std::array<char, 16384> sink;
    for (std::size_t drained = 0; drained < (64u << 20);) {
      auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
      if (rec) break;
      drained += n;
    }
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (stopped || ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }
};

ApiServer::ApiServer(asio::io_context& io, engine::Scheduler& scheduler, store::Store& store,
                     engine::Dispatcher& dispatcher, const engine::EngineOptions& options)
    : impl_(std::make_shared<Impl>(io, scheduler, store, dispatcher, options)) {}

ApiServer::~ApiServer() { stop(); }

std::uint16_t ApiServer::listen(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    throw std::runtime_error("--listen \"" + address + "\": expected HOST:PORT, e.g. 127.0.0.1:8700");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port_s = address.substr(colon + 1);
  char* end = nullptr;
  long port = std::strtol(port_s.c_str(), &end, 10);
  if (port_s.empty() || *end || port < 0 || port > 65535)
    throw std::runtime_error("--listen \"" + address + "\": \"" + port_s + "\" is not a port number");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("--listen \"" + address + "\": \"" + host + "\" is not an IP address");
  auto& o = impl_->options;
  bool have_tokens = !o.tokens_read.empty() || !o.tokens_write.empty() || !o.tokens_admin.empty();
  if (!is_loopback(host) && !have_tokens)
    throw std::runtime_error("--listen " + address +
                             " is not a loopback address: configure API tokens ([auth] in the "
                             "config file) before exposing the engine");
  impl_->auth_required = have_tokens;
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  auto& a = impl_->acceptor;
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  a.bind(ep, ec);
  if (ec) throw std::runtime_error("cannot listen on " + address + ": " + ec.message());
  a.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return a.local_endpoint().port();
}

bool ApiServer::has_listeners() const { return impl_->listeners.load() > 0; }

void ApiServer::publish(const std::vector<engine::Transition>& transitions) {
  impl_->publish(transitions);
}

void ApiServer::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace treeflow::api
