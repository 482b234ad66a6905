#!/usr/bin/env bash
# Prints the machine and the versions of everything the benchmark suite uses.
cd "$(dirname "$0")"
echo "machine: $(nproc) vCPU, $(systemd-detect-virt --vm 2>/dev/null || echo ?) VM, $(free -g | awk '/Mem:/{print $2}') GiB; kernel $(uname -r); debian $(cat /etc/debian_version)"
echo "cpu: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
echo "nginx: $(nginx -v 2>&1 | sed 's/.*nginx\///') (nginx-light $(dpkg-query -W -f='${Version}' nginx-light 2>/dev/null)); wrk: $(dpkg-query -W -f='${Version}' wrk 2>/dev/null)"
echo "sqlite3: $(dpkg-query -W -f='${Version}' libsqlite3-0 2>/dev/null)"
echo "redis-server: $(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/')"
echo "node: $(node --version); bullmq: $(node -p "require('./peers/bullmq/node_modules/bullmq/package.json').version" 2>/dev/null); ioredis: $(node -p "require('./peers/bullmq/node_modules/ioredis/package.json').version" 2>/dev/null)"
echo "python3 (Debian): $(/usr/bin/python3 -c 'import sys;print(sys.version.split()[0])'); $(/usr/bin/python3 -c 'import celery,kombu,redis;print("celery",celery.__version__,"kombu",kombu.__version__,"redis-py",redis.__version__)' 2>&1)"
PGB="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
echo "postgresql: $("$PGB/postgres" --version 2>/dev/null); graphile-worker: $(node -p "require('./peers/pgqueue/node_modules/graphile-worker/package.json').version" 2>/dev/null); pg: $(node -p "require('./peers/pgqueue/node_modules/pg/package.json').version" 2>/dev/null)"
