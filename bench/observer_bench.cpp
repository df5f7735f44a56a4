// What cachet::observer<> costs on a hit, against the same cache without one, in the same run: an
// absent observer must cost nothing, and one that does not declare on_hit next to nothing.
// bench/run_observer.sh turns the numbers into the table of bench/RESULTS.md.

#include <cachet.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "hit_workload.hpp"

namespace {

using namespace cachet_bench;

// Declares on_load only: hits call nothing.
struct load_counter {
  std::atomic<std::uint64_t> loads{0};
  void on_load(const cachet::event&) { loads.fetch_add(1, std::memory_order_relaxed); }
};

// Declares on_hit: every hit renders its text key and calls it.
struct hit_counter {
  std::atomic<std::uint64_t> hits{0};
  void on_hit(const cachet::event& e) {
    benchmark::DoNotOptimize(e.key.data());
    hits.fetch_add(1, std::memory_order_relaxed);
  }
};

using plain = cachet::cached<&load_user, cachet::ttl<300>>;
using observed_loads = cachet::cached<&load_user, cachet::ttl<300>, cachet::observer<load_counter>>;
using observed_hits = cachet::cached<&load_user, cachet::ttl<300>, cachet::observer<hit_counter>>;

// Out of line so that callgrind can count the loop alone (bench/run_observer.sh).
template <class Cache>
[[gnu::noinline]] void run_hits(benchmark::State& state, Cache& cache) {
  const std::vector<int>& seq = work().sequence;
  std::size_t i = 0;
  for (auto _ : state) {
    user u = cache(seq[i++ & (sequence_length - 1)]);
    benchmark::DoNotOptimize(u);
  }
  state.SetItemsProcessed(state.iterations());
}

template <class Cache>
void hit(benchmark::State& state) {
  Cache& cache = preloaded<Cache>();
  const std::uint64_t misses_before = cache.stats().misses;
  run_hits(state, cache);
  if (cache.stats().misses != misses_before) {
    state.SkipWithError("a call missed; the benchmark is meant to measure hits only");
  }
}

void hit_without_observer(benchmark::State& state) { hit<plain>(state); }
void hit_observer_without_on_hit(benchmark::State& state) { hit<observed_loads>(state); }
void hit_observer_with_on_hit(benchmark::State& state) { hit<observed_hits>(state); }

}  // namespace

BENCHMARK(hit_without_observer);
BENCHMARK(hit_observer_without_on_hit);
BENCHMARK(hit_observer_with_on_hit);

// For callgrind: instruction counts do not depend on the machine's load.
constexpr benchmark::IterationCount counted_calls = 100'000;
BENCHMARK(hit_without_observer)->Name("counted/hit_without_observer")->Iterations(counted_calls);
BENCHMARK(hit_observer_without_on_hit)
    ->Name("counted/hit_observer_without_on_hit")
    ->Iterations(counted_calls);
BENCHMARK(hit_observer_with_on_hit)
    ->Name("counted/hit_observer_with_on_hit")
    ->Iterations(counted_calls);
