#!/usr/bin/env bash
# treeflow benchmark suite: the loopback limit (wrk), the engine (tree, flat,
# join latency, 1M-task scale run with restart) and the peers (BullMQ, Celery,
# graphile-worker), all in one run on this machine. See bench/README.md.
#
# Usage: bench/run.sh [BUILD_DIR]        (default build-release; `make bench` runs it)
# Env:   RUNS=1          peer runs per variant (median reported); also engine tree runs x3
#        CONCS="256 1000 2000" engine max_concurrent_dispatches values tried (flat 100k)
#        ENGINE_CONNS=64       engine max_connections_per_host (wrk's connections for the limit)
#        SCALE_N=1000000 tasks of the scale run (reduced automatically if the engine
#                        is too slow to finish it in SCALE_BUDGET_S=600 s)
#        JOIN_PAGES=300 JOIN_LEAVES=10   join-latency chain
#        PEER_FLAT_N=100000   jobs of the peers' flat runs
#        SKIP_PEERS=1    engine only
#        NGINX_PORT REDIS_PORT PG_PORT JOIN_PORT   (127.0.0.1; refused if taken)
# Writes bench/results/latest.json; the raw log goes to bench/results/<UTC stamp>.log.
set -u
REPO="$(cd "$(dirname "$0")/.." && pwd)"
source "$REPO/bench/lib.sh"
BUILD="${1:-build-release}"
TREEFLOW="$REPO/$BUILD/treeflow"
[ -x "$TREEFLOW" ] || { echo "no $TREEFLOW; build it first (make bench)"; exit 1; }
RUNS="${RUNS:-1}"
CONCS="${CONCS:-256 1000 2000}"
SCALE_N="${SCALE_N:-1000000}"
SCALE_BUDGET_S="${SCALE_BUDGET_S:-600}"
JOIN_PAGES="${JOIN_PAGES:-300}"
JOIN_LEAVES="${JOIN_LEAVES:-10}"
PEER_FLAT_N="${PEER_FLAT_N:-100000}"

RESULTS="$REPO/bench/results"
mkdir -p "$RESULTS"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOG="$RESULTS/$STAMP.log"
# Scratch space (stores, nginx prefix, redis, postgres) on the same disk as the
# repo by default: fsync costs what it costs on this machine's disk.
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/treeflow-bench.XXXXXX")"
chmod 755 "$WORK"
P="$WORK/parts"; mkdir -p "$P"
cleanup() { stop_tracked; stop_pg; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
exec > >(tee -a "$LOG") 2>&1

say() { echo "[$(date -u +%H:%M:%S)] $*"; }
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }

say "treeflow bench $STAMP, build $BUILD, RUNS=$RUNS, work dir $WORK"
"$BENCH_DIR/versions.sh" | tee "$P/versions.txt"
# The commit, marked +dirty when src/ has uncommitted changes (the build used them).
# BENCH_COMMIT overrides it (a run from `git archive` of a commit has no .git).
{ [ -n "${BENCH_COMMIT:-}" ] && echo "$BENCH_COMMIT" || git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown; } | tr -d '\n' > "$P/commit.txt"
[ -n "$(git -C "$REPO" status --porcelain -- src CMakeLists.txt 2>/dev/null)" ] && echo -n "+dirty" >> "$P/commit.txt"

# Scale-run shape: 1 root -> MIDS -> LEAVES each; MIDS fixed at 1,000.
scale_shape() { SCALE_MIDS=1000; SCALE_LEAVES=$(( $1 / 1000 - 1 )); SCALE_TASKS=$(( 1 + SCALE_MIDS + SCALE_MIDS * SCALE_LEAVES )); }
scale_shape "$SCALE_N"
start_nginx "$SCALE_MIDS" "$SCALE_LEAVES" || exit 1
EP="http://127.0.0.1:$NGINX_PORT"

# ---------------------------------------------------------------- 1. limit
say "1. limit: wrk -t2 -c64 -d10s POST $EP/leaf"
timeout 40 wrk -t2 -c64 -d10s -s "$BENCH_DIR/endpoint/post.lua" "$EP/leaf" | tee "$P/wrk.txt"
tail -1 "$P/wrk.txt" > "$P/limit.json"

# ---------------------------------------------------------------- 2. engine throughput
# One fresh engine and store per measurement; the default queue unthrottled.
engine_run() { # engine_run NAME CONC ROOT METHOD [engine_run.py args...]
  local name="$1" conc="$2" root="$3" method="$4"; shift 4
  engine_config "$WORK/$name.toml" "$conc" false
  start_engine "$WORK/$name.db" "$WORK/$name.toml" || return 1
  timeout 900 "$PY" "$BENCH_DIR/engine_run.py" "$ENGINE_API" "$root" "$method" --timeout 800 "$@" \
    > "$P/$name.json"
  "$PY" - "$P/$name.json" "$(peak_rss_mib "$ENGINE_PID")" "$conc" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["peak_rss_mib"] = float(sys.argv[2] or 0); d["concurrency"] = int(sys.argv[3])
json.dump(d, open(sys.argv[1], "w"))
EOF
  stop_pid "$ENGINE_PID"
  say "$name (max_concurrent_dispatches=$conc): $(jget "$P/$name.json" '"%s %s tasks in %s ms = %s tasks/s, peak RSS %s MiB" % (d["state"], d["tasks_total"], d["elapsed_ms"], d.get("tasks_per_s"), d["peak_rss_mib"])')"
}

