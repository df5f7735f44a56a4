#!/usr/bin/env bash
# Builds bench/rate_limit_bench.cpp, starts a private redis-server (free loopback port, temp dir,
# stopped on exit) and prints the tables of the rate limit's costs: every number that decides a
# goal is a ratio against a baseline measured in the same run.
#   local: an in-memory cached hit with cachet::rate_limit (goal: at most +20%) or
#          cachet::circuit_breaker, against the bare hit (CPU time: the median and the fastest of
#          the repetitions, the latter the least disturbed on a shared machine; and instructions
#          per call counted by callgrind, which the machine's load does not change)
#   redis: one redis_rate_limiter check (EVALSHA, one round trip) against a plain GET through the
#          same client, blocking and from a coroutine (median of the repetitions' p50 and p99)
# Usage: bench/run_rate_limit.sh   (env: BUILD_DIR, default /tmp/cachet-rate-bench;
#                                   REPETITIONS, default 5; MIN_TIME seconds, default 0.5)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-/tmp/cachet-rate-bench}
repetitions=${REPETITIONS:-5}
min_time=${MIN_TIME:-0.5}
mkdir -p "$build"

g++ -std=c++20 -O2 -DNDEBUG -Wall -Wextra -Wpedantic -Werror -I"$here/../include" \
  "$here/rate_limit_bench.cpp" -lbenchmark -lbenchmark_main -lboost_json -pthread \
  -o "$build/rate_limit_bench"

# shellcheck source=redis_server.sh
source "$here/redis_server.sh"
start_redis_server

echo "## Machine"
echo
echo "- nproc: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "- $(g++ --version | head -n1); redis-server $(redis-server --version | cut -d' ' -f3)"
echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

CACHET_BENCH_REDIS_URL="redis://127.0.0.1:$port" "$build/rate_limit_bench" \
  --benchmark_filter='^(local|redis)/' --benchmark_repetitions="$repetitions" \
  --benchmark_min_time="$min_time" --benchmark_enable_random_interleaving=true \
  --benchmark_out_format=json \
  --benchmark_out="$build/rate_limit_bench.json" >"$build/rate_limit_bench.txt" 2>&1

counted=(hit hit_rate_limit_by_key hit_rate_limit_by_key_refilled hit_rate_limit_whole
         hit_circuit_breaker)
if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
  for name in "${counted[@]}"; do
    valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file="$build/callgrind.$name" \
      --toggle-collect='*run_calls*' "$build/rate_limit_bench" \
      --benchmark_filter="^counted/$name/" >/dev/null 2>&1
    callgrind_annotate --show=Ir,D1mr "$build/callgrind.$name" | grep 'PROGRAM TOTALS' |
      sed -e 's/([^)]*)//g' -e 's/,//g' >"$build/callgrind.$name.totals"
  done
fi

python3 - "$build" "${counted[@]}" <<'PY'
import json, os, statistics, sys

build, counted = sys.argv[1], sys.argv[2:]
runs = json.load(open(f"{build}/rate_limit_bench.json"))["benchmarks"]
errors = sorted({b["run_name"] for b in runs if b.get("error_occurred")})
if errors:
    sys.exit("benchmarks failed: " + ", ".join(errors))
samples = {}
for b in runs:
    if b.get("run_type") == "iteration":
        samples.setdefault(b["run_name"], []).append(b)

def cpu(name, pick):
    values = [b["cpu_time"] for b in samples[name]]
    assert all(b["time_unit"] == "ns" for b in samples[name])
    return pick(values)

