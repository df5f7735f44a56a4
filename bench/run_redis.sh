#!/usr/bin/env bash
# Builds bench/redis_bench.cpp, starts one private redis-server (free loopback port, temp dir,
# stopped on exit), and runs redis-benchmark and redis_bench against it, alternating, ROUNDS times.
# Prints the markdown tables of bench/RESULTS.md ("## Redis"): cachet's client and backend as
# ratios against redis-benchmark measured in the same round on the same server, and degraded mode
# (Redis unreachable, the backend's breaker open) as a ratio against the function called directly
# in the same run.
#
# Placement decides loopback latency on a VM more than anything the client does (a wake-up across
# vCPUs costs tens of microseconds), and the scheduler picks it differently from run to run. So the
# server is pinned to the last CPU and both clients run pinned twice: on CPU 0 ("cross": the usual
# deployment) and on the server's CPU ("same"); ratios only compare runs with the same placement.
# Usage: bench/run_redis.sh   (env: BUILD_DIR, default /tmp/redis-bench-of-cachet;
#                              ROUNDS, default 3; MIN_TIME seconds per benchmark, default 2)
#
# bench/run_redis.sh degraded [BASELINE_INCLUDE_DIR]: only the degraded-mode ladder (no server),
# ROUNDS times; with a baseline include directory (an older cachet, e.g. from
# `git archive <commit> include | tar -x -C /tmp/old`), the same bench is also built against it
# and the two binaries run alternately, so that both see the same machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-/tmp/redis-bench-of-cachet}
rounds=${ROUNDS:-3}
min_time=${MIN_TIME:-2}
mkdir -p "$build"

build_bench() {  # include dir, output
  g++ -std=c++20 -O2 -DNDEBUG -Wall -Wextra -Wpedantic -Werror -I"$1" \
    "$here/redis_bench.cpp" -lbenchmark -lbenchmark_main -lboost_json -lssl -lcrypto -pthread -o "$2"
}

# The degraded ladder of the JSON files given: per rung, the direct and cached CPU ns (medians
# over the files), the median of the per-file ratios and of the per-file ns added.
degraded_table() {
  python3 - "$@" <<'PY'
import json, statistics, sys

def rungs(path):
    runs = json.load(open(path))["benchmarks"]
    failed = [b["name"] for b in runs if b.get("error_occurred")]
    if failed:
        sys.exit("redis_bench failed: " + ", ".join(failed))
    return {b["name"]: b["cpu_time"] for b in runs if b["name"].startswith("degraded/")}

files = [rungs(p) for p in sys.argv[1:]]
steps = sorted({int(n.split("/")[2]) for n in files[0]})
print("| work steps | called directly, ns | cached, breaker open, ns | ratio | added, ns |")
print("|---:|---:|---:|---:|---:|")
for s in steps:
    d = [f[f"degraded/direct/{s}"] for f in files]
    c = [f[f"degraded/cached/{s}"] for f in files]
    med = statistics.median
    print(f"| {s} | {med(d):.1f} | {med(c):.1f} | {med(x / y for x, y in zip(c, d)):.2f}x "
          f"| {med(x - y for x, y in zip(c, d)):.0f} |")
PY
}

if [[ ${1:-} == degraded ]]; then
  build_bench "$here/../include" "$build/redis_bench"
  variants=(redis_bench)
  if [[ -n ${2:-} ]]; then
    build_bench "$2" "$build/redis_bench_baseline"
    variants=(redis_bench_baseline redis_bench)
  fi
  out="$build/degraded"
  rm -rf "$out"
  mkdir -p "$out"
  for round in $(seq "$rounds"); do
    for v in "${variants[@]}"; do
      "$build/$v" --benchmark_filter='^degraded/' --benchmark_min_time="$min_time" \
        --benchmark_out_format=json --benchmark_out="$out/$v.$round.json" >/dev/null 2>&1
    done
  done
  echo "- nproc: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "- $(g++ --version | head -n1); load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  for v in "${variants[@]}"; do
    echo
    echo "### $v (median over $rounds rounds; CPU ns per call)"
    echo
    degraded_table "$out/$v".*.json
  done
  exit 0
fi

