// `treeflow`: the engine (serve) and its command-line client.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include "cli/client.h"
#include "engine/engine.h"
#include "store/store.h"

namespace json = boost::json;
using treeflow::cli::ApiReply;
using treeflow::cli::call;

namespace {

std::string default_server() {
  if (const char* s = std::getenv("TREEFLOW_SERVER"); s && *s) return s;
  return "http://127.0.0.1:8700";
}

struct Fail : std::runtime_error {
  int code;
  Fail(std::string m, int c = 1) : std::runtime_error(std::move(m)), code(c) {}
};

json::object expect_ok(const ApiReply& r) {
  if (r.status >= 300) throw Fail("error: " + treeflow::cli::error_message(r));
  if (!r.body.is_object()) throw Fail("error: unexpected answer from the engine");
  return r.body.as_object();
}

std::string str(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  if (!v) return {};
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}
std::int64_t num(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  return 0;
}

const char* const kStates[] = {"pending", "running", "waiting", "completed", "failed", "cancelled"};

std::string progress_line(const json::object& run, double rate) {
  const auto& c = run.at("counts").as_object();
  auto n = [&](const char* s) { return num(c, s); };
  std::int64_t total = num(run, "tasks_total");
  std::int64_t done = n("completed");
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "%s %-9s %lld/%lld done (%.1f%%) · %.0f tasks/s · running %lld · pending %lld · "
                "retries %lld · failed %lld · %.1fs",
                str(run, "id").c_str(), str(run, "state").c_str(), static_cast<long long>(done),
                static_cast<long long>(total), total ? 100.0 * done / total : 0.0, rate,
                static_cast<long long>(n("running")), static_cast<long long>(n("pending")),
                static_cast<long long>(num(run, "retries")), static_cast<long long>(n("failed")),
                num(run, "elapsed_ms") / 1000.0);
  return buf;
}

