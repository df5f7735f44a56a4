# Sourced by the bench scripts that need Redis. `start_redis_server [PREFIX...]` starts a private
# redis-server (a free loopback port, a temp dir, nothing persisted), run through PREFIX when
# given (e.g. `taskset -c 1`), waits until it answers and sets $port; the server is stopped and
# its dir removed when the script exits.

stop_redis_server() {
  if [[ -n ${server_pid:-} ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n ${server_dir:-} ]]; then rm -rf "$server_dir"; fi
}

start_redis_server() {
  server_dir=$(mktemp -d /tmp/cachet-bench-redis-XXXXXX)
  trap stop_redis_server EXIT
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
  "$@" redis-server --port "$port" --bind 127.0.0.1 --dir "$server_dir" --save "" \
    --appendonly no --daemonize no --logfile "$server_dir/redis.log" &
  server_pid=$!
  for _ in $(seq 200); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  redis-cli -p "$port" ping >/dev/null
}