build_bench "$here/../include" "$build/redis_bench"
# The hand-written hiredis memo (bench/redis_hiredis_memo_bench.cpp): the peer of the cached hit.
pkg-config --exists hiredis || { echo "run_redis.sh: hiredis (libhiredis-dev) is missing" >&2; exit 1; }
g++ -std=c++20 -O2 -DNDEBUG -Wall -Wextra -Wpedantic -Werror -I"$here/../include" \
  "$here/redis_hiredis_memo_bench.cpp" -lbenchmark -lbenchmark_main -lboost_json \
  $(pkg-config --libs hiredis) -lssl -lcrypto -pthread -o "$build/hiredis_memo"

# shellcheck source=redis_server.sh
source "$here/redis_server.sh"
server_cpu=$(($(nproc) - 1))
start_redis_server taskset -c "$server_cpu"

# redis-benchmark -t get reads the key "key:__rand_int__" (no -r): give it a 100-byte value, as
# -d 100 would for SET, so both sides read values of the same size.
redis-cli -p "$port" set key:__rand_int__ "$(printf 'x%.0s' $(seq 100))" >/dev/null
redis_version=$(redis-server --version | cut -d' ' -f3)

load() { cut -d' ' -f1-3 /proc/loadavg; }
out="$build/results"
rm -rf "$out"
mkdir -p "$out"
for round in $(seq "$rounds"); do
  for placement in cross same; do
    cpu=0
    [[ $placement == same ]] && cpu=$server_cpu
    tag="$placement.$round"
    load >"$out/load.$tag.before"
    taskset -c "$cpu" redis-benchmark -p "$port" -c 1 -n 20000 -t get -d 100 --csv \
      >"$out/rb_c1.$tag.csv"
    taskset -c "$cpu" redis-benchmark -p "$port" -c 8 -P 1 -n 100000 -t get -d 100 --csv \
      >"$out/rb_c8_p1.$tag.csv"
    taskset -c "$cpu" redis-benchmark -p "$port" -c 50 -P 1 -n 100000 -t get -d 100 --csv \
      >"$out/rb_c50_p1.$tag.csv"
    taskset -c "$cpu" redis-benchmark -p "$port" -c 50 -P 16 -n 1000000 -t get -d 100 --csv \
      >"$out/rb_c50_p16.$tag.csv"
    CACHET_BENCH_REDIS_URL="redis://127.0.0.1:$port" taskset -c "$cpu" "$build/redis_bench" \
      --benchmark_min_time="$min_time" --benchmark_out_format=json \
      --benchmark_out="$out/cachet.$tag.json" >"$out/cachet.$tag.txt" 2>&1
    CACHET_BENCH_REDIS_URL="redis://127.0.0.1:$port" taskset -c "$cpu" "$build/hiredis_memo" \
      --benchmark_min_time="$min_time" --benchmark_out_format=json \
      --benchmark_out="$out/memo.$tag.json" >"$out/memo.$tag.txt" 2>&1
    load >"$out/load.$tag.after"
  done
done

echo "## Machine"
echo
echo "- nproc: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "- $(g++ --version | head -n1); redis-server $redis_version; loopback TCP"
echo
for placement in cross same; do
  if [[ $placement == cross ]]; then
    echo "## Clients on CPU 0, the server on CPU $server_cpu (cross)"
  else
    echo "## Clients and the server on CPU $server_cpu (same)"
  fi
  echo
  python3 - "$out" "$rounds" "$placement" <<'PY'
import csv, json, statistics, sys

out, rounds, placement = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def rb(name, r):
    rows = list(csv.DictReader(open(f"{out}/{name}.{placement}.{r}.csv")))
    row = rows[0]
    return {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]) * 1000,
            "p99": float(row["p99_latency_ms"]) * 1000}

def cachet(r, program="cachet"):
    runs = json.load(open(f"{out}/{program}.{placement}.{r}.json"))["benchmarks"]
    failed = [b["name"] for b in runs if b.get("error_occurred")]
    if failed:
        sys.exit("redis_bench failed: " + ", ".join(failed))
    return {b["name"].replace("/real_time", ""): b for b in runs}

