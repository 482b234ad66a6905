#include "support.h"

#include <fcntl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <random>
#include <sstream>

namespace tftest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

HttpResult http(const std::string& method, const std::string& url, const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& headers) {
  auto u = boost::urls::parse_uri(url);
  if (!u) throw std::runtime_error("bad url " + url);
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(30s);
  asio::ip::tcp::resolver res(io);
  stream.connect(res.resolve(std::string(u->host()), std::string(u->port())));
  std::string target = std::string(u->encoded_path());
  if (target.empty()) target = "/";
  if (u->has_query()) target += "?" + std::string(u->encoded_query());
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, std::string(u->host()));
  req.set(bhttp::field::connection, "close");
  for (auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() && req.find(bhttp::field::content_type) == req.end())
    req.set(bhttp::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  // A server may answer (413) and close before it has read an oversized body:
  // the write then fails, but the answer is there to read.
  boost::system::error_code wec;
  bhttp::write(stream, req, wec);
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> p;
  p.body_limit(512 << 20);
  boost::system::error_code rec;
  bhttp::read(stream, buf, p, rec);
  if (rec) throw boost::system::system_error(wec ? wec : rec);
  HttpResult r;
  r.status = static_cast<int>(p.get().result_int());
  r.body = p.get().body();
  return r;
}

TempDir::TempDir() {
  std::random_device rd;
  path = std::filesystem::temp_directory_path() / ("treeflow-it-" + std::to_string(rd()));
  std::filesystem::create_directories(path);
}
TempDir::~TempDir() {
  std::error_code ec;
  if (!std::getenv("TREEFLOW_KEEP_TEST_DIRS")) std::filesystem::remove_all(path, ec);
}

Engine::Engine(std::string db, std::vector<std::string> extra)
    : db_(std::move(db)), extra_(std::move(extra)) {
  log_path_ = db_ + ".log";
}

Engine::~Engine() {
  if (pid_ > 0) kill9();
}

void Engine::start() {
  std::string port_file = db_ + ".port";
  std::filesystem::remove(port_file);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    int out = ::open(port_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    std::vector<std::string> args{TREEFLOW_BIN, "serve", "--db", db_, "--listen", "127.0.0.1:0",
                                  "--sync", "normal", "--log-level", "warn"};
    for (auto& e : extra_) args.push_back(e);
    for (auto& e : env_) putenv(e.data());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(TREEFLOW_BIN, argv.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream f(port_file);
    std::string line;
    if (std::getline(f, line)) {
      auto p = line.find("127.0.0.1:");
      if (p != std::string::npos) {
        port_ = std::atoi(line.c_str() + p + 10);
        if (port_ > 0) return;
      }
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      throw std::runtime_error("engine exited at start-up (" + std::to_string(exit_code_) +
                               "): " + log());
    }
    std::this_thread::sleep_for(20ms);
  }
  throw std::runtime_error("engine did not start in 20 s: " + log());
}

void Engine::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_code_ = 137;
  pid_ = -1;
}

void Engine::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  pid_ = -1;
}

bool Engine::alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
    return false;
  }
  return true;
}

long Engine::peak_rss_kib() const {
  std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

std::pair<int, std::string> cli(const std::vector<std::string>& args) {
  std::string cmd = TREEFLOW_BIN;
  for (auto& a : args) {
    cmd += " '";
    for (char c : a) cmd += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += "'";
  }
  cmd += " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::string Engine::log() const {
  std::ifstream f(log_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.size() > 4000) s = s.substr(s.size() - 4000);
  return s;
}

std::string Engine::start_run(const json::object& body) {
  auto r = post("/v1/runs", body);
  if (r.status != 201) throw std::runtime_error("start_run: " + std::to_string(r.status) + " " + r.body);
  return std::string(r.json().at("run_id").as_string());
}

json::object Engine::run(const std::string& id) {
  auto r = get("/v1/runs/" + id);
  if (r.status != 200) throw std::runtime_error("run: " + r.body);
  return r.json().as_object();
}

json::object Engine::wait_run(const std::string& id, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto r = run(id);
    if (r.at("state").as_string() != "running" || std::chrono::steady_clock::now() > deadline)
      return r;
    std::this_thread::sleep_for(20ms);
  }
}

json::object Engine::task(const std::string& id) {
  auto r = get("/v1/tasks/" + id);
  if (r.status != 200) throw std::runtime_error("task: " + r.body);
  return r.json().as_object();
}

std::int64_t count(const json::object& run, const char* state) {
  return run.at("counts").as_object().at(state).as_int64();
}

treeflow::HttpResponse envelope(const treeflow::HttpRequest& req, json::value data,
                                json::array immediate, json::array sub, int status) {
  json::object env{{"id", std::string(req.header("X-Workflow-Task-Id"))},
                   {"response", json::object{{"status_code", status}, {"headers", json::object{}}, {"data", std::move(data)}}},
                   {"immediate_next", std::move(immediate)},
                   {"sub_task_next", std::move(sub)}};
  treeflow::HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}, {"X-Workflow-Envelope", "1"}};
  r.body = json::serialize(env);
  return r;
}

treeflow::HttpResponse leaf(json::value data, int status) {
  treeflow::HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = json::serialize(data);
  return r;
}

std::string fast_config(const TempDir& dir, const std::string& extra) {
  std::string path = dir.file("treeflow.toml");
  std::ofstream f(path);
  f << "[queues.default]\nmin_backoff = \"0.01s\"\nmax_backoff = \"0.05s\"\nmax_attempts = 5\n"
    << "max_dispatches_per_second = 100000\n"
    << extra;
  return path;
}

}  // namespace tftest
