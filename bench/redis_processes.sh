# Sourced by bench/run_cluster.sh and bench/run_tls.sh, which start several redis-servers with
# their own options: a work dir ($work) and every server started are removed and stopped when the
# script exits; `free_port` prints a free loopback port; `start_redis DIR PORT [ARGS...]` starts
# a redis-server (nothing persisted, log in DIR/redis.log) and waits until it answers;
# `build_bench SOURCE OUTPUT [LIBS...]` compiles a benchmark with the flags of the other runs.
# Callers set $here (the bench directory) before sourcing.

work=$(mktemp -d /tmp/cachet-bench-XXXXXX)
redis_pids=()
stop_redis_processes() {
  for pid in "${redis_pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap stop_redis_processes EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_redis() {
  local dir=$1 port=$2
  shift 2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
    --daemonize no --logfile "$dir/redis.log" "$@" &
  local pid=$!
  redis_pids+=("$pid")
  until redis-cli -p "$port" ping >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { tail -3 "$dir/redis.log" >&2; exit 1; }
    sleep 0.05
  done
}

build_bench() {
  local source=$1 output=$2
  shift 2
  g++ -std=c++20 -O2 -DNDEBUG -Wall -Wextra -Wpedantic -Werror -I"$here/../include" "$source" \
    "$@" -lboost_json -lssl -lcrypto -pthread -o "$output"
}
