#!/usr/bin/env bash
# Installs the Debian 12 packages treeflow needs to build, test and run the
# demo. Idempotent: does nothing when everything is present. Uses sudo when not
# root. Usage: scripts/install-deps.sh [--bench] [--fuzz]
#   --bench  also what the benchmark suite and the peers need (make bench)
#   --fuzz   also clang and its fuzzer runtime (make fuzz)
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev sqlite3 libpq-dev libjemalloc-dev
  libcli11-dev libspdlog-dev libtomlplusplus-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  procps curl
)
want_bench=0 want_fuzz=0
for arg in "$@"; do
  case "$arg" in
    --bench) want_bench=1 ;;
    --fuzz) want_fuzz=1 ;;
    *) echo "install-deps: unknown option $arg (expected --bench or --fuzz)" >&2; exit 2 ;;
  esac
done
if ((want_fuzz)); then
  # libFuzzer ships with clang's runtime; llvm-symbolizer makes stack traces readable.
  pkgs+=(clang libclang-rt-14-dev llvm-14)
fi
if ((want_bench)); then
  # The benchmark suite (bench/run.sh): load generator, the loopback endpoint,
  # and the peers (BullMQ on redis, Celery on redis, graphile-worker on PostgreSQL).
  pkgs+=(wrk nginx-light redis-server redis-tools python3 python3-celery python3-redis
         postgresql iproute2 util-linux)
  # A Node.js from elsewhere (e.g. NodeSource, which bundles npm and conflicts
  # with Debian's npm) is used as it is.
  if ! command -v npm >/dev/null 2>&1; then pkgs+=(nodejs npm); fi
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "treeflow: these Debian packages are missing: ${missing[*]}" >&2
    echo "treeflow: run this as root, or install sudo, or install them yourself" >&2
    exit 1
  fi
  SUDO="sudo"
fi
echo "treeflow: installing ${#missing[@]} Debian packages (a few minutes the first time): ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
