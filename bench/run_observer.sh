#!/usr/bin/env bash
# Builds and runs bench/observer_bench.cpp and prints the table of bench/RESULTS.md's
# "Observability" section: a hit with and without cachet::observer<>, as ratios against the hit
# without one, in time (median of the repetitions) and in instructions counted by callgrind.
# Usage: bench/run_observer.sh   (env: BUILD_DIR, default /tmp/cachet-bench; REPETITIONS, default 5;
#                                 MIN_TIME seconds per repetition, default 0.5)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-/tmp/cachet-bench}
mkdir -p "$build"
g++ -std=c++20 -O2 -DNDEBUG -Wall -Wextra -Wpedantic -Werror -I"$here/../include" \
  "$here/observer_bench.cpp" -lbenchmark -lbenchmark_main -pthread -o "$build/observer_bench"
"$build/observer_bench" --benchmark_filter='^hit' --benchmark_repetitions="${REPETITIONS:-5}" \
  --benchmark_min_time="${MIN_TIME:-0.5}" --benchmark_enable_random_interleaving=true \
  --benchmark_out_format=json --benchmark_out="$build/observer_bench.json" >/dev/null 2>&1
names=(hit_without_observer hit_observer_without_on_hit hit_observer_with_on_hit)
for name in "${names[@]}"; do
  valgrind --tool=callgrind --callgrind-out-file="$build/callgrind.observer.$name" \
    --toggle-collect='*run_hits*' "$build/observer_bench" --benchmark_filter="^counted/$name/" \
    >/dev/null 2>&1
  callgrind_annotate "$build/callgrind.observer.$name" | grep 'PROGRAM TOTALS' |
    sed -e 's/([^)]*)//g' -e 's/,//g' | awk '{print $1}' >"$build/callgrind.observer.$name.ir"
done
python3 - "$build" "${names[@]}" <<'PY'
import json, sys

build, names = sys.argv[1], sys.argv[2:]
runs = json.load(open(f"{build}/observer_bench.json"))["benchmarks"]
median = {b["run_name"]: b["cpu_time"] for b in runs if b.get("aggregate_name") == "median"}
calls = 100_000  # counted_calls in observer_bench.cpp
ir = {n: int(open(f"{build}/callgrind.observer.{n}.ir").read()) / calls for n in names}
base = names[0]
print("| variant | ns/hit (median CPU) | ratio | instructions/hit | ratio |")
print("|---|---:|---:|---:|---:|")
for n in names:
    print(f"| {n} | {median[n]:.1f} | {median[n] / median[base]:.2f}x | {ir[n]:.0f} "
          f"| {ir[n] / ir[base]:.3f}x |")
PY
echo
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
