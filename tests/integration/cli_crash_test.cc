// The CLI against a real engine; limits end to end; crash points (the engine
// _exits at a named point, restarts on the same store, and nothing is lost or
// done twice); bad store files at start-up.
#include <gtest/gtest.h>

#include <atomic>

#include "support.h"

using namespace tftest;
using treeflow::HttpRequest;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// root -> 20 leaves -> join (a chord over the leaves' data)
void small_tree(Endpoints& ep, Recorder& leaves, Recorder& joins, std::atomic<bool>* fail_leaves = nullptr) {
  ep.app.plain("POST", "/root", [](const HttpRequest& r) {
    json::array items;
    for (int i = 0; i < 20; ++i) items.push_back(i);
    return envelope(r, items, json::array{json::object{{"url", "/leaf"}, {"input_type", "each"}}},
                    json::array{json::object{{"url", "/join"}, {"input_type", "children"}}});
  });
  ep.app.plain("POST", "/leaf", [&leaves, fail_leaves](const HttpRequest& r) {
    if (fail_leaves && *fail_leaves) return leaf("down", 500);
    leaves.add(r);
    return leaf(json::parse(r.body));
  });
  ep.app.plain("POST", "/join", [&joins](const HttpRequest& r) {
    joins.add(r);
    return leaf("joined");
  });
}

}  // namespace

