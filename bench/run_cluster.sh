#!/usr/bin/env bash
# Cached hits on a 3-master Redis Cluster against one redis-server (bench/cluster_bench.cpp, Google
# Benchmark): builds it, starts 3 cluster nodes and 1 plain server on free loopback ports in a temp
# dir (stopped on exit), runs every benchmark on both in one run and prints cluster/one-server ratios.
# Each benchmark runs REPETITIONS times, interleaved at random with the others so that load from
# other processes falls on both setups alike; the table shows the medians.
# Usage: bench/run_cluster.sh   (env: BUILD_DIR, default /tmp/cluster-bench-of-cachet; MIN_TIME,
#                                seconds per run, default 1; REPETITIONS, default 5)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-/tmp/cluster-bench-of-cachet}
min_time=${MIN_TIME:-1}
repetitions=${REPETITIONS:-5}
mkdir -p "$build"
# shellcheck source=redis_processes.sh
source "$here/redis_processes.sh"

build_bench "$here/cluster_bench.cpp" "$build/cluster_bench" -lbenchmark_main -lbenchmark

nodes=()
for i in 1 2 3; do
  port=$(free_port)
  # An explicit bus port: the default, port + 10000, fails above port 55535.
  start_redis "$work/n$i" "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-port "$(free_port)"
  nodes+=("127.0.0.1:$port")
done
redis-cli --cluster create "${nodes[@]}" --cluster-yes >/dev/null
for n in "${nodes[@]}"; do
  until redis-cli -p "${n#*:}" cluster info | grep -q cluster_state:ok; do sleep 0.05; done
done
single=$(free_port)
start_redis "$work/single" "$single"

CACHET_BENCH_REDIS_URL="redis://127.0.0.1:$single" \
  CACHET_BENCH_CLUSTER_URL="redis-cluster://${nodes[0]},${nodes[1]}" \
  "$build/cluster_bench" --benchmark_min_time="$min_time" --benchmark_format=json \
  --benchmark_repetitions="$repetitions" --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true >"$work/results.json"
python3 - "$work/results.json" <<'PY'
import json, sys
rate = {b["run_name"].removesuffix("/real_time"): b["hits_per_s"]
        for b in json.load(open(sys.argv[1]))["benchmarks"]
        if b.get("aggregate_name") == "median" and "hits_per_s" in b}
if len(rate) != 6:
    sys.exit("cluster_bench: expected 6 results, got " + ", ".join(rate) + "; see " + sys.argv[1])
print("| benchmark (median of runs) | one server | 3-master cluster | cluster / one server |")
print("|---|---:|---:|---:|")
for name in ("hit_blocking", "hit_async_64", "hit_async_many_64"):
    one, cl = rate.get(name + "/one_server"), rate.get(name + "/cluster")
    if one and cl:
        print(f"| {name} | {one/1000:.1f} k hits/s | {cl/1000:.1f} k hits/s | {cl/one:.2f} |")
PY
