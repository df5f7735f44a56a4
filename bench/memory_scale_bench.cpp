// The in-memory store from a thousand to ten million entries, against boost::unordered_flat_map
// in the same run (issue #15): bytes per entry, a hit, a miss that stores, and a full bounded
// cache's miss + store + evict against a map bounded by a FIFO queue. bench/run_memory_scale.sh
// turns the numbers into the table of bench/RESULTS.md.
//
// Keys are distinct longs spread over the whole range; hits visit them in a random permutation,
// so that neither the prefetcher nor the order of insertion hides the cache misses of a large
// table. Bytes per entry are the heap's growth (glibc's mallinfo2: what the allocator hands out,
// its own overhead included) while a container fills, divided by the entries.
//
// Sizes: 1k and 100k by default, which keeps ctest's smoke run short; set
// CACHET_BENCH_MAX_ENTRIES (e.g. 10000000) to add 1M and 10M.

#include <cachet.hpp>

#include <benchmark/benchmark.h>
#include <boost/unordered/unordered_flat_map.hpp>

#include <malloc.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

// The i-th key: a bijection of i over all longs, so keys are distinct and spread out.
long key_at(std::size_t i) noexcept {
  return static_cast<long>((static_cast<std::uint64_t>(i) + 1) * 0x9e3779b97f4a7c15ull);
}

[[gnu::noinline]] long value_of(long key) { return key ^ 0x5bd1e995; }

// #11's small value: a long and a string short enough for the small-string buffer.
struct small_value {
  long id;
  std::string tag;
};

[[gnu::noinline]] small_value small_value_of(long key) {
  return {key, "tag-" + std::to_string(key & 0xffff)};
}

std::size_t heap_in_use() noexcept {
  const struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
}

// The order hits visit the n keys in, drawn once per size with a fixed seed.
const std::vector<std::uint32_t>& permutation(std::size_t n) {
  static std::vector<std::pair<std::size_t, std::vector<std::uint32_t>>> made;
  for (const auto& [size, order] : made) {
    if (size == n) return order;
  }
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(n));
  made.emplace_back(n, std::move(order));
  return made.back().second;
}

using cached_long = cachet::cached<&value_of, cachet::ttl<300>>;
using cached_small = cachet::cached<&small_value_of, cachet::ttl<300>>;
using cached_bounded = cachet::cached<&value_of, cachet::ttl<300>, cachet::capacity<100000>>;

// A cached function with its own backend, so every benchmark starts from an empty store.
template <class Cache>
struct cache_with_backend {
  cachet::memory backend;
  Cache cache{backend};
};

template <class Value>
Value computed(long key) {
  if constexpr (std::is_same_v<Value, long>) {
    return value_of(key);
  } else {
    return small_value_of(key);
  }
}

// --- hits over n stored entries, and their bytes -------------------------------------------------

