// blog_endpoints: the flagship job's service, in one process on one port:
//
//   GET  /blogs?page=N&page_size=K   the warehouse (plain endpoint)
//   GET  /trigger?page=N&page_size=K Trigger        (workflow view)
//   POST /blogs                      Write Blog     (workflow view)
//   POST /comments                   Write Comment  (workflow view)
//   GET  /stats, GET /healthz        counters, liveness
//
// Calling /trigger directly (curl) starts a run on the engine; the engine
// then calls the views back, page after page, until the copy is complete.
#include <pthread.h>
#include <signal.h>
#include <treeflow/treeflow.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "target_db.h"
#include "views.h"
#include "warehouse.h"

namespace {

void usage(std::FILE* to) {
  std::fprintf(
      to,
      "usage: blog_endpoints --data FILE --target blog.db|postgresql://... [options]\n"
      "  --listen HOST:PORT     where to serve (default 127.0.0.1:9100; port 0 picks one)\n"
      "  --data FILE            the warehouse file (data/warehouse.json)\n"
      "  --target T             SQLite file path, or postgresql://user@host/db\n"
      "  --flaky P              fail about P of the calls with 503 (0..1, default 0)\n"
      "  --warehouse-url URL    where Trigger fetches pages (default: this service)\n"
      "  --engine-url URL       the treeflow engine, for direct calls\n"
      "                         (default $TREEFLOW_ENGINE_URL or http://127.0.0.1:8700)\n"
      "  --threads N            server threads (default 8)\n"
      "Prints \"listening on HOST:PORT\" when ready; stops on SIGINT/SIGTERM.\n");
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "blog_endpoints: %s\n", msg.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:9100", data, target, warehouse_url, engine_url;
  double flaky = 0;
  int threads = 8;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--listen")
        listen = value();
      else if (a == "--data")
        data = value();
      else if (a == "--target")
        target = value();
      else if (a == "--flaky")
        flaky = std::stod(value());
      else if (a == "--warehouse-url")
        warehouse_url = value();
      else if (a == "--engine-url")
        engine_url = value();
      else if (a == "--threads")
        threads = std::stoi(value());
      else if (a == "-h" || a == "--help") {
        usage(stdout);
        return 0;
      } else {
        usage(stderr);
        die("unknown argument " + a);
      }
    } catch (const std::invalid_argument&) {
      die("bad number for " + a);
    }
  }
  if (data.empty()) {
    usage(stderr);
    die("--data is required");
  }
  if (target.empty()) {
    usage(stderr);
    die("--target is required");
  }
  if (flaky < 0 || flaky > 1) die("--flaky must be between 0 and 1");
  if (threads < 2) die("--threads must be at least 2 (Trigger calls the warehouse on this server)");
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) die("--listen wants HOST:PORT, got " + listen);
  std::string host = listen.substr(0, colon);

  // Fail early and clearly: the data file and the target database.
  std::unique_ptr<blog::TargetDb> db;
  blog::Warehouse warehouse;
  try {
    warehouse = blog::Warehouse::load(data);
    db = blog::open_target(target, /*create=*/true);
    db->create_schema();
  } catch (const std::exception& e) {
    die(e.what());
  }

  blog::Context ctx;
  ctx.db = db.get();
  ctx.flaky = blog::Flaky(flaky);
  blog::set_context(&ctx);

  treeflow::Options options = treeflow::Options::from_env();
  if (!engine_url.empty()) options.engine_url = engine_url;
  treeflow::App app(options);
  app.plain("GET", "/blogs", [&](const treeflow::HttpRequest& r) { return warehouse.handle(r); })
      .route<blog::Trigger>("GET", "/trigger")
      .route<blog::WriteBlog>("POST", "/blogs")
      .route<blog::WriteComment>("POST", "/comments")
      .plain("GET", "/stats", blog::stats)
      .plain("GET", "/healthz", [](const treeflow::HttpRequest&) {
        return treeflow::HttpResponse{200, {{"Content-Type", "text/plain"}}, "ok\n"};
      });

  // SIGINT/SIGTERM are taken by sigwait() below, on this thread only.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<treeflow::Server> server;
  try {
    treeflow::ServeOptions serve;
    serve.threads = threads;
    server = std::make_unique<treeflow::Server>(app, listen, serve);
  } catch (const std::exception& e) {
    die("cannot listen on " + listen + ": " + e.what());
  }
  std::string self = (host == "0.0.0.0" || host.empty() ? "127.0.0.1" : host) + ":" +
                     std::to_string(server->port());
  ctx.warehouse_url = warehouse_url.empty() ? "http://" + self : warehouse_url;
  while (!ctx.warehouse_url.empty() && ctx.warehouse_url.back() == '/')
    ctx.warehouse_url.pop_back();

  std::fprintf(
      stderr, "blog_endpoints: %zu blogs from %s; target %s; warehouse %s; engine %s; flaky %.2f\n",
      warehouse.size(), data.c_str(), db->describe().c_str(), ctx.warehouse_url.c_str(),
      app.options().engine_url.c_str(), flaky);
  std::printf("listening on %s:%u\n", host.c_str(), static_cast<unsigned>(server->port()));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr,
               "blog_endpoints: stopping (signal %d); wrote %ld blogs, %ld comments; %ld repeats "
               "skipped; flaky failures %ld before work, %ld after commit\n",
               sig, ctx.blogs_written.load(), ctx.comments_written.load(),
               ctx.repeats_skipped.load(), ctx.failed_before_work.load(),
               ctx.failed_after_commit.load());
  server->stop();
  return 0;
}
