// The cost of a call through cachet::cached, as ratios against baselines measured in the same run:
// the floor is a boost::unordered_flat_map lookup plus a copy of the same value, and the usual
// hand-written memo is a std::mutex around a std::unordered_map. bench/run_core.sh turns the
// numbers into the table of bench/RESULTS.md.
//
// The value is a user with an id and two strings longer than the small-string buffer, so a copy
// allocates twice, as it does in real services. Hits are pure: every key of the working set is
// stored before a benchmark starts, and the benchmark fails if one of its calls missed.

#include <cachet.hpp>

#include <benchmark/benchmark.h>
#include <boost/unordered/unordered_flat_map.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "hit_workload.hpp"

namespace {

using namespace cachet_bench;

// Threads start at different places in the sequence, so they do not call with the same keys in
// lockstep.
std::size_t start_for(const benchmark::State& state) {
  return static_cast<std::size_t>(state.thread_index()) * (sequence_length / 2 + 7919);
}

// Runs the loop that calls `get` with the sequence's keys; every benchmark below shares it so that
// only what is looked up differs between them. Kept out of line so that callgrind can count the
// loop alone (bench/run_core.sh passes --toggle-collect for it).
template <class Get>
[[gnu::noinline]] void run_hits(benchmark::State& state, Get&& get) {
  const std::vector<int>& seq = work().sequence;
  std::size_t i = start_for(state);
  for (auto _ : state) {
    user u = get(seq[i++ & (sequence_length - 1)]);
    benchmark::DoNotOptimize(u);
  }
  state.SetItemsProcessed(state.iterations());
}

// --- floor: a flat map lookup plus a copy -------------------------------------------------------

const boost::unordered_flat_map<int, user>& floor_map() {
  static const auto map = [] {
    boost::unordered_flat_map<int, user> m;
    for (int k : work().keys) m.emplace(k, load_user(k));
    return m;
  }();
  return map;
}

void floor_flat_map(benchmark::State& state) {
  const auto& map = floor_map();
  run_hits(state, [&](int id) -> user { return map.find(id)->second; });
}

// --- cached hits --------------------------------------------------------------------------------

// Checks, after the loop, that the calls were all hits.
template <class Cache>
void run_cached_hits(benchmark::State& state) {
  Cache& cache = preloaded<Cache>();
  const std::uint64_t misses_before = cache.stats().misses;
  run_hits(state, [&](int id) { return cache(id); });
  if (state.thread_index() == 0 && cache.stats().misses != misses_before) {
    state.SkipWithError("a call missed; the benchmark is meant to measure hits only");
  }
}

using cached_ttl300 = cachet::cached<&load_user, cachet::ttl<300>>;
using cached_ttl0 = cachet::cached<&load_user, cachet::ttl<0>>;

void cached_hit_ttl300(benchmark::State& state) { run_cached_hits<cached_ttl300>(state); }
void cached_hit_ttl0(benchmark::State& state) { run_cached_hits<cached_ttl0>(state); }

// --- the hand-written memo cachet replaces ------------------------------------------------------

class mutex_memo {
 public:
  user operator()(int id) {
    {
      std::lock_guard lock(m_);
      if (auto it = map_.find(id); it != map_.end()) return it->second;
    }
    user u = load_user(id);
    std::lock_guard lock(m_);
    return map_.try_emplace(id, std::move(u)).first->second;
  }

 private:
  std::mutex m_;
  std::unordered_map<int, user> map_;
};

void mutex_memo_hit(benchmark::State& state) {
  mutex_memo& memo = preloaded<mutex_memo>();
  run_hits(state, [&](int id) { return memo(id); });
}

// --- misses -------------------------------------------------------------------------------------

// Runs the loop of a miss benchmark: `call` with a new id each time. Out of line so that
// callgrind can count the loop alone (bench/run_core.sh passes --toggle-collect for it).
template <class Call>
[[gnu::noinline]] void run_misses(benchmark::State& state, int& id, Call&& call) {
  for (auto _ : state) {
    user u = call(++id);
    benchmark::DoNotOptimize(u);
  }
  state.SetItemsProcessed(state.iterations());
}

// What a miss costs at the least: the function itself.
void function_alone(benchmark::State& state) {
  int id = 0;
  run_misses(state, id, [](int i) { return load_user(i); });
}

// Every call has a key never seen before, in a full cache: a miss, a store and an eviction.
void cached_miss_store_evict(benchmark::State& state) {
  static cachet::cached<&load_user, cachet::ttl<300>, cachet::capacity<working_set>> cache;
  static int id = 0;
  [[maybe_unused]] static const bool full = [] {
    for (std::size_t k = 0; k < working_set; ++k) cache(++id);
    return true;
  }();
  const std::uint64_t hits_before = cache.stats().hits;
  run_misses(state, id, [&](int i) { return cache(i); });
  if (cache.stats().hits != hits_before) {
    state.SkipWithError("a call hit; the benchmark is meant to measure misses only");
  }
}

}  // namespace

BENCHMARK(floor_flat_map);
BENCHMARK(cached_hit_ttl300);
BENCHMARK(cached_hit_ttl0);
BENCHMARK(mutex_memo_hit);

// Two threads on one shared, preloaded cache; the floor's scaling is what the machine allows.
BENCHMARK(floor_flat_map)->Name("mt/floor_flat_map")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(cached_hit_ttl300)->Name("mt/cached_hit_ttl300")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(cached_hit_ttl0)->Name("mt/cached_hit_ttl0")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(mutex_memo_hit)->Name("mt/mutex_memo_hit")->Threads(1)->Threads(2)->UseRealTime();

// The single-thread hits again, for a fixed number of calls, for bench/run_core.sh to count
// instructions and cache misses under callgrind: counts do not depend on the machine's load.
constexpr benchmark::IterationCount counted_calls = 100'000;
BENCHMARK(floor_flat_map)->Name("counted/floor_flat_map")->Iterations(counted_calls);
BENCHMARK(cached_hit_ttl300)->Name("counted/cached_hit_ttl300")->Iterations(counted_calls);
BENCHMARK(cached_hit_ttl0)->Name("counted/cached_hit_ttl0")->Iterations(counted_calls);
BENCHMARK(mutex_memo_hit)->Name("counted/mutex_memo_hit")->Iterations(counted_calls);

BENCHMARK(function_alone);
BENCHMARK(cached_miss_store_evict);
BENCHMARK(function_alone)->Name("counted/function_alone")->Iterations(counted_calls);
BENCHMARK(cached_miss_store_evict)
    ->Name("counted/cached_miss_store_evict")
    ->Iterations(counted_calls);
