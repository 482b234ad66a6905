#!/usr/bin/env bash
# The flagship job end to end (what `make demo` runs):
#   1. start the treeflow engine (its own SQLite store in a temp dir),
#   2. start blog_endpoints (the warehouse + Trigger / Write Blog / Write Comment),
#   3. call the Trigger directly with curl, as in the seed: that starts the run,
#   4. follow the run live (`treeflow watch`) until it ends,
#   5. print the run's summary and check the copy with blog_verify.
# Exit 0 only when the run completed and the copy is exact.
#
# usage: scripts/demo.sh [--build DIR] [--data FILE] [--page-size K] [--flaky P]
#                        [--target blog.db|postgresql://...] [--keep] [--kill N]
#   --keep    leave the engine and the endpoints running afterwards, and say how
#             to inspect the run and how to stop them.
#   --kill N  kill -9 the engine N times at random moments of the run, each
#             time restarting it on the same store (the soak of `make soak`);
#             the copy must still be exact and no task left pending or running.
# Every process it starts is stopped by PID on exit (unless --keep). Logs are
# kept in the temp dir, which is removed after a success without --keep.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=build
DATA=data/warehouse.json
PAGE_SIZE=100
FLAKY=0
TARGET=
KEEP=0
KILLS=0

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --build) BUILD=${2:?--build needs a value}; shift 2 ;;
    --data) DATA=${2:?--data needs a value}; shift 2 ;;
    --page-size) PAGE_SIZE=${2:?--page-size needs a value}; shift 2 ;;
    --flaky) FLAKY=${2:?--flaky needs a value}; shift 2 ;;
    --target) TARGET=${2:?--target needs a value}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --kill) KILLS=${2:?--kill needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

# Relative paths are relative to the repository (make runs us from there).
abs() { case "$1" in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
BUILD=$(abs "$BUILD")
DATA=$(abs "$DATA")
TREEFLOW="$BUILD/treeflow"
ENDPOINTS="$BUILD/examples/blog_migration/blog_endpoints"
VERIFY="$BUILD/examples/blog_migration/blog_verify"

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
[[ -t 1 ]] || say() { printf 'demo: %s\n' "$*"; }

for bin in "$TREEFLOW" "$ENDPOINTS" "$VERIFY"; do
  if [[ ! -x "$bin" ]]; then
    echo "demo: $bin is missing: build first (make build, or cmake --build $BUILD)" >&2
    exit 2
  fi
done
[[ -r "$DATA" ]] || { echo "demo: cannot read the data file $DATA" >&2; exit 2; }
[[ "$PAGE_SIZE" =~ ^[0-9]+$ && "$PAGE_SIZE" -ge 1 ]] || { echo "demo: --page-size must be a positive integer" >&2; exit 2; }
[[ "$KILLS" =~ ^[0-9]+$ ]] || { echo "demo: --kill must be a number" >&2; exit 2; }
command -v curl >/dev/null || { echo "demo: curl is required (scripts/install-deps.sh)" >&2; exit 2; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/treeflow-demo.XXXXXX") || { echo "demo: cannot create a temp dir" >&2; exit 2; }
if [[ -z "$TARGET" ]]; then
  TARGET="$DIR/blog.db"
elif [[ "$TARGET" != postgres* && "$TARGET" != *dbname=* ]]; then
  TARGET=$(abs "$TARGET")
fi
ENGINE_LOG="$DIR/engine.log"
ENDPOINTS_LOG="$DIR/endpoints.log"

ENGINE_PID=
ENDPOINTS_PID=
WATCH_PID=
SUCCESS=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n "$WATCH_PID" ]] && kill "$WATCH_PID" 2>/dev/null
  if ((KEEP)); then
    if [[ -n "$ENGINE_PID$ENDPOINTS_PID" ]]; then
      echo
      say "--keep: left running: engine (pid ${ENGINE_PID:-none}) at ${ENGINE_URL:-?}, endpoints (pid ${ENDPOINTS_PID:-none}) at ${EP_URL:-?}"
      [[ -n "${RUN:-}" ]] && {
        echo "  inspect:  $TREEFLOW status $RUN --server $ENGINE_URL"
        echo "            $TREEFLOW tree $RUN --server $ENGINE_URL"
      }
      echo "  copy:     $TARGET"
      echo "  logs:     $DIR"
      echo "  stop:     kill $ENGINE_PID $ENDPOINTS_PID"
    fi
    exit "$rc"
  fi
  local pid
  [[ -f "$ENGINE_LOG.current" ]] && cat "$ENGINE_LOG.current" >>"$ENGINE_LOG" && rm -f "$ENGINE_LOG.current"
  for pid in $ENDPOINTS_PID $ENGINE_PID; do
    kill "$pid" 2>/dev/null
  done
  for pid in $ENDPOINTS_PID $ENGINE_PID; do
    # Give each a few seconds to stop cleanly, then insist.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if ((SUCCESS)); then
    rm -rf "$DIR"
  else
    echo "demo: logs kept in $DIR" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fail STEP MESSAGE [LOG]: say which step failed, show the log's tail, exit 1.
fail() {
  echo "demo: FAILED at step \"$1\": $2" >&2
  if [[ -n "${3:-}" ]]; then
    echo "demo: last lines of $3:" >&2
    tail -n 30 "$3" 2>/dev/null | sed 's/^/  | /' >&2
  fi
  exit 1
}

# wait_listening PID LOG PATTERN SECONDS: prints the port once LOG has a line
# "PATTERN HOST:PORT"; fails if the process exits first or time runs out.
wait_listening() {
  local pid=$1 log=$2 pattern=$3 secs=$4 line
  for _ in $(seq $((secs * 10))); do
    line=$(grep -m1 -o "$pattern [^ ]*:[0-9]*" "$log" 2>/dev/null)
    if [[ -n "$line" ]]; then
      echo "${line##*:}"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

wait_healthy() {
  local url=$1 pid=$2
  for _ in $(seq 100); do
    curl -sf -o /dev/null --max-time 2 "$url" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

START_S=$(date +%s.%N)
say "temp dir $DIR"
say "data $DATA, page size $PAGE_SIZE, flaky $FLAKY, target $TARGET"

# 1. The engine. (A function: --kill restarts it on the same store and port.)
start_engine() {
  local listen=${1:-127.0.0.1:0}
  : >"$ENGINE_LOG.current"
  "$TREEFLOW" serve --db "$DIR/treeflow.db" --listen "$listen" \
    --config "$ROOT/examples/blog_migration/treeflow.toml" >"$ENGINE_LOG.current" 2>&1 &
  ENGINE_PID=$!
  ENGINE_PORT=$(wait_listening "$ENGINE_PID" "$ENGINE_LOG.current" "treeflow engine listening on" 30) ||
    { cat "$ENGINE_LOG.current" >>"$ENGINE_LOG"; fail "start the engine" "treeflow serve did not report \"listening\" within 30 s (or exited)" "$ENGINE_LOG"; }
  ENGINE_URL="http://127.0.0.1:$ENGINE_PORT"
  wait_healthy "$ENGINE_URL/healthz" "$ENGINE_PID" ||
    fail "start the engine" "$ENGINE_URL/healthz does not answer" "$ENGINE_LOG.current"
}
start_engine
say "engine   pid $ENGINE_PID at $ENGINE_URL (log $ENGINE_LOG)"

# 2. The endpoints (warehouse + the three views), told where the engine is.
"$ENDPOINTS" --listen 127.0.0.1:0 --data "$DATA" --target "$TARGET" --flaky "$FLAKY" \
  --engine-url "$ENGINE_URL" >"$ENDPOINTS_LOG" 2>&1 &
ENDPOINTS_PID=$!
EP_PORT=$(wait_listening "$ENDPOINTS_PID" "$ENDPOINTS_LOG" "^listening on" 60) ||
  fail "start the endpoints" "blog_endpoints did not report \"listening\" within 60 s (or exited)" "$ENDPOINTS_LOG"
EP_URL="http://127.0.0.1:$EP_PORT"
wait_healthy "$EP_URL/healthz" "$ENDPOINTS_PID" ||
  fail "start the endpoints" "$EP_URL/healthz does not answer" "$ENDPOINTS_LOG"
say "endpoints pid $ENDPOINTS_PID at $EP_URL (log $ENDPOINTS_LOG)"

# 3. Call the Trigger directly, as a person or a cron would: the SDK registers
# the run with the engine and answers with its id.
TRIGGER_URL="$EP_URL/trigger?page=1&page_size=$PAGE_SIZE"
say "curl $TRIGGER_URL"
CODE=$(curl -s -D "$DIR/trigger.headers" -o "$DIR/trigger.body" -w '%{http_code}' --max-time 60 "$TRIGGER_URL")
if [[ "$CODE" != 200 ]]; then
  fail "call the Trigger" "GET $TRIGGER_URL answered ${CODE:-nothing} (body in $DIR/trigger.body)" "$ENDPOINTS_LOG"
fi
RUN=$(grep -i '^x-workflow-run-id:' "$DIR/trigger.headers" | head -1 | cut -d: -f2 | tr -d ' \r\n')
[[ -n "$RUN" ]] || fail "call the Trigger" "no X-Workflow-Run-Id header in the answer ($DIR/trigger.headers)" "$ENDPOINTS_LOG"
say "run $RUN started"
# The SDK reports the Trigger's answer to the engine before answering curl; if
# that report was refused, the engine only re-dispatches the Trigger when its
# lease expires (the queue's dispatch_deadline), so say so instead of hanging
# silently.
if grep -q "could not report task" "$ENDPOINTS_LOG"; then
  echo "demo: WARNING: the endpoints could not report the Trigger's answer to the engine:" >&2
  grep "could not report task" "$ENDPOINTS_LOG" | tail -1 | sed 's/^/  | /' >&2
  echo "demo: the engine will dispatch the Trigger again when its lease expires" >&2
fi

# 3b. --kill N: crash the engine at random moments and restart it.
for ((k = 1; k <= KILLS; k++)); do
  sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() * 1.3 }')"
  STATE=$(curl -sf --max-time 5 "$ENGINE_URL/v1/runs/$RUN" | grep -o '"state":"[a-z]*"' | head -1 | cut -d'"' -f4)
  if [[ "$STATE" != running ]]; then
    say "the run is $STATE after $((k - 1)) kill(s); no more kills"
    break
  fi
  DONE=$(curl -sf --max-time 5 "$ENGINE_URL/v1/runs/$RUN" | grep -o '"completed":[0-9]*' | head -1 | cut -d: -f2)
  kill -9 "$ENGINE_PID"
  wait "$ENGINE_PID" 2>/dev/null
  cat "$ENGINE_LOG.current" >>"$ENGINE_LOG"
  say "kill -9 #$k of the engine (pid $ENGINE_PID) at ${DONE:-?} completed tasks; restarting"
  start_engine "127.0.0.1:$ENGINE_PORT"
  KILLED=$k
done

# 4. Follow it live. In the background + wait, so Ctrl-C and ctest's timeout
# reach our trap at once.
"$TREEFLOW" watch "$RUN" --server "$ENGINE_URL" &
WATCH_PID=$!
wait "$WATCH_PID"
WATCH_RC=$?
WATCH_PID=
echo

# 5. Summary and verification.
say "summary"
"$TREEFLOW" status "$RUN" --server "$ENGINE_URL" || true
"$TREEFLOW" status "$RUN" --server "$ENGINE_URL" --json >"$DIR/status.json" 2>/dev/null || true
STATS=$(curl -sf --max-time 5 "$EP_URL/stats") && echo "endpoints: $STATS"
ELAPSED=$(awk -v a="$START_S" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "demo wall time: ${ELAPSED} s"

if ((WATCH_RC != 0)); then
  STATE=$(grep -o '"state":"[a-z]*"' "$DIR/status.json" 2>/dev/null | head -1 | cut -d'"' -f4)
  fail "run the job" "run $RUN did not complete (state ${STATE:-unknown}, treeflow watch exited $WATCH_RC); see \`$TREEFLOW tree $RUN --server $ENGINE_URL\`" "$ENGINE_LOG"
fi

if ((KILLS)); then
  LEFT=$(grep -o '"pending":[0-9]*\|"running":[0-9]*\|"waiting":[0-9]*' "$DIR/status.json" | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }')
  [[ "${LEFT:-x}" == 0 ]] || fail "check the store" "tasks left pending/running/waiting after the kills: ${LEFT:-unknown} ($DIR/status.json)" "$ENGINE_LOG"
  say "survived ${KILLED:-0} kill -9 of the engine; nothing left pending or running in the store"
fi

say "blog_verify --data $DATA --target $TARGET"
"$VERIFY" --data "$DATA" --target "$TARGET" | tee "$DIR/verify.log"
VERIFY_RC=${PIPESTATUS[0]}
case "$VERIFY_RC" in
  0) ;;
  1) fail "verify the copy" "the copy differs from the source (see above; $DIR/verify.log)" "$ENDPOINTS_LOG" ;;
  *) fail "verify the copy" "blog_verify could not compare (exit $VERIFY_RC)" "$DIR/verify.log" ;;
esac

SUCCESS=1
say "run $RUN completed; the copy in $TARGET is exact"
((KEEP)) || [[ "$TARGET" != "$DIR"/* ]] || say "(the temp dir is removed on exit; --keep or KEEP=1 keeps it)"
exit 0
