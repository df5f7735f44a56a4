#!/usr/bin/env bash
# Times the compilation of each source here, several runs each, and prints the medians as a
# markdown table with ratios against hana_only.cpp (Boost.Hana alone) and against asio_baseline.cpp
# (Asio coroutines, Boost.JSON and Hana, one co_spawned coroutine), the baseline of the Redis cases.
# The *_separate cases are units of a program built with CACHET_SEPARATE_COMPILATION, and
# cachet_src.cpp the one unit such a program compiles <cachet/src.hpp> in.
# Usage: bench/compile_time/run.sh [runs]   (env: CXX, default g++; CXXFLAGS, default -O2)
# Elapsed time is what a developer waits; user+sys CPU time is also shown because it is less
# disturbed by other work on the machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
include=$(cd "$here/../../include" && pwd)
runs=${1:-5}
cxx=${CXX:-g++}
read -r -a flags <<<"${CXXFLAGS:--O2}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

median() {
  sort -g | awk '{ v[NR] = $1 }
                 END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

sources=(hana_only cachet_include cachet_20 asio_baseline redis_1 redis_3 redis_1_separate
         redis_3_separate cachet_src)
# Rounds interleave the sources, so a change in the machine's load touches all of them alike.
for ((r = 0; r < runs; ++r)); do
  for s in "${sources[@]}"; do
    /usr/bin/time -f '%e %U %S' -o "$out/time.$s.$r" \
      "$cxx" -std=c++20 "${flags[@]}" -I"$include" -c "$here/$s.cpp" -o "$out/object.o"
  done
done

declare -A elapsed cpu
for s in "${sources[@]}"; do
  elapsed[$s]=$(cat "$out/time.$s".* | awk '{ print $1 }' | median)
  cpu[$s]=$(cat "$out/time.$s".* | awk '{ print $2 + $3 }' | median)
done

echo "Compile time: $cxx -std=c++20 ${flags[*]} -c, median of $runs runs"
echo
echo "| source | elapsed s | ratio to hana | ratio to asio_baseline | user+sys s | ratio to hana | ratio to asio_baseline |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for s in "${sources[@]}"; do
  awk -v s="$s" -v e="${elapsed[$s]}" -v c="${cpu[$s]}" -v he="${elapsed[hana_only]}" \
    -v hc="${cpu[hana_only]}" -v be="${elapsed[asio_baseline]}" -v bc="${cpu[asio_baseline]}" \
    'BEGIN { printf "| %s.cpp | %.2f | %.2fx | %.2fx | %.2f | %.2fx | %.2fx |\n",
             s, e, e / he, e / be, c, c / hc, c / bc }'
done