say "2a. concurrency sweep: the flat fan-out (100,001 tasks) per value of CONCS"
best_conc=""; best_rate=0
for c in $CONCS; do
  engine_run "sweep-c$c" "$c" "$EP/flat" GET || continue
  r=$(jget "$P/sweep-c$c.json" 'd.get("tasks_per_s", 0)')
  if "$PY" -c "import sys; sys.exit(0 if float('$r') > float('$best_rate') else 1)"; then best_rate=$r; best_conc=$c; fi
done
[ -n "$best_conc" ] || best_conc=256
echo "$best_conc" > "$P/best_conc.txt"
say "best max_concurrent_dispatches: $best_conc ($best_rate tasks/s on flat 100k)"

say "2b. tree: 1 root -> 200 -> 10 each (2,201 tasks), 3 runs"
for i in 1 2 3; do engine_run "tree-$i" "$best_conc" "$EP/page" POST; done
say "2c. flat: 1 root -> 100,000 leaves (100,001 tasks), 3 runs"
for i in 1 2 3; do engine_run "flat-$i" "$best_conc" "$EP/flat" GET; done

# ---------------------------------------------------------------- 3. join latency
say "3. join latency: chain of $JOIN_PAGES pages x $JOIN_LEAVES leaves, idle engine"
port_free "$JOIN_PORT" || exit 1
"$PY" "$BENCH_DIR/endpoint/join_endpoint.py" "$JOIN_PORT" "$JOIN_PAGES" "$JOIN_LEAVES" &
JOIN_PID=$!; track_pid "$JOIN_PID"
wait_port "$JOIN_PORT" 10 || exit 1
engine_run join "$best_conc" "http://127.0.0.1:$JOIN_PORT/jl/page" POST --payload '{"page": 1}'
curl -s -m 5 "http://127.0.0.1:$JOIN_PORT/jl/stats" > "$P/join_stats.json"
say "join latency: $(cat "$P/join_stats.json")"
stop_pid "$JOIN_PID"

# ---------------------------------------------------------------- 4. memory and scale
flat_rate=$(jget "$P/flat-1.json" 'd.get("tasks_per_s", 0)')
need_s=$("$PY" -c "r=float('$flat_rate'); print(int($SCALE_TASKS / r) if r > 0 else 10**9)")
if [ "$need_s" -gt "$SCALE_BUDGET_S" ]; then
  n=$("$PY" -c "print(max(10000, int(float('$flat_rate') * $SCALE_BUDGET_S) // 1000 * 1000))")
  say "scale run: $SCALE_TASKS tasks would take ~${need_s}s at $flat_rate tasks/s; reduced to N=$n"
  scale_shape "$n"
  "$PY" "$BENCH_DIR/endpoint/gen.py" "$NGINX_PREFIX" "$NGINX_PORT" "$SCALE_MIDS" "$SCALE_LEAVES"  # static files only
fi
PENDING=$(( SCALE_MIDS * SCALE_LEAVES ))
say "4. scale: 1 root -> $SCALE_MIDS -> $SCALE_LEAVES each = $SCALE_TASKS tasks; leaves on a paused queue"
engine_config "$WORK/scale.toml" "$best_conc" true
start_engine "$WORK/scale.db" "$WORK/scale.toml" || exit 1
timeout 900 "$PY" "$BENCH_DIR/engine_run.py" "$ENGINE_API" "$EP/scale" GET --until "pending:$PENDING" \
  --timeout 800 > "$P/scale_a.json"