per_round = []
for r in range(1, rounds + 1):
    c = cachet(r)
    m = cachet(r, "memo")
    per_round.append({
        "rb_c8": rb("rb_c8_p1", r), "memo": m["latency/hiredis_memo_hit"],
        "memo_8": m["throughput/hiredis_memo_hit/threads:8"]["items_per_second"],
        "memo_64": m["throughput/hiredis_memo_hit/threads:64"]["items_per_second"],
        "hit_8": c["throughput/cached_hit_blocking/threads:8"]["items_per_second"],
        "load": open(f"{out}/load.{placement}.{r}.before").read().strip() + " -> " +
                open(f"{out}/load.{placement}.{r}.after").read().strip(),
        "rb_c1": rb("rb_c1", r), "rb_p1": rb("rb_c50_p1", r), "rb_p16": rb("rb_c50_p16", r),
        "get": c["latency/client_get"], "mget": c["latency/client_mget_entry"],
        "hop_get": c["latency/backend_get_blocking"],
        "hit_blocking": c["latency/cached_hit_blocking"],
        "hit_async": c["latency/cached_hit_async"],
        "hit_async_app": c["latency/cached_hit_async_app_context"],
        "tput": c["throughput/client_get_64"]["items_per_second"],
        "hit_tput": c["throughput/cached_hit_async_64"]["items_per_second"],
        "hit_tput_app": c["throughput/cached_hit_async_app_context_64"]["items_per_second"],
        "deg": {name.removeprefix("degraded/"): b["cpu_time"] for name, b in c.items()
                if name.startswith("degraded/")},
    })

def med(f):
    return statistics.median(f(x) for x in per_round)

print(f"### Latency, one caller (median over {rounds} rounds; microseconds)\n")
print("| what | p50 us | p99 us | p50 ratio to `redis-benchmark -c 1` |")
print("|---|---:|---:|---:|")
base = med(lambda x: x["rb_c1"]["p50"])
print(f"| `redis-benchmark -c 1 -n 20000 -t get -d 100` | {base:.1f} | "
      f"{med(lambda x: x['rb_c1']['p99']):.1f} | 1.00x |")
for key, label in [("get", "client: `co_await c.exec(\"GET\", k)`, one coroutine"),
                   ("mget", "client: `co_await c.exec(\"MGET\", entry, fn)`: what a hit sends"),
                   ("hop_get", "backend I/O thread: `rt.run(c.exec(\"GET\", k))` from the caller"),
                   ("memo", "hiredis memo: GET + Boost.JSON parse, blocking (the peer)"),
                   ("hit_blocking", "backend: `get_value(42)` hit (blocking, one script call)"),
                   ("hit_async", "backend: `co_await get_value.async(42)` hit"),
                   ("hit_async_app", "backend given the io_context (`async_context`): "
                                     "`co_await get_value.async(42)` hit")]:
    p50 = med(lambda x: x[key]["p50_us"])
    print(f"| {label} | {p50:.1f} | {med(lambda x: x[key]['p99_us']):.1f} | {p50 / base:.2f}x |")

print(f"\n### Throughput, GET of 100 B (median over {rounds} rounds; thousands of calls/s)\n")
print("| what | kcalls/s | ratio to `-c 50 -P 1` | ratio to `-c 50 -P 16` |")
print("|---|---:|---:|---:|")
p1, p16 = med(lambda x: x["rb_p1"]["rps"]), med(lambda x: x["rb_p16"]["rps"])
for value, label in [(p1, "`redis-benchmark -c 50 -P 1 -n 100000 -t get -d 100`"),
                     (p16, "`redis-benchmark -c 50 -P 16 -n 1000000 -t get -d 100`"),
                     (med(lambda x: x["tput"]), "client: 64 coroutines, one connection"),
                     (med(lambda x: x["hit_tput"]),
                      "backend: 64 coroutines, `co_await get_value.async(42)` hits"),
                     (med(lambda x: x["hit_tput_app"]),
                      "backend given the io_context (`async_context`): 64 coroutines, hits"),
                     (med(lambda x: x["memo_64"]), "hiredis memo: 64 threads, a connection each")]:
    print(f"| {label} | {value / 1e3:.1f} | {value / p1:.2f}x | {value / p16:.2f}x |")

print(f"\n### Eight threads of blocking calls (median over {rounds} rounds; thousands of calls/s)\n")
print("| what | kcalls/s | ratio to `redis-benchmark -c 8 -P 1` |")
print("|---|---:|---:|")
c8 = med(lambda x: x["rb_c8"]["rps"])
for value, label in [(c8, "`redis-benchmark -c 8 -P 1 -n 100000 -t get -d 100`"),
                     (med(lambda x: x["memo_8"]), "hiredis memo: 8 threads, a connection each"),
                     (med(lambda x: x["hit_8"]), "backend: 8 threads, `get_value(42)` hits")]:
    print(f"| {label} | {value / 1e3:.1f} | {value / c8:.2f}x |")