TEST(Cli, RunWaitStatusTreeQueuesRetryCancel) {
  TempDir dir;
  Recorder leaves, joins;
  std::atomic<bool> failing{false};
  Endpoints ep;
  small_tree(ep, leaves, joins, &failing);
  ep.start();
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir, "max_retry_duration = \"0s\"\n")});
  engine.start();
  std::string srv = engine.url();

  auto [rc, out] = cli({"run", ep.base + "/root", "--wait", "--server", srv});
  ASSERT_EQ(rc, 0) << out;
  std::string run = out.substr(0, out.find('\n'));
  ASSERT_EQ(run.size(), 27u) << out;
  EXPECT_TRUE(contains(out, "22/22 done")) << out;

  auto [rc2, js] = cli({"status", run, "--json", "--server", srv});
  ASSERT_EQ(rc2, 0) << js;
  auto st = json::parse(js).as_object();
  EXPECT_EQ(st.at("id").as_string(), run);
  EXPECT_EQ(st.at("state").as_string(), "completed");
  EXPECT_EQ(st.at("counts").at("completed").as_int64(), 22);

  auto [rc3, tree] = cli({"tree", run, "--children", "3", "--server", srv});
  ASSERT_EQ(rc3, 0) << tree;
  EXPECT_TRUE(contains(tree, "✔ POST " + ep.base + "/root")) << tree;
  EXPECT_TRUE(contains(tree, "├── ✔ POST " + ep.base + "/leaf")) << tree;
  EXPECT_TRUE(contains(tree, "… 18 more")) << tree;
  auto [rc5, full] = cli({"tree", run, "--children", "30", "--server", srv});
  EXPECT_TRUE(contains(full, "└── ✔ POST " + ep.base + "/join  [completed, sub task]")) << full;

  // One task: readable by default, the whole record with --json.
  std::string root(st.at("root_task_id").as_string());
  auto [rt, task] = cli({"task", root, "--server", srv});
  ASSERT_EQ(rt, 0) << task;
  EXPECT_TRUE(contains(task, "request   POST " + ep.base + "/root\n")) << task;
  EXPECT_TRUE(contains(task, "state     completed (queue default, depth 0)\n")) << task;
  EXPECT_TRUE(contains(task, "attempts  1, last status 200\n")) << task;
  EXPECT_TRUE(contains(task, "response  ")) << task;
  auto [rtj, tjs] = cli({"task", root, "--json", "--server", srv});
  ASSERT_EQ(rtj, 0) << tjs;
  EXPECT_EQ(json::parse(tjs).at("id").as_string(), root);

  // Queues: create one, pause it, a run on it waits; resume, it completes.
  auto [rq, q] = cli({"queues", "slow", "--set", "max_attempts=3", "--set", "min_backoff=0.01s", "--server", srv});
  ASSERT_EQ(rq, 0) << q;
  EXPECT_TRUE(contains(q, "\"max_attempts\":3")) << q;
  ASSERT_EQ(cli({"queues", "slow", "--pause", "--server", srv}).first, 0);
  auto [rp, paused_run] = cli({"run", ep.base + "/root", "--queue", "slow", "--server", srv});
  ASSERT_EQ(rp, 0) << paused_run;
  paused_run = paused_run.substr(0, 27);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(engine.run(paused_run).at("counts").at("pending").as_int64(), 1);
  ASSERT_EQ(cli({"queues", "slow", "--resume", "--server", srv}).first, 0);
  EXPECT_EQ(engine.wait_run(paused_run, 30s).at("state").as_string(), "completed");
  auto [rl, list] = cli({"queues", "--server", srv});
  EXPECT_TRUE(contains(list, "\"name\":\"default\"") && contains(list, "\"name\":\"slow\"")) << list;

  // A failing run: --wait exits 1; retry brings it back.
  failing = true;
  auto [rf, fout] = cli({"run", ep.base + "/root", "--wait", "--quiet", "--server", srv});
  EXPECT_EQ(rf, 1) << fout;
  EXPECT_TRUE(contains(fout, "failed: POST " + ep.base + "/leaf")) << fout;  // says why
  EXPECT_TRUE(contains(fout, "HTTP 500")) << fout;
  std::string failed_run = fout.substr(0, 27);
  EXPECT_EQ(engine.run(failed_run).at("state").as_string(), "failed");
  failing = false;
  auto [rr, rout] = cli({"retry", failed_run, "--server", srv});
  ASSERT_EQ(rr, 0) << rout;
  EXPECT_TRUE(contains(rout, "\"tasks_retried\":20")) << rout;
  EXPECT_EQ(cli({"watch", failed_run, "--quiet", "--server", srv}).first, 0);

  // Cancel: a run on the paused queue is cancelled before it starts.
  ASSERT_EQ(cli({"queues", "slow", "--pause", "--server", srv}).first, 0);
  std::string c = cli({"run", ep.base + "/root", "--queue", "slow", "--server", srv}).second.substr(0, 27);
  auto [rc4, cout_] = cli({"cancel", c, "--server", srv});
  EXPECT_EQ(rc4, 0) << cout_;
  EXPECT_EQ(engine.run(c).at("state").as_string(), "cancelled");
  EXPECT_EQ(cli({"watch", c, "--quiet", "--server", srv}).first, 1);

  // Errors a person can act on.
  auto [ru, unknown] = cli({"status", "rnope", "--server", srv});
  EXPECT_EQ(ru, 1);
  EXPECT_TRUE(contains(unknown, "no run rnope")) << unknown;
  auto [rd, down] = cli({"status", run, "--server", "http://127.0.0.1:1"});
  EXPECT_EQ(rd, 1);
  EXPECT_TRUE(contains(down, "cannot reach the engine")) << down;
  auto [rj, badjson] = cli({"run", ep.base + "/root", "--data", "{oops", "--server", srv});
  EXPECT_EQ(rj, 2);
  EXPECT_TRUE(contains(badjson, "--data is not valid JSON")) << badjson;
  auto [rb, bogus] = cli({"bogus"});
  EXPECT_EQ(rb, 2);
  EXPECT_TRUE(contains(bogus, "unknown command \"bogus\"")) << bogus;
  for (const char* sub : {"serve", "run", "status", "watch", "tree", "task", "runs", "retry", "cancel", "queues", "demo"}) {
    auto [rh, help] = cli({sub, "--help"});
    EXPECT_EQ(rh, 0) << sub;
    EXPECT_TRUE(contains(help, "Usage")) << sub << ": " << help;
  }
  auto [rv, version] = cli({"--version"});
  EXPECT_EQ(rv, 0);
  EXPECT_TRUE(contains(version, "treeflow 0.")) << version;
}