template <class Get>
[[gnu::noinline]] void run_hits(benchmark::State& state, std::size_t n, Get&& get) {
  const std::vector<std::uint32_t>& order = permutation(n);
  std::size_t i = 0;
  for (auto _ : state) {
    auto v = get(key_at(order[i]));
    benchmark::DoNotOptimize(v);
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void set_bytes_per_entry(benchmark::State& state, std::size_t before, std::size_t n) {
  state.counters["bytes_per_entry"] =
      static_cast<double>(heap_in_use() - before) / static_cast<double>(n);
}

template <class Value>
void map_hit(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  permutation(n);
  const std::size_t before = heap_in_use();
  boost::unordered_flat_map<long, Value> map;
  for (std::size_t i = 0; i < n; ++i) map.emplace(key_at(i), computed<Value>(key_at(i)));
  set_bytes_per_entry(state, before, n);
  run_hits(state, n, [&](long k) -> Value { return map.find(k)->second; });
}

template <class Cache>
void cachet_hit(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  permutation(n);
  const std::size_t before = heap_in_use();
  auto c = std::make_unique<cache_with_backend<Cache>>();
  for (std::size_t i = 0; i < n; ++i) c->cache(key_at(i));
  set_bytes_per_entry(state, before, n);
  const std::uint64_t misses = c->cache.stats().misses;
  run_hits(state, n, [&](long k) { return c->cache(k); });
  if (c->cache.stats().misses != misses) state.SkipWithError("a call missed; hits only here");
}

// --- filling an empty container: miss + store ----------------------------------------------------

template <class Container, class Insert>
void run_fill(benchmark::State& state, Insert&& insert) {
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto container = std::make_unique<Container>();
    for (std::size_t i = 0; i < n; ++i) insert(*container, key_at(i));
    state.PauseTiming();
    container.reset();
    state.ResumeTiming();
  }
  // Per entry, the time of a fill divided by its entries.
  state.SetItemsProcessed(static_cast<std::int64_t>(n) * state.iterations());
}

void map_emplace(benchmark::State& state) {
  run_fill<boost::unordered_flat_map<long, long>>(
      state, [](auto& map, long k) { map.emplace(k, value_of(k)); });
}

void cachet_miss_store(benchmark::State& state) {
  run_fill<cache_with_backend<cached_long>>(
      state, [](auto& c, long k) { benchmark::DoNotOptimize(c.cache(k)); });
}

// --- a full bounded container fed new keys: miss + store + evict ---------------------------------

constexpr std::size_t bound = 100'000;

// A flat map bounded by a FIFO ring of its keys: the cheapest eviction there is.
struct fifo_map {
  boost::unordered_flat_map<long, long> map;
  std::vector<long> ring = std::vector<long>(bound);
  std::size_t oldest = 0;

  void insert(long k) {
    if (map.size() == bound) map.erase(ring[oldest]);
    map.emplace(k, value_of(k));
    ring[oldest] = k;
    oldest = oldest + 1 == bound ? 0 : oldest + 1;
  }
};

template <class Insert>
[[gnu::noinline]] void run_evictions(benchmark::State& state, Insert&& insert) {
  std::size_t next = 0;
  for (; next < bound; ++next) insert(key_at(next));
  for (auto _ : state) insert(key_at(next++));
  state.SetItemsProcessed(state.iterations());
}

void fifo_map_emplace_erase(benchmark::State& state) {
  fifo_map m;
  run_evictions(state, [&](long k) { m.insert(k); });
}

void cachet_bounded_miss_store_evict(benchmark::State& state) {
  auto c = std::make_unique<cache_with_backend<cached_bounded>>();
  run_evictions(state, [&](long k) { benchmark::DoNotOptimize(c->cache(k)); });
  if (c->cache.stats().evictions == 0) state.SkipWithError("the cache never evicted");
}

void sizes(benchmark::internal::Benchmark* b) {
  const char* max = std::getenv("CACHET_BENCH_MAX_ENTRIES");
  const long limit = max != nullptr ? std::atol(max) : 100'000;
  for (long n : {1'000L, 100'000L, 1'000'000L, 10'000'000L}) {
    if (n <= limit) b->Arg(n);
  }
}

// A fixed number of hits, for counting them with callgrind (bench/run_memory_scale.sh).
void hit_sizes(benchmark::internal::Benchmark* b) {
  sizes(b);
  if (const char* hits = std::getenv("CACHET_BENCH_HIT_ITERATIONS")) b->Iterations(std::atol(hits));
}

BENCHMARK(map_hit<long>)->Name("hit/map")->Apply(hit_sizes);
BENCHMARK(cachet_hit<cached_long>)->Name("hit/cachet")->Apply(hit_sizes);
BENCHMARK(map_hit<small_value>)->Name("small_hit/map")->Apply(sizes);
BENCHMARK(cachet_hit<cached_small>)->Name("small_hit/cachet")->Apply(sizes);
BENCHMARK(map_emplace)->Name("fill/map")->Apply(sizes);
BENCHMARK(cachet_miss_store)->Name("fill/cachet")->Apply(sizes);
BENCHMARK(fifo_map_emplace_erase)->Name("bounded/fifo_map");
BENCHMARK(cachet_bounded_miss_store_evict)->Name("bounded/cachet");

}  // namespace