fastest, median = min, statistics.median
hit = {pick: cpu("local/hit", pick) for pick in (median, fastest)}
print("## In memory: one hit, per call (CPU time of the repetitions)\n")
print("| variant | median ns | ratio | fastest ns | ratio |")
print("|---|---:|---:|---:|---:|")
local = [("local/hit", "`cached<&load_user, ttl<300>>` hit"),
         ("local/hit_rate_limit_by_key",
          "+ `rate_limit<10^9, per<10^9>, by<\"{}\">>` (the key's state is kept)"),
         ("local/hit_rate_limit_by_key_refilled",
          "+ `rate_limit<10^9, per<1>, by<\"{}\">>` (each key refilled: dropped, added again)"),
         ("local/hit_rate_limit_whole", "+ `rate_limit<10^9, per<10^9>>` (one limit, no key)"),
         ("local/hit_circuit_breaker", "+ `circuit_breaker<5, cooldown<30>>` (wraps misses only)"),
         ("local/limiter_alone", "`rate_limiter::try_acquire(std::to_string(id))` alone")]
for name, label in local:
    m, f = cpu(name, median), cpu(name, fastest)
    print(f"| {label} | {m:.1f} | {m / hit[median]:.2f}x | {f:.1f} | {f / hit[fastest]:.2f}x |")
hot = {pick: cpu("local/hot_hit", pick) for pick in (median, fastest)}
for name, label in [("local/hot_hit", f"the hit, calls over 64 keys only (all in cache)"),
                    ("local/hot_hit_rate_limit_by_key", "+ `rate_limit<..., by<\"{}\">>`, 64 keys")]:
    m, f = cpu(name, median), cpu(name, fastest)
    print(f"| {label} | {m:.1f} | {m / hot[median]:.2f}x | {f:.1f} | {f / hot[fastest]:.2f}x |")

totals = {}
for name in counted:
    path = f"{build}/callgrind.{name}.totals"
    if os.path.exists(path):
        fields = open(path).read().split()[:2]
        totals[name] = [0 if f == "." else int(f) / 100_000 for f in fields]  # counted_calls
if totals:
    print("\n## In memory, counted by callgrind (per call)\n")
    print("| variant | instructions | ratio to the hit | D1 read misses |")
    print("|---|---:|---:|---:|")
    for name in counted:
        ir, d1 = totals[name]
        print(f"| {name} | {ir:.0f} | {ir / totals['hit'][0]:.2f}x | {d1:.2f} |")

def lat(name):
    runs = samples[name + "/real_time"]
    return (statistics.median(b["p50_us"] for b in runs),
            statistics.median(b["p99_us"] for b in runs))

print("\n## Redis: one call, one caller (median over the repetitions; microseconds)\n")
print("| what | p50 us | p99 us | p50 ratio to its GET |")
print("|---|---:|---:|---:|")
for base, rows in [("redis/get_blocking",
                    [("redis/get_blocking", "`rt.run(client.exec(\"GET\", k))`, blocking"),
                     ("redis/check_blocking", "`limiter.try_acquire(k)`: EVALSHA, blocking")]),
                   ("redis/get_async",
                    [("redis/get_async", "`co_await` GET on the backend's I/O thread"),
                     ("redis/check_async", "`co_await limiter.async_try_acquire(k)`")]),
                   ("redis/cached_hit",
                    [("redis/cached_hit", "`cached<..., backend<redis>>` hit: MGET"),
                     ("redis/cached_hit_rate_limited",
                      "the same with `rate_limit<..., by<\"{}\">>`: EVALSHA, then MGET")])]:
    b50 = lat(base)[0]
    for name, label in rows:
        p50, p99 = lat(name)
        print(f"| {label} | {p50:.1f} | {p99:.1f} | {p50 / b50:.2f}x |")

check = lat("redis/check_blocking")[0] / lat("redis/get_blocking")[0]
print("\n## Goals\n")
for pick, label in [(median, "median"), (fastest, "fastest")]:
    keyed = cpu("local/hit_rate_limit_by_key", pick) / hit[pick]
    whole = cpu("local/hit_rate_limit_whole", pick) / hit[pick]
    print(f"- local check on a hit at most +20% ({label}): by key {keyed - 1:+.0%}, one limit "
          f"{whole - 1:+.0%} -> {'met' if keyed <= 1.2 else 'NOT met'} by key, "
          f"{'met' if whole <= 1.2 else 'NOT met'} for one limit")
print(f"- distributed check: one round trip (EVALSHA), p50 {check:.2f}x a plain GET (blocking)")
PY
echo
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