TEST(Limits, FanOutOverTheLimitFailsTheTaskAndStoresNoChild) {
  TempDir dir;
  Recorder leaves;
  Endpoints ep;
  ep.app.plain("POST", "/root", [](const HttpRequest& r) {
    json::array items;
    for (int i = 0; i < 11; ++i) items.push_back(i);
    return envelope(r, items, json::array{json::object{{"url", "/leaf"}, {"input_type", "each"}}});
  });
  ep.app.plain("POST", "/leaf", [&](const HttpRequest& r) {
    leaves.add(r);
    return leaf("x");
  });
  ep.start();
  Engine engine(dir.file("t.db"), {"--config", fast_config(dir, "[limits]\nmax_fanout = 10\n")});
  engine.start();
  std::string run = engine.start_run({{"url", ep.base + "/root"}});
  auto r = engine.wait_run(run, 30s);
  ASSERT_EQ(r.at("state").as_string(), "failed");
  EXPECT_EQ(r.at("tasks_total").as_int64(), 1);  // nothing partial stored
  std::string root(r.at("root_task_id").as_string());
  auto t = engine.task(root);
  EXPECT_TRUE(contains(std::string(t.at("last_error").as_string()), "max_fanout"))
      << t.at("last_error");
  auto kids = engine.get("/v1/runs/" + run + "/tree?parent=" + root).json();
  EXPECT_TRUE(kids.at("tasks").as_array().empty());
  EXPECT_EQ(leaves.size(), 0u);
}

class CrashPoint : public ::testing::TestWithParam<const char*> {};

