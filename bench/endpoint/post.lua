-- wrk script for the limit: keep-alive POSTs to the leaf location with the
-- request the engine sends a leaf (body {"i":N} and the engine's headers), and
-- one JSON summary line.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "treeflow/0.1.0"
wrk.headers["X-Workflow-Task-Id"] = "0f8fad5bd9cb469fa1657086"
wrk.headers["Idempotency-Key"] = "0f8fad5bd9cb469fa1657086"
wrk.headers["X-Workflow-Run-Id"] = "rmsgq7ol4xo7olsap7daqknsuxu"
wrk.headers["X-Workflow-Parent-Task-Id"] = "7728950e0f8fad5bd9cb469f"
wrk.headers["X-Workflow-Attempt"] = "1"
wrk.headers["X-Workflow-Queue"] = "default"
wrk.headers["traceparent"] = "00-0f8fad5bd9cb469fa16570867728950e-d9cb469fa1657086-01"
wrk.body = '{"i":12345}'

done = function(summary, latency, requests)
  local s = summary.duration / 1e6
  local errs = summary.errors.connect + summary.errors.read + summary.errors.write
             + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.0f,"p50_us":%.1f,"p99_us":%.1f,"errors":%d}\n',
    summary.requests, s, summary.requests / s, latency:percentile(50), latency:percentile(99), errs))
end
