# Helpers for bench/run.sh (sourced). Adapted from the peer harnesses measured
# on this machine. Everything listens on 127.0.0.1 only; every process started
# is tracked by PID and stopped by PID (never by name).

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3   # Debian's python3 (python3-celery lives in its dist-packages)

NGINX_PORT="${NGINX_PORT:-18080}"
REDIS_PORT="${REDIS_PORT:-16379}"
PG_PORT="${PG_PORT:-15432}"
JOIN_PORT="${JOIN_PORT:-18090}"

_STARTED_PIDS=()
track_pid() { _STARTED_PIDS+=("$1"); }

# stop_pid PID: TERM, wait up to 5 s, then KILL. Only for PIDs we started.
stop_pid() {
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

stop_tracked() {
  local pid
  for pid in "${_STARTED_PIDS[@]}"; do stop_pid "$pid"; done
  _STARTED_PIDS=()
}

# Refuse to run if something already listens on the port (we never kill it).
port_free() {
  if ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; then
    echo "port $1 already in use on this machine; set another via env" >&2
    return 1
  fi
}

wait_port() { # wait_port PORT [TIMEOUT_S]
  local t=$(( ${2:-10} * 10 )) i
  for i in $(seq 1 "$t"); do
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  echo "timeout waiting for port $1" >&2; return 1
}

# ---- the trivial endpoint: nginx, 1 worker, foreground ----
# start_nginx SCALE_MIDS SCALE_LEAVES
NGINX_PID=""
start_nginx() {
  port_free "$NGINX_PORT" || return 1
  NGINX_PREFIX="$WORK/nginx"
  "$PY" "$BENCH_DIR/endpoint/gen.py" "$NGINX_PREFIX" "$NGINX_PORT" "$1" "$2" || return 1
  local pin=()
  [ -n "${NGINX_CPU:-}" ] && pin=(taskset -c "$NGINX_CPU")
  "${pin[@]}" nginx -e stderr -p "$NGINX_PREFIX" -c "$NGINX_PREFIX/nginx.conf" \
      2>"$NGINX_PREFIX/logs/stderr.log" &
  NGINX_PID=$!
  track_pid "$NGINX_PID"
  wait_port "$NGINX_PORT" 10
}

# ---- the engine ----
# engine_config FILE CONCURRENCY SCALE_PAUSED(true|false)
engine_config() {
  cat >"$1" <<EOF
[engine]
sync = "full"
max_connections_per_host = ${ENGINE_CONNS:-64}

[queues.default]
max_dispatches_per_second = 1000000
max_concurrent_dispatches = $2

[queues.scale]
max_dispatches_per_second = 1000000
max_concurrent_dispatches = $2
paused = $3
EOF
}

# start_engine DB CONFIG -> ENGINE_PID, ENGINE_API, ENGINE_START_S (exec -> "listening" line)
ENGINE_PID=""
start_engine() {
  local db="$1" cfg="$2" out="$WORK/engine.$RANDOM.out" i t0 t1
  t0=$(date +%s.%N)
  ${ENGINE_PRELOAD:+env LD_PRELOAD=$ENGINE_PRELOAD} "$TREEFLOW" serve --db "$db" --listen 127.0.0.1:0 --config "$cfg" --log-level warn >"$out" 2>&1 &
  ENGINE_PID=$!
  track_pid "$ENGINE_PID"
  for i in $(seq 1 12000); do   # up to 120 s (a restart over a big store)
    grep -q 'listening on' "$out" 2>/dev/null && break
    kill -0 "$ENGINE_PID" 2>/dev/null || { echo "engine exited:"; cat "$out"; return 1; }
    sleep 0.01
  done
  t1=$(date +%s.%N)
  ENGINE_START_S=$(echo "$t1 - $t0" | bc -l)
  ENGINE_API="http://127.0.0.1:$(grep -o 'listening on 127.0.0.1:[0-9]*' "$out" | cut -d: -f2)"
  ENGINE_OUT="$out"
}

peak_rss_mib() { awk '/VmHWM/{printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null; }

# ---- redis (foreground process) ----
# start_redis none|aof
REDIS_PID=""
start_redis() {
  local mode="$1"
  port_free "$REDIS_PORT" || return 1
  REDIS_DIR="$WORK/redis"; mkdir -p "$REDIS_DIR"
  local args=(--port "$REDIS_PORT" --bind 127.0.0.1 --daemonize no
              --dir "$REDIS_DIR" --save "" --logfile "$REDIS_DIR/redis.log"
              --maxmemory-policy noeviction)
  if [ "$mode" = aof ]; then
    args+=(--appendonly yes --appendfsync everysec)
  else
    args+=(--appendonly no)
  fi
  redis-server "${args[@]}" &
  REDIS_PID=$!
  track_pid "$REDIS_PID"
  wait_port "$REDIS_PORT" 10
}

# ---- PostgreSQL (initdb into $WORK, pg_ctl start on 127.0.0.1:$PG_PORT) ----
# start_pg durable|async   (async = synchronous_commit=off)
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
PG_PID=""
_PG_PIDS=()
start_pg() {
  local mode="$1"
  port_free "$PG_PORT" || return 1
  PG_DIR="$WORK/pg"; mkdir -p "$PG_DIR"
  local run=()
  if [ "$(id -u)" -eq 0 ]; then   # initdb refuses to run as root
    chown postgres:postgres "$PG_DIR"; chmod 755 "$WORK"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" --auth=trust -U postgres \
    >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log"; return 1; }
  local sc=on; [ "$mode" = async ] && sc=off
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/pg.log" -w -t 30 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DIR -c max_connections=300 -c synchronous_commit=$sc" \
    start >/dev/null || { cat "$PG_DIR/pg.log"; return 1; }
  PG_PID="$(head -1 "$PG_DIR/data/postmaster.pid")"
  # postgres is daemonised by pg_ctl: stop it by its postmaster PID (SIGINT = fast shutdown)
  _PG_PIDS+=("$PG_PID")
}
stop_pg() {
  local pid i
  for pid in "${_PG_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -INT "$pid"
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -QUIT "$pid"
  done
  _PG_PIDS=()
}

# median_rate NAME FILE -> the median jobs/s of lines 'NAME: N jobs in S s = R jobs/s'
median_rate() {
  grep -E "^$1: [0-9]+ jobs in" "$2" | awk '{print $(NF-1)}' | sort -n |
    awk '{v[NR]=$1} END{if(NR) print v[int((NR+1)/2)]}'
}
