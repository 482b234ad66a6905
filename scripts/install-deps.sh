#!/usr/bin/env bash
# Installs the Debian 12 packages treeflow needs to build, test and run the
# demo. Idempotent: does nothing when everything is present. Uses sudo when not
# root. Usage: scripts/install-deps.sh [--bench]
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev sqlite3 libpq-dev
  libcli11-dev libspdlog-dev libtomlplusplus-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql procps curl
  clang libclang-rt-14-dev
)
if [[ "${1:-}" == "--bench" ]]; then
  # The benchmark suite (bench/run.sh): load generator, the loopback endpoint,
  # and the peers (BullMQ on redis, Celery on redis, graphile-worker on PostgreSQL).
  pkgs+=(wrk nginx-light redis-server redis-tools python3 python3-celery python3-redis
         iproute2 util-linux)
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
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "treeflow: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