TEST_P(CrashPoint, RestartFinishesTheRunExactly) {
  TempDir dir;
  Recorder leaves, joins;
  Endpoints ep;
  small_tree(ep, leaves, joins);
  ep.start();
  std::string db = dir.file("t.db");
  std::string cfg = fast_config(dir, "max_concurrent_dispatches = 4\n");
  std::string run;
  {
    Engine engine(db, {"--config", cfg});
    engine.set_env({std::string("TREEFLOW_CRASH_AT=") + GetParam()});
    engine.start();
    run = engine.start_run({{"url", ep.base + "/root"}});
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (engine.alive() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    ASSERT_FALSE(engine.alive()) << "the crash point " << GetParam() << " was never reached";
    EXPECT_EQ(engine.exit_code(), 86) << engine.log();
  }
  Engine engine(db, {"--config", cfg});
  engine.start();
  auto r = engine.wait_run(run, 60s);
  ASSERT_EQ(r.at("state").as_string(), "completed") << GetParam() << " " << json::serialize(r) << engine.log();
  EXPECT_EQ(count(r, "completed"), 22);
  EXPECT_EQ(r.at("tasks_total").as_int64(), 22);  // no child created twice
  EXPECT_EQ(leaves.task_ids().size(), 20u);
  EXPECT_EQ(joins.task_ids().size(), 1u);  // the join fired exactly once
  // The chord saw every leaf's data, in order.
  auto last_join = joins.snapshot().back();
  json::array expect;
  for (int i = 0; i < 20; ++i) expect.push_back(i);
  EXPECT_EQ(json::parse(last_join.body), json::value(expect));
}

INSTANTIATE_TEST_SUITE_P(Engine, CrashPoint,
                         ::testing::Values("before_commit:5", "after_commit:3", "after_children_insert",
                                           "before_join_insert", "after_dispatch:5"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (auto& c : n)
                             if (c == ':') c = '_';
                           return n;
                         });

// A fan-out bigger than a chunk (1,000) is stored a chunk per transaction
// from a saved batch; a crash in between resumes from the batch.
TEST(BigFanOut, CrashWhileStoringChunksResumesWithEveryChildOnce) {
  TempDir dir;
  Recorder leaves;
  Endpoints ep;
  constexpr int kItems = 2'500;
  ep.app.plain("POST", "/root", [](const HttpRequest& r) {
    json::array items;
    for (int i = 0; i < kItems; ++i) items.push_back(i);
    return envelope(r, items, json::array{json::object{{"url", "/leaf"}, {"input_type", "each"}}});
  });
  ep.app.plain("POST", "/leaf", [&](const HttpRequest& r) {
    leaves.add(r);
    return leaf("x");
  });
  ep.start();
  std::string db = dir.file("t.db");
  std::string cfg = fast_config(dir, "max_concurrent_dispatches = 8\n");
  std::string run;
  {
    Engine engine(db, {"--config", cfg});
    engine.set_env({"TREEFLOW_CRASH_AT=after_fanout_chunk:2"});
    engine.start();
    run = engine.start_run({{"url", ep.base + "/root"}});
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (engine.alive() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    ASSERT_FALSE(engine.alive()) << "the crash point was never reached";
    EXPECT_EQ(engine.exit_code(), 86) << engine.log();
  }
  Engine engine(db, {"--config", cfg});
  engine.start();
  auto r = engine.wait_run(run, 60s);
  ASSERT_EQ(r.at("state").as_string(), "completed") << json::serialize(r) << engine.log();
  EXPECT_EQ(r.at("tasks_total").as_int64(), kItems + 1);  // no child lost or stored twice
  EXPECT_EQ(count(r, "completed"), kItems + 1);
  EXPECT_EQ(leaves.task_ids().size(), static_cast<std::size_t>(kItems));
}

TEST(StoreFiles, NotADatabaseIsRefusedAndLeftUntouched) {
  TempDir dir;
  std::string path = dir.file("notes.txt");
  {
    std::ofstream f(path);
    f << "my precious notes, not a database\n";
  }
  Engine engine(path);
  try {
    engine.start();
    FAIL() << "the engine started on a text file";
  } catch (const std::exception& e) {
    EXPECT_TRUE(contains(e.what(), "is not a SQLite database")) << e.what();
  }
  std::ifstream f(path);
  std::string content((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(content, "my precious notes, not a database\n");
}

TEST(StoreFiles, StoreOfAnEarlierSchemaIsRefusedWithWhatToDo) {
  TempDir dir;
  std::string db = dir.file("t.db");
  {
    Engine engine(db);
    engine.start();
    engine.stop();  // the last connection checkpoints the WAL into the file
  }
  ASSERT_FALSE(std::filesystem::exists(db + "-wal"));
  {
    // The header's user_version (offset 60, big-endian) is the schema version.
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(60);
    const char v1[4] = {0, 0, 0, 1};
    f.write(v1, 4);
  }
  Engine engine(db);
  try {
    engine.start();
    FAIL() << "the engine started on a schema 1 store";
  } catch (const std::exception& e) {
    EXPECT_TRUE(contains(e.what(), "schema version 1 is not supported")) << e.what();
    EXPECT_TRUE(contains(e.what(), "made by an earlier treeflow")) << e.what();
  }
}

TEST(StoreFiles, CorruptDatabaseIsAClearErrorAtStartUp) {
  TempDir dir;
  std::string db = dir.file("t.db");
  {
    Engine engine(db);
    engine.start();
    engine.stop();
  }
  // Keep the SQLite header, scribble over the rest.
  {
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    std::string junk(8000, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  std::filesystem::remove(db + "-wal");
  std::filesystem::remove(db + "-shm");
  Engine engine(db);
  try {
    engine.start();
    FAIL() << "the engine started on a corrupt store";
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_TRUE(contains(m, "corrupt") || contains(m, "malformed") || contains(m, "not a database"))
        << m;
  }
}