print("\n### Every round (ratios against redis-benchmark of the same round)\n")
print("| round | load before -> after | GET p50 / rb p50 | hit p50 / rb p50 (blocking, async) "
      "| 64-coroutine GET / -P 1 | / -P 16 |")
print("|---|---|---:|---:|---:|---:|")
for i, x in enumerate(per_round, 1):
    b = x["rb_c1"]["p50"]
    print(f"| {i} | {x['load']} | {x['get']['p50_us'] / b:.2f}x "
          f"| {x['hit_blocking']['p50_us'] / b:.2f}x, {x['hit_async']['p50_us'] / b:.2f}x "
          f"| {x['tput'] / x['rb_p1']['rps']:.2f}x | {x['tput'] / x['rb_p16']['rps']:.2f}x |")

print(f"\n### Degraded mode: Redis unreachable, breaker open (median over {rounds} rounds; "
      "CPU ns per call)\n")
print("| work steps | called directly | cached, skipping Redis | ratio | added ns |")
print("|---:|---:|---:|---:|---:|")
steps = sorted({int(n.split("/")[1]) for n in per_round[0]["deg"]})
for s in steps:
    direct = med(lambda x: x["deg"][f"direct/{s}"])
    cached = med(lambda x: x["deg"][f"cached/{s}"])
    ratio = med(lambda x: x["deg"][f"cached/{s}"] / x["deg"][f"direct/{s}"])
    added = med(lambda x: x["deg"][f"cached/{s}"] - x["deg"][f"direct/{s}"])
    print(f"| {s} | {direct:.1f} | {cached:.1f} | {ratio:.2f}x | {added:.0f} |")

get = med(lambda x: x["get"]["p50_us"]) / base
hit = med(lambda x: x["hit_blocking"]["p50_us"]) / base
tput = med(lambda x: x["tput"]) / p1
memo = med(lambda x: x["hit_blocking"]["p50_us"] / x["memo"]["p50_us"])
hit_8 = med(lambda x: x["hit_8"] / x["rb_c8"]["rps"])
hit_64 = med(lambda x: x["hit_tput"] / x["rb_p1"]["rps"])
hit_64_app = med(lambda x: x["hit_tput_app"] / x["rb_p1"]["rps"])
print("\n### Goals\n")
print(f"- issue #11, one blocking caller: hit p50 {hit:.2f}x `-c 1` (goal <= 1.15x: "
      f"{'met' if hit <= 1.15 else 'NOT met'}), {memo:.2f}x the hiredis memo (goal <= 1.0x: "
      f"{'met' if memo <= 1.0 else 'NOT met'})")
print(f"- issue #11, 8 threads of blocking hits: {hit_8:.2f}x `-c 8 -P 1` (goal >= 1.0x: "
      f"{'met' if hit_8 >= 1.0 else 'NOT met'})")
print(f"- issue #11, 64 coroutines of `async()` hits on the application's io_context: "
      f"{hit_64_app:.2f}x `-c 50 -P 1` with the backend given it (`async_context`), "
      f"{hit_64:.2f}x through the backend's I/O thread (goal >= 2.0x: "
      f"{'met' if hit_64_app >= 2.0 else 'NOT met'})")
print(f"- one caller, p50 within 1.3x of `redis-benchmark -c 1`: client GET {get:.2f}x, "
      f"cached hit {hit:.2f}x (blocking), "
      f"{med(lambda x: x['hit_async']['p50_us']) / base:.2f}x (async) -> "
      f"{'met' if hit <= 1.3 else 'NOT met'} for the cached hit, "
      f"{'met' if get <= 1.3 else 'NOT met'} for the client alone")
print(f"- 64 coroutines on one connection >= 1.0x `-c 50 -P 1`: {tput:.2f}x -> "
      f"{'met' if tput >= 1.0 else 'NOT met'} ({med(lambda x: x['tput']) / p16:.2f}x of `-P 16`)")
within = [s for s in steps
          if med(lambda x: x["deg"][f"cached/{s}"] / x["deg"][f"direct/{s}"]) <= 1.1]
print(f"- degraded mode, a cached call within 1.1x of the function called directly: from "
      f"{med(lambda x: x['deg'][f'direct/{within[0]}']):.0f} ns of work on" if within else
      "- degraded mode within 1.1x: NOT met on any rung", end="")
print(f" ({med(lambda x: x['deg']['cached/0'] - x['deg']['direct/0']):.0f} ns added per call)")
PY
  echo
done
