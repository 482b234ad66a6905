// The store thread alone: the scheduler's transactions (src/engine/transitions)
// over a real SQLite store, with the endpoints' answers made up in memory and
// no HTTP, for the benchmark's two shapes. It measures what one task costs the
// store thread, away from the noise of a shared machine's network and load
// generator, and it is deterministic (same batches every run), so
// `valgrind --tool=callgrind` instruction counts compare two builds exactly.
//
//   store_thread [--shape flat|tree] [--n 100000] [--batch 50] [--sync full|normal] [--dir D]
//
// Prints one JSON line: tasks, transactions, wall and CPU seconds, CPU µs per
// task. A batch is how many answers one transaction applies (the engine's
// batches are whatever arrived during the previous commit: ~75 on the flat
// run of bench/run.sh).
#include <sys/resource.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <string>

#include "engine/transitions.h"
#include "store/store.h"

namespace {

using namespace treeflow;
namespace json = boost::json;

double cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// What the benchmark's nginx answers (bench/endpoint/gen.py).
constexpr std::string_view kLeafBody =
    R"({"ok":true,"leaf":true,"note":"trivial endpoint answer for treeflow bench"})";

std::string envelope(std::size_t items, const char* url) {
  json::array a;
  a.reserve(items);
  for (std::size_t i = 0; i < items; ++i) a.push_back(json::object{{"i", i}});
  json::object env{{"response", json::object{{"status_code", 200}, {"data", json::object{{"items", a}}}}},
                   {"immediate_next", json::array{json::object{{"url", url},
                                                               {"input_type", "each"},
                                                               {"input_path", "/items"}}}}};
  return json::serialize(env);
}

}  // namespace

int main(int argc, char** argv) {
  std::string shape = "flat", dir = "/tmp", sync = "full";
  std::size_t n = 100000, batch = 50;
  auto usage = [&] {
    std::fprintf(stderr, "usage: %s [--shape flat|tree] [--n N] [--batch B] [--sync full|normal] [--dir D]\n", argv[0]);
    return 2;
  };
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 == argc) return usage();
    std::string k = argv[i], v = argv[i + 1];
    char* end = nullptr;
    if (k == "--shape") shape = v;
    else if (k == "--n") n = std::strtoul(v.c_str(), &end, 10);
    else if (k == "--batch") batch = std::strtoul(v.c_str(), &end, 10);
    else if (k == "--sync") sync = v;
    else if (k == "--dir") dir = v;
    else return usage();
    if ((end && (*end || v.empty())) || (shape != "flat" && shape != "tree") ||
        (sync != "full" && sync != "normal") || batch == 0)
      return usage();
  }
  if (shape == "flat" ? n > core::Limits{}.max_fanout : (n < 400 || n / 200 - 1 > core::Limits{}.max_fanout)) {
    std::fprintf(stderr, "--n %zu: the flat shape fans out n leaves from one answer (at most %zu, the default "
                 "max_fanout); the tree shape needs n >= 400\n", n, core::Limits{}.max_fanout);
    return 2;
  }
  std::string path = dir + "/store_thread_bench." + std::to_string(getpid()) + ".db";
  for (const char* sfx : {"", "-wal", "-shm"}) std::filesystem::remove(path + sfx);
  auto store = store::open_sqlite(store::StoreOptions{path, sync == "full", false});

  engine::SchedulerStats stats;
  engine::DispatchState st;
  st.stats = &stats;
  core::QueueConfig q;
  q.max_concurrent_dispatches = 1000;
  q.max_dispatches_per_second = 1e6;
  st.queues["default"] = q;

  // The answers: the root's envelope, then a fixed body per leaf. The tree
  // shape is 1 -> 200 -> n/200 - 1 (the peers' 1 -> 200 -> 10 for n = 2,200).
  const std::string root_env = shape == "flat" ? envelope(n, "/leaf") : envelope(200, "/mid");
  const std::string mid_env = envelope(shape == "flat" ? 0 : n / 200 - 1, "/leaf");

  std::deque<engine::Dispatch> inflight;
  std::size_t txs = 0, tasks = 0;
  core::TimeMs now = 1'700'000'000'000;
  auto t0 = std::chrono::steady_clock::now();
  double c0 = cpu_s();
  bool started = false;
  for (;;) {
    std::vector<engine::Answer> answers;
    while (!inflight.empty() && answers.size() < batch) {
      engine::Dispatch d = std::move(inflight.front());
      inflight.pop_front();
      engine::Answer a;
      a.task_id = d.task_id;
      a.attempt = d.attempt;
      a.status = 200;
      bool root = d.parent_id.empty(), mid = d.request.url.ends_with("/mid");
      a.envelope = root || mid;
      a.body = root ? root_env : mid ? mid_env : std::string(kLeafBody);
      answers.push_back(std::move(a));
    }
    if (started && answers.empty() && inflight.empty() && st.fanouts.empty()) break;
    auto tx = store->begin();
    auto work = engine::Transitions::begin(st, *tx, ++now);
    if (!started) {
      auto r = work->start_run(json::object{{"url", "http://127.0.0.1:1/root"}, {"method", "GET"}});
      if (!r.ok) return std::fprintf(stderr, "start_run: %s\n", r.error.message.c_str()), 1;
      started = true;
    }
    for (auto& a : answers) work->on_answer(a);
    auto dispatches = work->lease_and_flush();
    tx->commit();
    st.record_commit(answers, dispatches);
    tasks += answers.size();
    ++txs;
    for (auto& d : dispatches) inflight.push_back(std::move(d));
  }
  double cpu = cpu_s() - c0;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "{\"shape\": \"%s\", \"tasks\": %zu, \"transactions\": %zu, \"batch\": %zu, \"sync\": \"%s\", "
      "\"wall_s\": %.3f, \"cpu_s\": %.3f, \"cpu_us_per_task\": %.2f, \"tasks_per_s\": %.0f, "
      "\"completed\": %llu}\n",
      shape.c_str(), tasks, txs, batch, sync.c_str(), wall, cpu, cpu * 1e6 / static_cast<double>(tasks),
      static_cast<double>(tasks) / wall, static_cast<unsigned long long>(stats.tasks_completed.load()));
  store.reset();
  for (const char* sfx : {"", "-wal", "-shm"}) std::filesystem::remove(path + sfx);
  return stats.tasks_completed.load() == tasks ? 0 : 1;
}