// Follows a run until it is no longer running; prints a live progress line.
// Returns the final run object.
json::object watch(const std::string& server, const std::string& run_id, bool quiet) {
  bool tty = isatty(STDERR_FILENO);
  auto last_print = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  std::int64_t last_done = -1;
  auto last_t = std::chrono::steady_clock::now();
  double rate = 0;
  int errors = 0;
  for (;;) {
    ApiReply r;
    try {
      r = call(server, "GET", "/v1/runs/" + run_id, "", 10000);
      errors = 0;
    } catch (const std::exception& e) {
      // The engine may be restarting (crash recovery): keep trying a while.
      if (++errors > 60) throw;
      if (!quiet) std::fprintf(stderr, "%s%s (retrying)\n", tty ? "\r\033[K" : "", e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    json::object run = expect_ok(r);
    auto now = std::chrono::steady_clock::now();
    std::int64_t done = num(run.at("counts").as_object(), "completed");
    double dt = std::chrono::duration<double>(now - last_t).count();
    if (last_done >= 0 && dt > 0.2) {
      double inst = (done - last_done) / dt;
      rate = rate == 0 ? inst : 0.6 * rate + 0.4 * inst;
      last_done = done;
      last_t = now;
    } else if (last_done < 0) {
      last_done = done;
      last_t = now;
    }
    bool final = str(run, "state") != "running";
    if (!quiet) {
      if (tty) {
        std::fprintf(stderr, "\r\033[K%s", progress_line(run, rate).c_str());
        if (final) std::fputc('\n', stderr);
      } else if (final || now - last_print > std::chrono::seconds(2)) {
        std::fprintf(stderr, "%s\n", progress_line(run, rate).c_str());
        last_print = now;
      }
      std::fflush(stderr);
    }
    if (final) return run;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void print_status(const json::object& run) {
  const auto& c = run.at("counts").as_object();
  std::printf("run       %s%s\n", str(run, "id").c_str(),
              str(run, "name").empty() ? "" : (" (" + str(run, "name") + ")").c_str());
  std::printf("state     %s\n", str(run, "state").c_str());
  std::printf("root      %s\n", str(run, "root_task_id").c_str());
  std::printf("tasks     %lld\n", static_cast<long long>(num(run, "tasks_total")));
  for (const char* s : kStates)
    std::printf("  %-10s %lld\n", s, static_cast<long long>(num(c, s)));
  std::printf("dispatches %lld\nretries    %lld\n", static_cast<long long>(num(run, "dispatches")),
              static_cast<long long>(num(run, "retries")));
  double secs = num(run, "elapsed_ms") / 1000.0;
  std::printf("elapsed   %.2fs", secs);
  if (secs > 0) std::printf(" (%.0f tasks/s)", num(c, "completed") / secs);
  std::printf("\n");
}

// One task for a person: the request, where it stands, what went wrong, and
// its response cut to the first `max_response` characters (0: all of it).
void print_task(const json::object& t, std::size_t max_response) {
  const auto& rq = t.at("request").as_object();
  std::printf("task      %s\n", str(t, "id").c_str());
  std::printf("run       %s\n", str(t, "run_id").c_str());
  if (!str(t, "parent_id").empty())
    std::printf("parent    %s (%s, spec %lld, item %lld)\n", str(t, "parent_id").c_str(),
                str(t, "phase").c_str(), static_cast<long long>(num(t, "spec_index")),
                static_cast<long long>(num(t, "item_index")));
  std::printf("state     %s (queue %s, depth %lld)\n", str(t, "state").c_str(), str(t, "queue").c_str(),
              static_cast<long long>(num(t, "depth")));
  std::printf("request   %s %s\n", str(rq, "method").c_str(), str(rq, "url").c_str());
  std::printf("attempts  %lld", static_cast<long long>(num(t, "attempts")));
  if (num(t, "last_status") != 0) std::printf(", last status %lld", static_cast<long long>(num(t, "last_status")));
  std::printf("\n");
  if (!str(t, "last_error").empty()) std::printf("error     %s\n", str(t, "last_error").c_str());
  if (auto* r = t.if_contains("response"); r && !(r->is_string() && r->as_string().empty())) {
    std::string body = json::serialize(*r);
    if (max_response > 0 && body.size() > max_response)
      body = body.substr(0, max_response) + "... (" + std::to_string(body.size()) +
             " characters; --json or --full for all)";
    std::printf("response  %s\n", body.c_str());
  }
}

const char* mark(std::string_view state) {
  if (state == "completed") return "✔";
  if (state == "failed") return "✘";
  if (state == "cancelled") return "⊘";
  if (state == "running") return "▶";
  if (state == "waiting") return "…";
  return "·";
}

// Draws the run as an indented tree, like the seed's diagrams. Iterative
// (an explicit stack), so a 10,000-deep chain does not overflow anything.
void print_tree(const std::string& server, const std::string& run_id, int max_depth,
                int max_children) {
  auto fetch = [&](const std::string& parent) {
    std::string path = "/v1/runs/" + run_id + "/tree?limit=" + std::to_string(max_children + 1);
    if (!parent.empty()) path += "&parent=" + parent;
    return expect_ok(call(server, "GET", path));
  };
  struct Item {
    json::object task;
    std::string prefix;
    bool last;
    int depth;
    std::int64_t more;  // >0: a "… N more" line instead of a task
  };
  auto roots = fetch("");
  std::vector<Item> stack;
  for (auto& t : roots.at("tasks").as_array()) stack.push_back({t.as_object(), "", true, 0, 0});
  while (!stack.empty()) {
    Item it = std::move(stack.back());
    stack.pop_back();
    std::string branch = it.depth == 0 ? "" : (it.last ? "└── " : "├── ");
    if (it.more > 0) {
      std::printf("%s%s… %lld more (use --children)\n", it.prefix.c_str(), branch.c_str(),
                  static_cast<long long>(it.more));
      continue;
    }
    const auto& t = it.task;
    std::string phase = str(t, "phase");
    std::string state = str(t, "state");
    std::printf("%s%s%s %s %s  [%s%s%s]%s\n", it.prefix.c_str(), branch.c_str(), mark(state),
                str(t, "method").c_str(), str(t, "url").c_str(), state.c_str(),
                phase == "sub" ? ", sub task" : "",
                num(t, "attempts") > 1 ? (", " + std::to_string(num(t, "attempts")) + " attempts").c_str() : "",
                str(t, "last_error").empty() ? "" : ("  " + str(t, "last_error")).c_str());
    std::int64_t n_children = num(t, "children");
    if (n_children == 0) continue;
    std::string child_prefix = it.prefix + (it.depth == 0 ? "" : (it.last ? "    " : "│   "));
    if (it.depth + 1 > max_depth) {
      std::printf("%s└── … %lld %s (use --depth)\n", child_prefix.c_str(),
                  static_cast<long long>(n_children), n_children == 1 ? "child" : "children");
      continue;
    }
    auto kids = fetch(str(t, "id")).at("tasks").as_array();
    std::int64_t shown = std::min<std::int64_t>(static_cast<std::int64_t>(kids.size()), max_children);
    std::int64_t more = n_children - shown;
    // Push in reverse so the first child prints first.
    if (more > 0) stack.push_back({{}, child_prefix, true, it.depth + 1, more});
    for (std::int64_t i = shown - 1; i >= 0; --i)
      stack.push_back({kids[static_cast<std::size_t>(i)].as_object(), child_prefix,
                       more <= 0 && i == shown - 1, it.depth + 1, 0});
  }
}

bool looks_like_run(const std::string& id) { return id.size() == 27 && id[0] == 'r'; }

// After a run ended without completing: say why, from the first failed task
// found breadth-first (a bounded number of pages, so a huge run stays cheap).
void explain_end(const std::string& server, const json::object& run) {
  std::string id = str(run, "id");
  std::string state = str(run, "state");
  if (state == "completed") return;
  std::fprintf(stderr, "run %s %s.\n", id.c_str(), state.c_str());
  if (state == "failed") {
    std::vector<std::string> queue{""};
    for (int requests = 0; !queue.empty() && requests < 50; ++requests) {
      std::string parent = queue.front();
      queue.erase(queue.begin());
      std::string path = "/v1/runs/" + id + "/tree?limit=1000" + (parent.empty() ? "" : "&parent=" + parent);
      auto page = call(server, "GET", path);
      if (page.status != 200) break;
      for (auto& v : page.body.at("tasks").as_array()) {
        const auto& t = v.as_object();
        if (str(t, "state") == "failed" && !str(t, "last_error").empty() &&
            str(t, "last_error").rfind("descendant", 0) != 0) {
          std::fprintf(stderr, "  failed: %s %s (task %s)\n    %s\n", str(t, "method").c_str(),
                       str(t, "url").c_str(), str(t, "id").c_str(), str(t, "last_error").c_str());
          queue.clear();
          break;
        }
        if (num(t, "children") > 0 && str(t, "state") == "failed") queue.push_back(str(t, "id"));
      }
    }
    std::fprintf(stderr, "  see `treeflow tree %s`; after a fix, `treeflow retry %s`\n", id.c_str(), id.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "treeflow — a durable engine that runs trees of HTTP API calls.\n"
      "Start the engine with `treeflow serve`, then start runs with `treeflow run URL`.\n"
      "Docs: README.md, docs/protocol.md, docs/configuration.md"};
  app.set_version_flag("--version", "treeflow " TREEFLOW_VERSION);
  app.require_subcommand(1);
  std::string server = default_server();
  auto add_server = [&](CLI::App* c) {
    c->add_option("--server", server, "engine API URL (default $TREEFLOW_SERVER or http://127.0.0.1:8700)");
  };

  // serve
  auto* serve = app.add_subcommand("serve", "run the engine (API + scheduler + dispatcher)");
  treeflow::engine::EngineOptions eo;
  std::string config, log_level = "info", sync;
  serve->add_option("--db", eo.db_path, "SQLite store file (created if missing)")->capture_default_str();
  serve->add_option("--listen", eo.listen, "API address HOST:PORT (port 0 picks one)")->capture_default_str();
  serve->add_option("--config", config, "TOML config file: [engine], [queues.NAME], [limits], [auth]");
  serve->add_option("--signing-secret", eo.signing_secret, "HMAC secret for X-Workflow-Signature (or $TREEFLOW_SIGNING_SECRET)");
  serve->add_option("--sync", sync, "store durability: full (fsync each commit, default) or normal")->check(CLI::IsMember({"full", "normal"}));
  serve->add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  bool no_verify_tls = false;
  serve->add_flag("--no-verify-tls", no_verify_tls, "do not verify https certificates of endpoints");

  // run
  auto* run = app.add_subcommand("run", "start a run from a root request; prints the run id");
  std::string url, method = "POST", data, queue = "default", name;
  std::vector<std::string> headers;
  bool wait = false, quiet = false;
  run->add_option("url", url, "the root endpoint (http or https)")->required();
  run->add_option("-X,--method", method, "HTTP method")->capture_default_str();
  run->add_option("-d,--data", data, "payload as JSON (GET: an object becomes the query string)");
  run->add_option("-H,--header", headers, "request header 'Name: value' (repeatable)");
  run->add_option("--queue", queue, "queue to dispatch on")->capture_default_str();
  run->add_option("--name", name, "unique run name (a second run with this name is refused)");
  run->add_flag("-w,--wait", wait, "follow the run with a live progress line; exit 0 only if it completed");
  run->add_flag("-q,--quiet", quiet, "with --wait: no progress line");
  add_server(run);

  auto* status = app.add_subcommand("status", "show a run: state and tasks per state");
  std::string id;
  bool as_json = false;
  status->add_option("run", id, "run id")->required();
  status->add_flag("--json", as_json, "print the run as JSON (id, state, counts, ...)");
  add_server(status);

  auto* watchc = app.add_subcommand("watch", "follow a run live until it ends; exit 0 only if it completed");
  watchc->add_option("run", id, "run id")->required();
  watchc->add_flag("-q,--quiet", quiet, "no progress line");
  add_server(watchc);

  auto* tree = app.add_subcommand("tree", "draw a run as an indented tree");
  int depth = 20, max_children = 10;
  tree->add_option("run", id, "run id")->required();
  tree->add_option("--depth", depth, "levels to draw")->capture_default_str();
  tree->add_option("--children", max_children, "children drawn per task")->capture_default_str();
  add_server(tree);

  auto* task = app.add_subcommand("task", "show one task: request, attempts, last error, response");
  task->add_option("task", id, "task id")->required();
  bool task_json = false, task_full = false;
  task->add_flag("--json", task_json, "print the whole task record as JSON");
  task->add_flag("--full", task_full, "do not cut the response at 1,000 characters");
  add_server(task);

  auto* runs = app.add_subcommand("runs", "list recent runs");
  std::string state_filter;
  runs->add_option("--state", state_filter, "running, completed, failed or cancelled");
  add_server(runs);

  auto* retry = app.add_subcommand("retry", "retry a failed task, or every failed task of a run");
  retry->add_option("id", id, "run id (r…) or task id")->required();
  add_server(retry);

  auto* cancel = app.add_subcommand("cancel", "cancel a run: nothing new is dispatched");
  cancel->add_option("run", id, "run id")->required();
  add_server(cancel);

  auto* queues = app.add_subcommand("queues", "list queues, or change one");
  std::string qname;
  std::vector<std::string> sets;
  bool pause = false, resume = false, purge = false;
  queues->add_option("name", qname, "queue to show or change");
  queues->add_option("--set", sets, "field=value, e.g. max_attempts=5 min_backoff=1s (creates the queue if missing)");
  queues->add_flag("--pause", pause, "stop dispatching from the queue");
  queues->add_flag("--resume", resume, "resume dispatching");
  queues->add_flag("--purge", purge, "fail every pending task of the queue");
  add_server(queues);

  auto* demo = app.add_subcommand(
      "demo", "run the flagship job (scripts/demo.sh of this checkout): blogs and nested comments "
              "copied through a tree of HTTP calls, then verified; options are passed on "
              "(--data FILE --page-size K --flaky P --target DB --keep --kill N)");
  demo->allow_extras();
  demo->prefix_command();

  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (auto* sub : app.get_subcommands({})) known |= sub->get_name() == argv[1];
    if (!known) {
      std::fprintf(stderr, "treeflow: unknown command \"%s\" (see treeflow --help)\n", argv[1]);
      return 2;
    }
  }

  CLI11_PARSE(app, argc, argv);

  try {
    if (serve->parsed()) {
      spdlog::set_level(spdlog::level::from_str(log_level));
      spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
      if (!config.empty()) eo = treeflow::engine::load_config(config, eo);
      // Flags win over the file.
      if (serve->count("--db")) eo.db_path = serve->get_option("--db")->as<std::string>();
      if (serve->count("--listen")) eo.listen = serve->get_option("--listen")->as<std::string>();
      if (!sync.empty()) eo.sync_full = sync == "full";
      if (no_verify_tls) eo.verify_tls = false;
      if (eo.signing_secret.empty())
        if (const char* s = std::getenv("TREEFLOW_SIGNING_SECRET")) eo.signing_secret = s;
      treeflow::engine::Engine engine(eo);
      auto port = engine.start();
      std::string host = eo.listen.substr(0, eo.listen.rfind(':'));
      std::printf("treeflow engine listening on %s:%u (store %s)\n", host.c_str(), port, eo.db_path.c_str());
      std::fflush(stdout);
      engine.run();
      return 0;
    }
    if (demo->parsed()) {
      std::string script = std::string(TREEFLOW_SOURCE_DIR) + "/scripts/demo.sh";
      if (access(script.c_str(), X_OK) != 0)
        throw Fail("treeflow demo needs the source checkout it was built from (" + script +
                   " is missing); use `make demo` there");
      std::vector<std::string> args{"bash", script, "--build", TREEFLOW_BUILD_DIR};
      for (auto& e : demo->remaining()) args.push_back(e);
      std::vector<char*> argv2;
      for (auto& a : args) argv2.push_back(a.data());
      argv2.push_back(nullptr);
      execvp("bash", argv2.data());
      throw Fail(std::string("cannot run bash: ") + std::strerror(errno));
    }
    if (run->parsed()) {
      json::object body{{"url", url}, {"method", method}, {"queue", queue}};
      if (!name.empty()) body["name"] = name;
      if (!data.empty()) {
        boost::system::error_code ec;
        json::value v = json::parse(data, ec);
        if (ec) throw Fail("--data is not valid JSON: " + ec.message(), 2);
        body["payload"] = v;
      }
      json::object h;
      for (auto& line : headers) {
        auto c = line.find(':');
        if (c == std::string::npos) throw Fail("--header \"" + line + "\": expected 'Name: value'", 2);
        std::string v = line.substr(c + 1);
        while (!v.empty() && v.front() == ' ') v.erase(v.begin());
        h[line.substr(0, c)] = v;
      }
      if (!h.empty()) body["headers"] = h;
      auto r = expect_ok(call(server, "POST", "/v1/runs", json::serialize(body)));
      std::string run_id = str(r, "run_id");
      std::printf("%s\n", run_id.c_str());
      std::fflush(stdout);
      if (!wait) return 0;
      auto fin = watch(server, run_id, quiet);
      explain_end(server, fin);
      return str(fin, "state") == "completed" ? 0 : 1;
    }
    if (status->parsed()) {
      auto r = expect_ok(call(server, "GET", "/v1/runs/" + id));
      if (as_json)
        std::printf("%s\n", json::serialize(r).c_str());
      else
        print_status(r);
      return 0;
    }
    if (watchc->parsed()) {
      auto fin = watch(server, id, quiet);
      explain_end(server, fin);
      return str(fin, "state") == "completed" ? 0 : 1;
    }
    if (tree->parsed()) {
      print_tree(server, id, depth, max_children);
      return 0;
    }
    if (task->parsed()) {
      auto r = expect_ok(call(server, "GET", "/v1/tasks/" + id));
      if (task_json)
        std::printf("%s\n", json::serialize(r).c_str());
      else
        print_task(r, task_full ? 0 : 1000);
      return 0;
    }
    if (runs->parsed()) {
      auto r = expect_ok(call(server, "GET", "/v1/runs" + (state_filter.empty() ? std::string() : "?state=" + state_filter)));
      for (auto& v : r.at("runs").as_array()) {
        auto& o = v.as_object();
        std::printf("%s  %-9s  %6lld tasks  %s\n", str(o, "id").c_str(), str(o, "state").c_str(),
                    static_cast<long long>(num(o, "tasks_total")), str(o, "name").c_str());
      }
      return 0;
    }
    if (retry->parsed()) {
      std::string path = looks_like_run(id) ? "/v1/runs/" + id + "/retry" : "/v1/tasks/" + id + "/retry";
      auto r = expect_ok(call(server, "POST", path, "{}"));
      std::printf("%s\n", json::serialize(r).c_str());
      return 0;
    }
    if (cancel->parsed()) {
      auto r = expect_ok(call(server, "POST", "/v1/runs/" + id + "/cancel", "{}"));
      std::printf("%s\n", json::serialize(r).c_str());
      return 0;
    }
    if (queues->parsed()) {
      if (qname.empty()) {
        auto r = expect_ok(call(server, "GET", "/v1/queues"));
        for (auto& q : r.at("queues").as_array()) std::printf("%s\n", json::serialize(q).c_str());
        return 0;
      }
      json::object r;
      if (!sets.empty()) {
        json::object patch;
        for (auto& s : sets) {
          auto eq = s.find('=');
          if (eq == std::string::npos) throw Fail("--set \"" + s + "\": expected field=value", 2);
          std::string k = s.substr(0, eq), v = s.substr(eq + 1);
          boost::system::error_code ec;
          json::value jv = json::parse(v, ec);
          patch[k] = ec || jv.is_object() || jv.is_array() ? json::value(json::string(v)) : jv;
        }
        r = expect_ok(call(server, "PUT", "/v1/queues/" + qname, json::serialize(patch)));
      }
      if (pause) r = expect_ok(call(server, "POST", "/v1/queues/" + qname + "/pause", "{}"));
      if (resume) r = expect_ok(call(server, "POST", "/v1/queues/" + qname + "/resume", "{}"));
      if (purge) r = expect_ok(call(server, "POST", "/v1/queues/" + qname + "/purge", "{}"));
      if (r.empty()) r = expect_ok(call(server, "GET", "/v1/queues/" + qname));
      std::printf("%s\n", json::serialize(r).c_str());
      return 0;
    }
  } catch (const Fail& f) {
    std::fprintf(stderr, "%s\n", f.what());
    return f.code;
  } catch (const treeflow::store::StoreError& e) {
    std::fprintf(stderr, "treeflow: store error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "treeflow: %s\n", e.what());
    return 1;
  }
  return 0;
}
