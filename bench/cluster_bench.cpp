// Cached hits on a 3-master Redis Cluster against one redis-server, in the same run
// (bench/run_cluster.sh starts both and prints the ratios of bench/RESULTS.md).
//
// Each benchmark has a /one_server and a /cluster form over 1000 entries cached beforehand, keys
// spread over every slot on the cluster:
//   hit_blocking      one caller, blocking calls: the latency of a hit (one EVALSHA)
//   hit_async_64      64 coroutines on one io_context thread, async() hits: throughput
//   hit_async_many_64 one async_many of 64 keys per iteration (one pipeline per node)
//
// The servers: CACHET_BENCH_REDIS_URL (redis://) and CACHET_BENCH_CLUSTER_URL (redis-cluster://);
// a benchmark whose server is not named is skipped with a message.

#include <cachet/redis.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace app {
long item(long id) { return id * 7; }
}  // namespace app

namespace {

namespace asio = boost::asio;
constexpr long entry_count = 1000;
constexpr int coroutines = 64;
constexpr int calls_per_coroutine = 50;  // per iteration of hit_async_64

using item_cache = cachet::cached<&app::item, cachet::key<"bench:item:{}">, cachet::tags<"bench">,
                                  cachet::backend<cachet::redis>>;

// One backend and cached function per setup, made and filled on first use.
struct setup {
  std::unique_ptr<cachet::redis> backend;
  std::unique_ptr<item_cache> items;
};

const char* url_variable(bool cluster) {
  return cluster ? "CACHET_BENCH_CLUSTER_URL" : "CACHET_BENCH_REDIS_URL";
}

item_cache* items_on(bool cluster) {
  static std::map<bool, setup> setups;
  if (auto it = setups.find(cluster); it != setups.end()) return it->second.items.get();
  const char* url = std::getenv(url_variable(cluster));
  if (url == nullptr || *url == '\0') return nullptr;
  setup& s = setups[cluster];
  s.backend = std::make_unique<cachet::redis>(cachet::redis::config::from_url(url),
                                              cachet::redis_options{.key_prefix = "bench-cluster"});
  s.items = std::make_unique<item_cache>(*s.backend);
  s.items->clear();
  for (long id = 0; id < entry_count; ++id) s.items->operator()(id);
  return s.items.get();
}

template <class T>
T run(asio::io_context& io, asio::awaitable<T> op) {
  auto done = asio::co_spawn(io, std::move(op), asio::use_future);
  io.restart();
  io.run();
  return done.get();
}

// The hits of an iteration, checked so that a miss (or an error) shows as a failed benchmark.
bool all_hits(benchmark::State& state, const item_cache& items, std::uint64_t hits_before,
              std::int64_t expected) {
  const cachet::stats s = items.stats();
  if (expected < 0 || s.hits - hits_before != static_cast<std::uint64_t>(expected) ||
      s.backend_errors != 0) {
    state.SkipWithError("a call was not a hit: is another process clearing the bench prefix?");
    return false;
  }
  return true;
}

void hit_blocking(benchmark::State& state, bool cluster) {
  item_cache* items = items_on(cluster);
  if (items == nullptr) return state.SkipWithError(url_variable(cluster));
  const std::uint64_t before = items->stats().hits;
  long id = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize((*items)(id));
    id = (id + 1) % entry_count;
  }
  if (!all_hits(state, *items, before, state.iterations())) return;
  state.counters["hits_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void hit_async_64(benchmark::State& state, bool cluster) {
  item_cache* items = items_on(cluster);
  if (items == nullptr) return state.SkipWithError(url_variable(cluster));
  const std::uint64_t before = items->stats().hits;
  asio::io_context io;
  for (auto _ : state) {
    for (int c = 0; c < coroutines; ++c) {
      asio::co_spawn(
          io,
          [items, c]() -> asio::awaitable<void> {
            for (int k = 0; k < calls_per_coroutine; ++k) {
              benchmark::DoNotOptimize(
                  co_await items->async((c * calls_per_coroutine + k) % entry_count));
            }
          },
          [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
          });
    }
    io.restart();
    io.run();
  }
  const auto calls = state.iterations() * coroutines * calls_per_coroutine;
  if (!all_hits(state, *items, before, calls)) return;
  state.counters["hits_per_s"] =
      benchmark::Counter(static_cast<double>(calls), benchmark::Counter::kIsRate);
}

void hit_async_many_64(benchmark::State& state, bool cluster) {
  item_cache* items = items_on(cluster);
  if (items == nullptr) return state.SkipWithError(url_variable(cluster));
  const std::uint64_t before = items->stats().hits;
  asio::io_context io;
  std::vector<long> ids(coroutines);
  long next = 0;
  for (auto _ : state) {
    for (long& id : ids) id = next++ % entry_count;
    benchmark::DoNotOptimize(run(io, items->async_many(ids)));
  }
  const auto calls = state.iterations() * coroutines;
  if (!all_hits(state, *items, before, calls)) return;
  state.counters["hits_per_s"] =
      benchmark::Counter(static_cast<double>(calls), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(hit_blocking, one_server, false)->UseRealTime();
BENCHMARK_CAPTURE(hit_blocking, cluster, true)->UseRealTime();
BENCHMARK_CAPTURE(hit_async_64, one_server, false)->UseRealTime();
BENCHMARK_CAPTURE(hit_async_64, cluster, true)->UseRealTime();
BENCHMARK_CAPTURE(hit_async_many_64, one_server, false)->UseRealTime();
BENCHMARK_CAPTURE(hit_async_many_64, cluster, true)->UseRealTime();

}  // namespace
