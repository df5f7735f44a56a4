#!/usr/bin/env bash
# GET throughput through cluster_client on a 3-master Redis Cluster against client on one
# redis-server: builds bench/cluster_bench.cpp, starts 3 cluster nodes and 1 plain server on free
# loopback ports in a temp dir (stopped on exit), runs each for SECONDS with WORKERS coroutines.
# Usage: bench/run_cluster.sh   (env: BUILD_DIR, default /tmp/cluster-bench-of-cachet; SECONDS_EACH,
#                                default 3; WORKERS, default 64)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-/tmp/cluster-bench-of-cachet}
seconds=${SECONDS_EACH:-3}
workers=${WORKERS:-64}
mkdir -p "$build"
work=$(mktemp -d /tmp/cachet-cluster-bench-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

g++ -std=c++20 -O2 -DNDEBUG -Wall -Wextra -Wpedantic -Werror -I"$here/../include" \
  "$here/cluster_bench.cpp" -lboost_json -lssl -lcrypto -pthread -o "$build/cluster_bench"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() {  # start <dir> <port> [args...]
  local dir=$1 port=$2
  shift 2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
    --logfile "$dir/redis.log" "$@" &
  local pid=$!
  pids+=("$pid")
  until redis-cli -p "$port" ping >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { tail -3 "$dir/redis.log" >&2; exit 1; }
    sleep 0.05
  done
}
nodes=()
for i in 1 2 3; do
  port=$(free_port)
  # An explicit bus port: the default, port + 10000, fails above port 55535.
  start "$work/n$i" "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-port "$(free_port)"
  nodes+=("127.0.0.1:$port")
done
redis-cli --cluster create "${nodes[@]}" --cluster-yes >/dev/null
for n in "${nodes[@]}"; do
  until redis-cli -p "${n#*:}" cluster info | grep -q cluster_state:ok; do sleep 0.05; done
done
single=$(free_port)
start "$work/single" "$single"

echo "| setup | GET/s, $workers coroutines, one thread |"
echo "|---|---:|"
echo "| one server (client) | $("$build/cluster_bench" "redis://127.0.0.1:$single" "$seconds" "$workers") |"
echo "| 3-master cluster (cluster_client) | $("$build/cluster_bench" "redis-cluster://${nodes[0]},${nodes[1]}" "$seconds" "$workers") |"
