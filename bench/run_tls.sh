#!/usr/bin/env bash
# Cached hits over TLS against plain TCP: builds bench/redis_bench.cpp, makes a CA and a server
# certificate with openssl in a temp dir, starts one private redis-server with a plain port and a
# TLS port (free loopback ports, stopped on exit), and runs the hit benchmarks against each port,
# alternating, ROUNDS times. Prints the markdown table of bench/RESULTS.md ("## TLS").
# Usage: bench/run_tls.sh   (env: BUILD_DIR, default /tmp/tls-bench-of-cachet; ROUNDS, default 1;
#                            MIN_TIME seconds per benchmark, default 2)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-/tmp/tls-bench-of-cachet}
rounds=${ROUNDS:-1}
min_time=${MIN_TIME:-2}
mkdir -p "$build"
# shellcheck source=redis_processes.sh
source "$here/redis_processes.sh"

build_bench "$here/redis_bench.cpp" "$build/redis_bench" -lbenchmark -lbenchmark_main

key="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
(
  cd "$work"
  echo "subjectAltName=IP:127.0.0.1" >server.ext
  openssl req -x509 $key -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca
  openssl req $key -keyout server.key -out server.csr -subj /CN=127.0.0.1
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
    -days 2 -extfile server.ext
) 2>"$work/openssl.log"

plain_port=$(free_port)
tls_port=$(free_port)
start_redis "$work/server" "$plain_port" --tls-port "$tls_port" \
  --tls-cert-file "$work/server.crt" --tls-key-file "$work/server.key" \
  --tls-ca-cert-file "$work/ca.crt" --tls-auth-clients no

declare -A urls=([tcp]="redis://127.0.0.1:$plain_port"
                 [tls]="rediss://127.0.0.1:$tls_port?ca=$work/ca.crt")
for round in $(seq "$rounds"); do
  for transport in tcp tls; do
    CACHET_BENCH_REDIS_URL="${urls[$transport]}" "$build/redis_bench" \
      --benchmark_filter='cached_hit' --benchmark_min_time="$min_time" \
      --benchmark_format=json >"$build/$transport-$round.json"
  done
done

python3 - "$build" "$rounds" <<'PY'
import json, statistics, sys
build, rounds = sys.argv[1], int(sys.argv[2])
def load(transport):
    out = {}
    for r in range(1, rounds + 1):
        for b in json.load(open(f"{build}/{transport}-{r}.json"))["benchmarks"]:
            if b.get("error_occurred"):
                sys.exit("redis_bench failed: " + b["name"])
            out.setdefault(b["name"], []).append(b)
    return out
tcp, tls = load("tcp"), load("tls")
print("| benchmark | plain TCP | TLS | TLS / TCP |")
print("|---|---:|---:|---:|")
for name in tcp:
    if name.startswith("throughput/"):
        a = statistics.median(b["items_per_second"] for b in tcp[name])
        c = statistics.median(b["items_per_second"] for b in tls[name])
        print(f"| {name} | {a/1e3:.1f} k hits/s | {c/1e3:.1f} k hits/s | {c/a:.2f}x |")
    else:
        a = statistics.median(b["real_time"] for b in tcp[name])
        c = statistics.median(b["real_time"] for b in tls[name])
        print(f"| {name} | {a/1e3:.1f} us | {c/1e3:.1f} us | {c/a:.2f}x |")
PY
echo
echo "- $(g++ --version | head -n1); $(redis-server --version | cut -d' ' -f1-3); $(openssl version)"
echo "- $(nproc) CPUs, loopback, one server; ROUNDS=$rounds, MIN_TIME=$min_time s"