rss_a=$(peak_rss_mib "$ENGINE_PID")
run_id=$(jget "$P/scale_a.json" 'd["run_id"]')
say "phase A (root + $SCALE_MIDS mids answered, $PENDING leaves stored pending): $(cat "$P/scale_a.json"), peak RSS $rss_a MiB"
kill -KILL "$ENGINE_PID"; wait "$ENGINE_PID" 2>/dev/null
store_pending=$(du -cb "$WORK"/scale.db* | tail -1 | cut -f1)
say "engine killed (SIGKILL) with $PENDING pending; store $store_pending bytes; restarting"
engine_config "$WORK/scale.toml" "$best_conc" false
start_engine "$WORK/scale.db" "$WORK/scale.toml" || exit 1
restart_s=$ENGINE_START_S
t_b=$(date +%s.%N)
# The stored queue state wins over the config's paused=false at start-up, so resume explicitly.
curl -s -m 10 -X POST "$ENGINE_API/v1/queues/scale/resume" >/dev/null
timeout 1200 "$PY" "$BENCH_DIR/engine_run.py" "$ENGINE_API" --run "$run_id" --timeout 1100 > "$P/scale_b.json"
t_b_end=$(date +%s.%N)
rss_b=$(peak_rss_mib "$ENGINE_PID")
stop_pid "$ENGINE_PID"
store_done=$(du -cb "$WORK"/scale.db* | tail -1 | cut -f1)
"$PY" - "$P/scale.json" <<EOF
import json
a = json.load(open("$P/scale_a.json")); b = json.load(open("$P/scale_b.json"))
phase_b_s = $t_b_end - $t_b
json.dump({"n_tasks": $SCALE_TASKS, "pending_at_restart": $PENDING, "state": b["state"],
           "tasks_total": b["tasks_total"], "phase_a_s": a["wall_s"], "phase_b_s": round(phase_b_s, 3),
           "leaves_per_s": round($PENDING / phase_b_s, 1),
           "tasks_per_s": round($SCALE_TASKS / (a["wall_s"] + phase_b_s), 1),
           "peak_rss_mib_a": float("$rss_a" or 0), "peak_rss_mib_b": float("$rss_b" or 0),
           "peak_rss_mib": max(float("$rss_a" or 0), float("$rss_b" or 0)),
           "store_mib_pending": round($store_pending / 2**20, 1), "store_mib_done": round($store_done / 2**20, 1),
           "restart_s": round($restart_s, 3)}, open("$P/scale.json", "w"))
EOF
say "scale: $(cat "$P/scale.json")"
rm -f "$WORK"/scale.db*

# ---------------------------------------------------------------- 5. peers
if [ "${SKIP_PEERS:-0}" != 1 ]; then
  PEERS="$BENCH_DIR/peers"
  for d in bullmq pgqueue; do
    [ -d "$PEERS/$d/node_modules" ] || (cd "$PEERS/$d" && npm ci --no-audit --no-fund --loglevel=error) || exit 1
  done
  : > "$P/peers.txt"
  say "5. peers (RUNS=$RUNS each); redis AOF everysec for BullMQ and Celery, PostgreSQL synchronous_commit=on"
  start_redis aof || exit 1
  for i in $(seq 1 "$RUNS"); do
    (cd "$PEERS/bullmq" && REDIS_PORT="$REDIS_PORT" NGINX_PORT="$NGINX_PORT" timeout 200 \
      node bench.js --mode=flow --http --name=bullmq-flow-http --timeout=180) 2>&1 | tee -a "$P/peers.txt"
    (cd "$PEERS/bullmq" && REDIS_PORT="$REDIS_PORT" NGINX_PORT="$NGINX_PORT" timeout 320 \
      node bench.js --mode=flat --http --jobs="$PEER_FLAT_N" --name=bullmq-flat-http --timeout=300) 2>&1 | tee -a "$P/peers.txt"
  done
  # Celery: chord(group(2,200 x http), join) = 2,201 tasks on one prefork worker with 2 processes.
  WPIDS=()
  stop_celery() {
    local pid kids=()
    for pid in "${WPIDS[@]}"; do kids+=($(ps -o pid= --ppid "$pid" 2>/dev/null)); done
    for pid in "${WPIDS[@]}"; do stop_pid "$pid"; done
    for pid in "${kids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null; done
    WPIDS=()
  }
  for i in $(seq 1 "$RUNS"); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" flushall >/dev/null
    (cd "$PEERS/celery" && REDIS_PORT="$REDIS_PORT" NGINX_PORT="$NGINX_PORT" exec "$PY" -m celery -A tasks worker \
      -P prefork -c 2 -n "w1@%h" --without-gossip --without-mingle --without-heartbeat -l WARNING \
      > "$WORK/celery-w1.log" 2>&1) &
    WPIDS+=($!); track_pid "${WPIDS[-1]}"
    (cd "$PEERS/celery" && REDIS_PORT="$REDIS_PORT" NGINX_PORT="$NGINX_PORT" EXPECT_WORKERS=1 N=2200 timeout 200 \
      "$PY" bench.py celery-chord-http) 2>&1 | tee -a "$P/peers.txt"
    stop_celery
  done
  stop_pid "$REDIS_PID"
  start_pg durable || exit 1
  for i in $(seq 1 "$RUNS"); do
    for v in "" "--batched"; do
      name="graphile-flat-http${v:+-batched}"
      (cd "$PEERS/pgqueue" && PG_PORT="$PG_PORT" NGINX_PORT="$NGINX_PORT" timeout 320 \
        node bench.js --http $v --jobs="$PEER_FLAT_N" --name="$name" --timeout=300) 2>&1 | tee -a "$P/peers.txt"
    done
  done
  stop_pg
fi

stop_tracked
# ---------------------------------------------------------------- report
"$PY" "$BENCH_DIR/report.py" "$P" "$RESULTS/latest.json" "$STAMP"
say "raw log: $LOG"
