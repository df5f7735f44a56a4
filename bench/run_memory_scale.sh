#!/usr/bin/env bash
# Builds and runs bench/memory_scale_bench.cpp (the in-memory store from 1k to 10M entries against
# boost::unordered_flat_map in the same run) and prints the table of bench/RESULTS.md: every
# verdict is a ratio of medians taken in one run. Optionally counts a hit with callgrind.
# Usage: bench/run_memory_scale.sh   (env: BUILD_DIR, default /tmp/cachet-bench; MAX_ENTRIES,
#   default 10000000; REPETITIONS, default 3; MIN_TIME seconds per repetition, default 0.5;
#   CALLGRIND=1 to add cache misses per hit at 1M entries)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-/tmp/cachet-bench}
mkdir -p "$build"

echo "## Machine"
echo
echo "- nproc: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "- $(g++ --version | head -n1)"
echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

g++ -std=c++20 -O2 -DNDEBUG -Wall -Wextra -Wpedantic -Werror -I"$here/../include" \
  "$here/memory_scale_bench.cpp" -lbenchmark -lbenchmark_main -pthread \
  -o "$build/memory_scale_bench"
CACHET_BENCH_MAX_ENTRIES=${MAX_ENTRIES:-10000000} "$build/memory_scale_bench" \
  --benchmark_repetitions="${REPETITIONS:-3}" --benchmark_min_time="${MIN_TIME:-0.5}" \
  --benchmark_display_aggregates_only=true --benchmark_out_format=json \
  --benchmark_out="$build/memory_scale_bench.json" >"$build/memory_scale_bench.txt" 2>&1
# The fills again, with glibc told to keep freed memory in its heap: a fill then reuses pages
# the previous one touched, and the figure is the containers' own work, without the kernel's
# first-touch page faults (which grow with the bytes per entry and vary most between machines).
GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967295 \
  CACHET_BENCH_MAX_ENTRIES=${MAX_ENTRIES:-10000000} "$build/memory_scale_bench" \
  --benchmark_filter='^(fill|bounded)/' \
  --benchmark_repetitions="${REPETITIONS:-3}" --benchmark_min_time="${MIN_TIME:-0.5}" \
  --benchmark_display_aggregates_only=true --benchmark_out_format=json \
  --benchmark_out="$build/memory_scale_bench.warm.json" >"$build/memory_scale_bench.warm.txt" 2>&1

python3 - "$build/memory_scale_bench.json" "$build/memory_scale_bench.warm.json" <<'PY'
import json, sys

def medians(path):
    runs = json.load(open(path))["benchmarks"]
    errors = sorted({b["run_name"] for b in runs if b.get("error_occurred")})
    if errors:
        sys.exit("benchmarks failed: " + ", ".join(errors))
    return {b["run_name"]: b for b in runs if b.get("aggregate_name") == "median"}

median = medians(sys.argv[1])
warm = medians(sys.argv[2])

def per_item(name):  # ns per hit, per stored entry, or per miss + store + evict (CPU time)
    return 1e9 / median[name]["items_per_second"]

def bytes_per_entry(name):
    return median[name]["bytes_per_entry"]

sizes = sorted({int(n.rsplit("/", 1)[1]) for n in median if n.startswith("hit/map/")})
print("| entries | bytes/entry map / cachet | ratio | hit ns map / cachet | ratio "
      "| small-value hit ns map / cachet | ratio | miss + store ns map / cachet | ratio |")
print("|---:|---|---:|---|---:|---|---:|---|---:|")
ratios = {}
for n in sizes:
    row = [f"{n:,}"]
    for kind, measure in [("hit", bytes_per_entry), ("hit", per_item), ("small_hit", per_item),
                          ("fill", per_item)]:
        m, c = measure(f"{kind}/map/{n}"), measure(f"{kind}/cachet/{n}")
        ratios[(kind, measure.__name__, n)] = c / m
        row += [f"{m:.1f} / {c:.1f}", f"{c / m:.2f}x"]
    print("| " + " | ".join(row) + " |")
fifo, bounded = per_item("bounded/fifo_map"), per_item("bounded/cachet")
print(f"\nFull capacity<100000>, new key each call: FIFO-bounded map {fifo:.1f} ns, cachet "
      f"{bounded:.1f} ns, {bounded / fifo:.2f}x")

print("\nWith the heap already faulted in (glibc keeps freed memory; second run):\n")
print("| entries | miss + store ns map / cachet | ratio |")
print("|---:|---|---:|")
for n in sizes:
    m = 1e9 / warm[f"fill/map/{n}"]["items_per_second"]
    c = 1e9 / warm[f"fill/cachet/{n}"]["items_per_second"]
    print(f"| {n:,} | {m:.1f} / {c:.1f} | {c / m:.2f}x |")
wf = 1e9 / warm["bounded/fifo_map"]["items_per_second"]
wb = 1e9 / warm["bounded/cachet"]["items_per_second"]
print(f"\nFull capacity<100000>: FIFO-bounded map {wf:.1f} ns, cachet {wb:.1f} ns, {wb / wf:.2f}x")

def verdict(ok):
    return "met" if ok else "NOT met"

print("\n## Goals (medians, one run)\n")
at = 1_000_000
if at in sizes:
    for label, key, goal in [("bytes per entry", ("hit", "bytes_per_entry", at), 2.5),
                             ("hit", ("hit", "per_item", at), 2.0),
                             ("small-value hit (#11)", ("small_hit", "per_item", at), 2.0),
                             ("miss + store", ("fill", "per_item", at), 4.0)]:
        print(f"- {label} at 1M: {ratios[key]:.2f}x (goal <= {goal}x) -> "
              f"{verdict(ratios[key] <= goal)}")
print(f"- full bounded cache's miss + store + evict: {bounded / fifo:.2f}x (goal <= 4x) -> "
      f"{verdict(bounded / fifo <= 4.0)}")
small = min(sizes)
print(f"- small-value hit at {small:,} entries: "
      f"{ratios[('small_hit', 'per_item', small)]:.2f}x (goal <= 2.0x) -> "
      f"{verdict(ratios[('small_hit', 'per_item', small)] <= 2.0)}")
PY

# Instruction and cache-miss counts per hit do not depend on the machine's load, unlike times.
if [[ ${CALLGRIND:-0} == 1 ]] && command -v valgrind >/dev/null; then
  echo
  echo "| 1M entries, per hit (callgrind, LL = last level as valgrind simulates it) | Ir | D1 misses | LL misses |"
  echo "|---|---:|---:|---:|"
  hits=1000000  # one pass over the permutation
  for name in hit/map hit/cachet; do
    out="$build/callgrind.memory_scale.${name//\//_}"
    CACHET_BENCH_MAX_ENTRIES=1000000 CACHET_BENCH_HIT_ITERATIONS=$hits valgrind \
      --tool=callgrind --cache-sim=yes --callgrind-out-file="$out" --toggle-collect='*run_hits*' \
      "$build/memory_scale_bench" --benchmark_filter="^$name/1000000/" >/dev/null 2>&1
    callgrind_annotate --show=Ir,D1mr,DLmr "$out" | grep 'PROGRAM TOTALS' |
      sed -e 's/([^)]*)//g' -e 's/,//g' |
      awk -v n="$hits" -v label="$name" \
        '{ printf "| %s | %.0f | %.2f | %.2f |\n", label, $1 / n, $2 / n, $3 / n }'
  done
fi
echo
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
