#!/usr/bin/env python3
"""Turns the parts bench/run.sh measured into the table it prints and
bench/results/latest.json.  Usage: report.py PARTS_DIR OUT_JSON STAMP"""
import json
import os
import platform
import re
import statistics
import sys

parts, out_path, stamp = sys.argv[1], sys.argv[2], sys.argv[3]


def load(name, default=None):
    try:
        with open(os.path.join(parts, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def text(name):
    try:
        with open(os.path.join(parts, name)) as f:
            return f.read()
    except OSError:
        return ""


def rate(d):
    return d.get("tasks_per_s") if d and d.get("state") == "completed" else None


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else "?"
    except OSError:
        pass
    virt = "VM" if "hypervisor" in open("/proc/cpuinfo").read() else ""
    try:
        deb = open("/etc/debian_version").read().strip()
    except OSError:
        deb = "?"
    mem = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) / 2**20
    return (f"{os.cpu_count()} vCPU {virt or 'machine'} ({cpu}), {mem:.0f} GiB, "
            f"Debian {deb}, kernel {platform.release()}")


limit = load("limit.json", {})
sweep = {}
for fn in sorted(os.listdir(parts)):
    m = re.match(r"sweep-c(\d+)\.json$", fn)
    if m:
        sweep[int(m.group(1))] = rate(load(fn))
conc = int(text("best_conc.txt").strip() or 0)
trees = [load(f"tree-{i}.json") for i in (1, 2, 3)]
tree_rates = [r for r in (rate(t) for t in trees) if r]
tree_rate = statistics.median(tree_rates) if tree_rates else None
flats = sorted((f for f in (load(f"flat-{i}.json", {}) for i in (1, 2, 3)) if rate(f)), key=rate)
flat = flats[len(flats) // 2] if flats else {}  # the median run
flat_rate = rate(flat)
join = load("join_stats.json", {})
join_run = load("join.json", {})
scale = load("scale.json", {})

peers_raw = {}
for line in text("peers.txt").splitlines():
    m = re.match(r"^([\w-]+): (\d+) jobs in ([\d.]+) s = (\d+) jobs/s", line)
    if m:
        peers_raw.setdefault(m.group(1), []).append(int(m.group(4)))
peer_jobs = {"bullmq-flow-http": "tree 2,201", "celery-chord-http": "chord 2,200 + join",
             "bullmq-flat-http": "flat", "graphile-flat-http": "flat",
             "graphile-flat-http-batched": "flat"}
peers = {k.replace("-", "_"): statistics.median(v) for k, v in peers_raw.items()}
tree_peers = {k: v for k, v in peers.items() if "flow" in k or "chord" in k}
flat_peers = {k: v for k, v in peers.items() if "flat" in k}
limit_rps = limit.get("rps")


def ratio(a, b):
    return round(a / b, 4) if a and b else None


best_peer = max(peers.items(), key=lambda kv: kv[1]) if peers else (None, None)
res = {
    "stamp": stamp,
    "machine": machine(),
    "commit": text("commit.txt").strip(),
    "limit_rps": limit_rps,
    "limit_latency_us_p50": limit.get("p50_us"),
    "limit_latency_us_p99": limit.get("p99_us"),
    "engine_tasks_per_s": flat_rate,
    "ratio_to_limit": ratio(flat_rate, limit_rps),
    "engine_tree_tasks_per_s": tree_rate,
    "engine_tree_runs_tasks_per_s": tree_rates,
    "engine_flat_runs_tasks_per_s": [rate(f) for f in flats],
    "ratio_to_limit_tree": ratio(tree_rate, limit_rps),
    "engine_flat_tasks": flat.get("tasks_total"),
    "max_concurrent_dispatches": conc,
    "concurrency_sweep_flat_tasks_per_s": {str(k): v for k, v in sweep.items()},
    "join_latency_ms_p50": join.get("p50_ms"),
    "join_latency_ms_p99": join.get("p99_ms"),
    "join_latency_ms_max": join.get("max_ms"),
    "join_latency_samples": join.get("samples"),
    "n_tasks_scale_run": scale.get("n_tasks"),
    "scale_run_state": scale.get("state"),
    "scale_tasks_per_s": scale.get("tasks_per_s"),
    "peak_rss_mib_1m_tasks": scale.get("peak_rss_mib"),
    "peak_rss_mib_flat_100k": flat.get("peak_rss_mib"),
    "store_mib_1m_tasks": scale.get("store_mib_done"),
    "store_mib_1m_pending": scale.get("store_mib_pending"),
    "restart_s_1m_pending": scale.get("restart_s"),
    "pending_at_restart": scale.get("pending_at_restart"),
    "peers": peers,
    "peer_runs": peers_raw,
    "best_peer": best_peer[0],
    "engine_vs_best_peer": ratio(max(x for x in (flat_rate, tree_rate, 0) if x is not None), best_peer[1]),
    "engine_tree_vs_best_tree_peer": ratio(tree_rate, max(tree_peers.values()) if tree_peers else None),
    "engine_flat_vs_best_flat_peer": ratio(flat_rate, max(flat_peers.values()) if flat_peers else None),
    "targets": {"ratio_to_limit": ">= 0.5", "engine_vs_best_peer": ">= 5",
                "join_latency_ms_p99": "< 5", "peak_rss_mib_1m_tasks": "< 256"},
}


def n(v, fmt="{:,.0f}"):
    return fmt.format(v) if isinstance(v, (int, float)) else "n/a"


scale_n = res["n_tasks_scale_run"]
scale_label = f"{scale_n:,} tasks" if scale_n else "n/a"
if scale_n and scale_n < 1000001:
    scale_label += " (REDUCED from 1,000,001)"
rows = [
    ("1. limit: wrk -t2 -c64, POST /leaf (nginx, 1 worker)", f"{n(limit_rps)} req/s",
     f"p50 {n(limit.get('p50_us'), '{:,.0f}')} µs, p99 {n(limit.get('p99_us'), '{:,.0f}')} µs"),
    ("2. engine, flat 1 -> 100,000 leaves, median of 3", f"{n(flat_rate)} tasks/s",
     f"{n(res['ratio_to_limit'], '{:.3f}')} of the limit (target >= 0.5)"),
    ("2. engine, tree 1 -> 200 -> 10 (2,201 tasks), median of 3", f"{n(tree_rate)} tasks/s",
     f"{n(res['ratio_to_limit_tree'], '{:.3f}')} of the limit"),
    ("3. join latency (last child's answer -> join arrives), idle",
     f"p50 {n(join.get('p50_ms'), '{:.2f}')} ms, p99 {n(join.get('p99_ms'), '{:.2f}')} ms",
     f"{n(join.get('samples'))} joins (target p99 < 5 ms)"),
    (f"4. peak RSS, run of {scale_label}", f"{n(scale.get('peak_rss_mib'), '{:,.0f}')} MiB",
     f"flat 100k: {n(flat.get('peak_rss_mib'), '{:,.0f}')} MiB (target < 256 MiB at 1M)"),
    ("4. store on disk after that run", f"{n(scale.get('store_mib_done'), '{:,.0f}')} MiB",
     f"{n(scale.get('store_mib_pending'), '{:,.0f}')} MiB with the leaves pending"),
    (f"4. restart with {n(scale.get('pending_at_restart'))} pending (after kill -9)",
     f"{n(scale.get('restart_s'), '{:.2f}')} s", "exec -> API listening"),
    ("4. that run end to end", f"{n(scale.get('tasks_per_s'))} tasks/s",
     f"insert phase {n(scale.get('phase_a_s'), '{:.1f}')} s + leaves {n(scale.get('phase_b_s'), '{:.1f}')} s"),
]
for k, v in sorted(peers.items(), key=lambda kv: -kv[1]):
    shape = peer_jobs.get(k.replace("_", "-"), "")
    rel = ratio(tree_rate if ("flow" in k or "chord" in k) else flat_rate, v)
    rows.append((f"5. peer {k} ({shape})", f"{n(v)} tasks/s",
                 f"engine/peer {n(rel, '{:.2f}')} (same shape)"))

lines = [f"treeflow bench {stamp} — {res['machine']}, commit {res['commit']}",
         f"engine: SQLite store, sync = full, max_concurrent_dispatches = {conc} "
         f"(sweep on flat 100k: {', '.join(f'{k}: {n(v)}' for k, v in sweep.items())} tasks/s)",
         "",
         "| figure | value | notes |", "|---|---:|---|"]
lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
print("\n".join(lines))
res["table_md"] = lines
with open(out_path, "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
