#include "engine/dispatcher.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <unordered_map>

#include "core/retry.h"
#include "engine/crash.h"
#include "net/http_client.h"

namespace treeflow::engine {

namespace asio = boost::asio;

namespace {
std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}
}  // namespace

std::string sign(const std::string& secret, std::int64_t t, const std::string& body) {
  std::string msg = std::to_string(t) + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  return "t=" + std::to_string(t) + ",v1=" + to_hex(mac, len);
}

void LatencyHistogram::observe(std::int64_t us) {
  double s = static_cast<double>(us) / 1e6;
  std::size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  buckets[i]++;
  count++;
  sum_us += static_cast<std::uint64_t>(us < 0 ? 0 : us);
}

struct Dispatcher::Impl : std::enable_shared_from_this<Impl> {
  struct Bucket {
    std::deque<Dispatch> waiting;
    double tokens = 0;
    std::chrono::steady_clock::time_point last{};
    bool timer_armed = false;
    std::unique_ptr<asio::steady_timer> timer;
  };

  Impl(asio::io_context& io_, Scheduler& s, net::HttpClient& c, const EngineOptions& o)
      : io(io_), scheduler(s), client(c), options(o) {}

  asio::io_context& io;
  Scheduler& scheduler;
  net::HttpClient& client;
  EngineOptions options;
  std::unordered_map<std::string, Bucket> buckets;
  std::unordered_map<std::string, core::QueueConfig> queues;
  std::chrono::steady_clock::time_point queues_read{};
  LatencyHistogram latency;
  std::atomic<std::uint64_t> sent{0};
  std::unordered_map<std::string, std::string> trace_ids;  // run id -> trace id (trace_id())

  const core::QueueConfig& queue(const std::string& name) {
    auto now = std::chrono::steady_clock::now();
    if (now - queues_read > std::chrono::milliseconds(500) || !queues.count(name)) {
      queues.clear();
      for (auto& q : scheduler.queues()) queues[q.name] = q;
      queues_read = now;
    }
    auto it = queues.find(name);
    if (it == queues.end()) {
      static const core::QueueConfig def;
      return def;
    }
    return it->second;
  }

  void add(std::vector<Dispatch> tasks) {
    for (auto& t : tasks) {
      std::string q = t.queue;
      auto& b = buckets[q];
      if (b.last == std::chrono::steady_clock::time_point{}) {
        b.last = std::chrono::steady_clock::now();
        b.tokens = queue(q).max_burst_size;
      }
      b.waiting.push_back(std::move(t));
    }
    for (auto& [name, b] : buckets) pump(name, b);
  }

  void pump(const std::string& name, Bucket& b) {
    if (b.waiting.empty() || b.timer_armed) return;
    const core::QueueConfig& q = queue(name);
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.last = now;
    b.tokens = std::min<double>(q.max_burst_size, b.tokens + elapsed * q.max_dispatches_per_second);
    while (!b.waiting.empty() && b.tokens >= 1.0) {
      b.tokens -= 1.0;
      send(std::move(b.waiting.front()));
      b.waiting.pop_front();
    }
    if (b.waiting.empty()) return;
    double wait_s = (1.0 - b.tokens) / std::max(q.max_dispatches_per_second, 1e-6);
    if (!b.timer) b.timer = std::make_unique<asio::steady_timer>(io);
    b.timer_armed = true;
    b.timer->expires_after(std::chrono::microseconds(static_cast<std::int64_t>(wait_s * 1e6) + 1));
    b.timer->async_wait([self = shared_from_this(), name](const boost::system::error_code& ec) {
      if (ec) return;
      auto it = self->buckets.find(name);
      if (it == self->buckets.end()) return;
      it->second.timer_armed = false;
      self->pump(name, it->second);
    });
  }

  // The W3C trace id of a run: the first 16 bytes of SHA-256(run id), hex.
  // Cached: hashing per call cost as much as formatting the whole request.
  const std::string& trace_id(const std::string& run_id) {
    if (auto it = trace_ids.find(run_id); it != trace_ids.end()) return it->second;
    if (trace_ids.size() >= 4096) trace_ids.clear();
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(run_id.data()), run_id.size(), h);
    return trace_ids.emplace(run_id, to_hex(h, 16)).first->second;
  }

  void send(Dispatch d) {
    net::OutboundRequest r;
    r.method = d.request.method;
    r.url = std::move(d.request.url);
    r.headers = std::move(d.request.headers);
    r.body = std::move(d.request.body);
    r.deadline = std::chrono::milliseconds(d.deadline_ms);
    r.max_response_bytes = options.limits.max_response_bytes;
    bool has_ct = false;
    for (auto& [k, v] : r.headers)
      if (iequals(k, "content-type")) has_ct = true;
    // The engine's own headers (SPEC section 6), formatted here in one
    // buffer: their values are ids, numbers and queue names it made itself.
    std::string& h = r.trusted_head;
    h.reserve(320);
    if (!r.body.empty() && !has_ct) h.append("Content-Type: application/json\r\n");
    h.append("X-Workflow-Task-Id: ").append(d.task_id);
    h.append("\r\nIdempotency-Key: ").append(d.task_id);
    h.append("\r\nX-Workflow-Run-Id: ").append(d.run_id);
    h.append("\r\nX-Workflow-Parent-Task-Id: ").append(d.parent_id);
    h.append("\r\nX-Workflow-Attempt: ").append(std::to_string(d.attempt));
    h.append("\r\nX-Workflow-Queue: ").append(d.queue);
    h.append("\r\ntraceparent: 00-").append(trace_id(d.run_id)).append("-");
    if (d.task_id.size() >= 16) {
      h.append(d.task_id, 0, 16);
    } else {  // a root: its span id from the run's hash
      unsigned char rh[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(d.run_id.data()), d.run_id.size(), rh);
      h.append(to_hex(rh + 16, 8));
    }
    h.append("-01\r\n");
    if (!options.signing_secret.empty()) {
      auto t = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
      h.append("X-Workflow-Signature: ").append(sign(options.signing_secret, t, r.body)).append("\r\n");
    }
    sent++;
    crash_point("after_dispatch");
    client.send(std::move(r), [self = shared_from_this(), id = std::move(d.task_id),
                               attempt = d.attempt](net::OutboundResult res) mutable {
      Answer a;
      a.task_id = std::move(id);
      a.attempt = attempt;
      a.status = res.status;
      a.error = std::move(res.error);
      for (auto& [k, v] : res.headers) {
        if (iequals(k, "x-workflow-envelope")) a.envelope = (v == "1");
        if (iequals(k, "retry-after")) a.retry_after_ms = core::parse_retry_after(v, now_ms());
      }
      a.body = std::move(res.body);
      self->latency.observe(res.latency_us);
      self->scheduler.post_answer(std::move(a));
    });
  }
};

Dispatcher::Dispatcher(asio::io_context& io, Scheduler& scheduler, net::HttpClient& client,
                       const EngineOptions& options)
    : impl_(std::make_shared<Impl>(io, scheduler, client, options)) {}

Dispatcher::~Dispatcher() = default;

void Dispatcher::enqueue(std::vector<Dispatch> tasks) {
  asio::post(impl_->io, [impl = impl_, t = std::move(tasks)]() mutable { impl->add(std::move(t)); });
}

const LatencyHistogram& Dispatcher::latency() const { return impl_->latency; }
std::uint64_t Dispatcher::sent() const { return impl_->sent.load(); }

}  // namespace treeflow::engine
