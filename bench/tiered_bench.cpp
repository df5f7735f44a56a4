// cachet::tiered<cachet::memory, cachet::redis> (issue #12) against its parts, in one run:
//
// - hit/memory_backend vs hit/tiered_memory: a hit on the memory backend and a hit on the tiered
//   backend's memory tier (the goal: at most 1.2x);
// - hot_set/redis vs hot_set/tiered: one thread calling over a hot set of keys, all cached;
// - propagation: an invalidate_tag on one replica until another replica's next call returns the
//   new value (replicas are backends with connections of their own, as processes have; p50_us,
//   p99_us). tests/redis/tiered_test.cpp measures the same across real processes.
//
// The server: CACHET_BENCH_REDIS_URL when set, else the CTest fixture's, else a private one.

#include <cachet/tiered.hpp>

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "../tests/support/redis_server.hpp"

namespace {

using tiers = cachet::tiered<cachet::memory, cachet::redis>;
constexpr int hot_keys = 64;

std::string server_url() {
  if (const char* url = std::getenv("CACHET_BENCH_REDIS_URL"); url != nullptr && *url != '\0')
    return url;
  return cachet_test::shared_redis_url();
}

std::atomic<long> source_version{0};
long load_version(int id) { return source_version.load() * 1000 + id; }

// The same policies on every backend: a memory-backend hit checks the tag's counter as well.
using memory_cache = cachet::cached<&load_version, cachet::ttl<300>, cachet::key<"bench-tiered:{}">,
                                    cachet::tags<"bench-tag:{}">>;
using redis_cache = cachet::cached<&load_version, cachet::ttl<300>, cachet::key<"bench-tiered:{}">,
                                   cachet::tags<"bench-tag:{}">, cachet::backend<cachet::redis>>;
using tiered_cache = cachet::cached<&load_version, cachet::ttl<300>, cachet::key<"bench-tiered:{}">,
                                    cachet::tags<"bench-tag:{}">, cachet::backend<tiers>>;

// One replica: memory, a Redis backend of its own, the tiers over them.
struct replica {
  explicit replica(const std::string& prefix)
      : remote(config(), cachet::redis_options{.key_prefix = prefix}), both(mem, remote) {
    if (!both.wait_coherent(std::chrono::seconds(10))) {
      throw std::runtime_error("tiered_bench: client tracking never came on");
    }
  }
  static cachet::redis::config config() {
    auto cfg = cachet::redis::config::from_url(server_url());
    cfg.request_timeout = std::chrono::milliseconds(5000);
    return cfg;
  }
  cachet::memory mem;
  cachet::redis remote;
  tiers both;
};

std::string prefix(const char* what) {
  return "cachet-bench-" + std::to_string(::getpid()) + "-" + what;
}

void hit_memory_backend(benchmark::State& state) {
  cachet::memory mem;
  memory_cache cache{mem};
  benchmark::DoNotOptimize(cache(1));
  for (auto _ : state) benchmark::DoNotOptimize(cache(1));
}
BENCHMARK(hit_memory_backend)->Name("hit/memory_backend");

void hit_tiered_memory(benchmark::State& state) {
  try {
    replica r(prefix("hit"));
    tiered_cache cache{r.both};
    cache(1);
    r.both.sync();  // its own write came back as an invalidation: the next call fills memory
    cache(1);
    r.both.sync();
    const auto before = cache.stats().memory_tier_hits;
    for (auto _ : state) benchmark::DoNotOptimize(cache(1));
    if (cache.stats().memory_tier_hits - before != static_cast<std::uint64_t>(state.iterations())) {
      state.SkipWithError("tiered_bench: a call missed the memory tier");
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(hit_tiered_memory)->Name("hit/tiered_memory");

template <class Cache, class Backend>
void hot_set(benchmark::State& state, Cache& cache, Backend& warm) {
  for (int k = 0; k < hot_keys; ++k) cache(k);
  warm();
  for (int k = 0; k < hot_keys; ++k) cache(k);
  warm();
  int k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache(k));
    k = (k + 1) % hot_keys;
  }
  state.SetItemsProcessed(state.iterations());
}

void hot_set_redis(benchmark::State& state) {
  try {
    cachet::redis remote(replica::config(), cachet::redis_options{.key_prefix = prefix("hot")});
    redis_cache cache{remote};
    auto nothing = [] {};
    hot_set(state, cache, nothing);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(hot_set_redis)->Name("hot_set/redis")->UseRealTime();

void hot_set_tiered(benchmark::State& state) {
  try {
    replica r(prefix("hot-tiered"));
    tiered_cache cache{r.both};
    auto sync = [&] { r.both.sync(); };
    hot_set(state, cache, sync);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(hot_set_tiered)->Name("hot_set/tiered")->UseRealTime();

// From the call of invalidate_tag on one replica until the other's next call returns the new
// value (it spins on its memory tier until then).
void propagation(benchmark::State& state) {
  try {
    const std::string p = prefix("propagation");
    replica writer(p);
    replica reader(p);
    tiered_cache writes{writer.both};
    tiered_cache reads{reader.both};
    std::vector<double> us;
    for (auto _ : state) {
      reads(7);
      reader.both.sync();
      reads(7);  // in memory now
      const long wanted = load_version(7) + 1000;
      source_version.fetch_add(1);
      const auto start = std::chrono::steady_clock::now();
      writes.invalidate_tag("bench-tag:7");
      while (reads(7) != wanted) {
      }
      us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count());
    }
    std::sort(us.begin(), us.end());
    auto at = [&](double q) { return us[static_cast<std::size_t>(q * (us.size() - 1))]; };
    state.counters["p50_us"] = at(0.50);
    state.counters["p99_us"] = at(0.99);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(propagation)->Name("propagation")->UseRealTime();

}  // namespace
