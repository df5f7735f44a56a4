// What a rate limit adds to a call, as ratios against a baseline measured in the same run
// (bench/run_rate_limit.sh prints the tables):
//
// - local/...: an in-memory cached hit alone, and with cachet::rate_limit (a huge limit, so every
//   call is admitted; keyed by the argument, and one limit for the whole function), and with
//   cachet::circuit_breaker, which wraps misses only, so a hit should cost nothing more. The
//   value and keys are those of bench/cached_bench.cpp.
// - redis/...: one check of cachet::redis_rate_limiter (EVALSHA of its script) against a plain
//   GET through the same client, blocking and from a coroutine; and a cached hit on the Redis
//   backend with and without cachet::rate_limit (MGET alone, or EVALSHA then MGET).
//
// The server: CACHET_BENCH_REDIS_URL when set (bench/run_rate_limit.sh), else the CTest
// fixture's (CACHET_TEST_REDIS_URL_FILE), else a private redis-server started on first use.

#include <cachet.hpp>
#include <cachet/redis.hpp>
#include <cachet/redis/rate_limiter.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "../tests/support/redis_server.hpp"
#include "hit_workload.hpp"

namespace {

namespace asio = boost::asio;
using namespace cachet_bench;

// --- in memory ----------------------------------------------------------------------------------

// Admits every call of the benchmarks: 10^9 calls per 10^9 seconds, one a second in bursts of
// 10^9. A key's bucket then stays far from full between two of its calls, so its state stays in
// the limiter: the path of a key in use. With a period of one second instead (one call per
// nanosecond), each bucket is full again by the next call with its key, and the key is dropped
// and added again: the `refilled` variant measures that path, a key seen once in a while.
constexpr std::uint64_t huge_limit = 1'000'000'000;
using huge_period = cachet::per<1'000'000'000>;

// The loop every local benchmark shares; out of line so that callgrind can count it alone
// (bench/run_rate_limit.sh passes --toggle-collect for it).
template <class Get>
[[gnu::noinline]] void run_calls(benchmark::State& state, Get&& get, bool hot = false) {
  const std::vector<int>& seq = hot ? work().hot_sequence : work().sequence;
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * (sequence_length / 2 + 7919);
  for (auto _ : state) {
    auto r = get(seq[i++ & (sequence_length - 1)]);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

// Fails the benchmark if a call missed: hits are what is measured.
template <class Cache>
void run_cached_hits(benchmark::State& state, bool hot = false) {
  Cache& cache = preloaded<Cache>();
  const std::uint64_t misses_before = cache.stats().misses;
  run_calls(
      state, [&](int id) { return cache(id); }, hot);
  if (state.thread_index() == 0 && cache.stats().misses != misses_before) {
    state.SkipWithError("a call missed; the benchmark is meant to measure hits only");
  }
}

using plain_hit = cachet::cached<&load_user, cachet::ttl<300>>;
using keyed_limit_hit =
    cachet::cached<&load_user, cachet::ttl<300>,
                   cachet::rate_limit<huge_limit, huge_period, cachet::by<"{}">>>;
using refilled_limit_hit =
    cachet::cached<&load_user, cachet::ttl<300>,
                   cachet::rate_limit<huge_limit, cachet::per<1>, cachet::by<"{}">>>;
// The keyed limit is checked on the entry a hit finds (the limit's key is the cache's): the goal
// is measured on that path, and a change that leaves it fails to compile here.
static_assert(cachet::detail::fused_rate_limit_of<keyed_limit_hit>::value &&
              cachet::detail::fused_rate_limit_of<refilled_limit_hit>::value);
using whole_limit_hit =
    cachet::cached<&load_user, cachet::ttl<300>, cachet::rate_limit<huge_limit, huge_period>>;
using breaker_hit =
    cachet::cached<&load_user, cachet::ttl<300>, cachet::circuit_breaker<5, cachet::cooldown<30>>>;

void hit(benchmark::State& state) { run_cached_hits<plain_hit>(state); }
void hit_rate_limit_by_key(benchmark::State& state) { run_cached_hits<keyed_limit_hit>(state); }
void hit_rate_limit_refilled(benchmark::State& state) {
  run_cached_hits<refilled_limit_hit>(state);
}
void hit_rate_limit_whole(benchmark::State& state) { run_cached_hits<whole_limit_hit>(state); }
void hit_circuit_breaker(benchmark::State& state) { run_cached_hits<breaker_hit>(state); }
void hot_hit(benchmark::State& state) { run_cached_hits<plain_hit>(state, true); }
void hot_hit_rate_limit_by_key(benchmark::State& state) {
  run_cached_hits<keyed_limit_hit>(state, true);
}

// The limiter on its own, with the key text the keyed policy renders.
void limiter_alone(benchmark::State& state) {
  static cachet::rate_limiter limiter(huge_limit, huge_period::value);
  std::string key;
  run_calls(state, [&](int id) {
    key = std::to_string(id);
    return limiter.try_acquire(key).allowed;
  });
}

// --- Redis --------------------------------------------------------------------------------------

using bench_clock = std::chrono::steady_clock;

std::string server_url() {
  if (const char* url = std::getenv("CACHET_BENCH_REDIS_URL"); url != nullptr && *url != '\0')
    return url;
  return cachet_test::shared_redis_url();
}

const std::string& prefix() {
  static const std::string p = "cachet-rate-bench-" + std::to_string(::getpid());
  return p;
}

std::string load_value(int id) { return std::string(64, static_cast<char>('a' + id % 26)); }

using redis_hit = cachet::cached<&load_value, cachet::ttl<300>, cachet::key<"bench:{}">,
                                 cachet::backend<cachet::redis>>;
using redis_limited_hit =
    cachet::cached<&load_value, cachet::ttl<300>, cachet::key<"bench:{}">,
                   cachet::backend<cachet::redis>,
                   cachet::rate_limit<huge_limit, cachet::per<1>, cachet::by<"{}">>>;

struct redis_rig {
  cachet::redis backend{config(), {.key_prefix = prefix()}};
  // A period of one second: the keys vanish from the server a millisecond after the run.
  cachet::redis::rate_limiter limiter{backend, "bench", huge_limit, std::chrono::seconds(1)};
  redis_hit plain{backend};
  redis_limited_hit limited{backend};
  std::string raw_key = prefix() + ":raw";

  static cachet::redis::config config() {
    auto cfg = cachet::redis::config::from_url(server_url());
    cfg.request_timeout = std::chrono::milliseconds(5000);  // a loaded machine must not fail calls
    return cfg;
  }

  redis_rig() {
    auto& rt = backend.runtime();
    rt.run(backend.connection().exec("SET", raw_key, std::string(64, 'x'), "PX", 600000));
    plain(42);                  // the miss that stores the entry the hit benchmarks read
    limiter.try_acquire("42");  // loads the script (EVAL after NOSCRIPT) once
  }
};

redis_rig& redis() {
  static redis_rig r;
  return r;
}

// Times each call on its own and reports the median and 99th percentile in microseconds.
template <class Call>
void latency(benchmark::State& state, Call&& call) {
  std::vector<double> us;
  try {
    for (auto _ : state) {
      const auto start = bench_clock::now();
      call();
      us.push_back(std::chrono::duration<double, std::micro>(bench_clock::now() - start).count());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))];
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
}

void require_no_fallbacks(benchmark::State& state, std::uint64_t before) {
  if (redis().limiter.fallbacks() != before) {
    state.SkipWithError("a check fell back to the local limit: Redis failed or was late");
  }
}

void redis_get_blocking(benchmark::State& state) {
  auto& r = redis();
  auto& rt = r.backend.runtime();
  latency(state, [&] {
    cachet::redis::value v = rt.run(r.backend.connection().exec("GET", r.raw_key));
    benchmark::DoNotOptimize(v);
  });
}

void redis_check_blocking(benchmark::State& state) {
  auto& r = redis();
  const std::uint64_t before = r.limiter.fallbacks();
  latency(state, [&] {
    const cachet::rate_limit_decision d = r.limiter.try_acquire("42");
    if (!d) throw std::runtime_error("rate_limit_bench: a check was refused");
  });
  require_no_fallbacks(state, before);
}

// A coroutine on an io_context of the benchmark's thread; each call hops to the backend's I/O
// thread and back, as cached::async does.
template <class Body>
void run_coroutine(benchmark::State& state, Body body) {
  asio::io_context io{1};
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
    }
  }
}

void redis_get_async(benchmark::State& state) {
  auto& r = redis();
  auto& rt = r.backend.runtime();
  run_coroutine(state, [&]() -> asio::awaitable<void> {
    std::vector<double> us;
    for (auto _ : state) {
      const auto start = bench_clock::now();
      cachet::redis::value v = co_await asio::co_spawn(
          rt.context(), r.backend.connection().exec("GET", r.raw_key), asio::use_awaitable);
      us.push_back(std::chrono::duration<double, std::micro>(bench_clock::now() - start).count());
      benchmark::DoNotOptimize(v);
    }
    std::sort(us.begin(), us.end());
    state.counters["p50_us"] = us[(us.size() - 1) / 2];
    state.counters["p99_us"] =
        us[static_cast<std::size_t>(0.99 * static_cast<double>(us.size() - 1))];
  });
}

void redis_check_async(benchmark::State& state) {
  auto& r = redis();
  const std::uint64_t before = r.limiter.fallbacks();
  run_coroutine(state, [&]() -> asio::awaitable<void> {
    std::vector<double> us;
    for (auto _ : state) {
      const auto start = bench_clock::now();
      const cachet::rate_limit_decision d = co_await r.limiter.async_try_acquire("42");
      us.push_back(std::chrono::duration<double, std::micro>(bench_clock::now() - start).count());
      if (!d) throw std::runtime_error("rate_limit_bench: a check was refused");
    }
    std::sort(us.begin(), us.end());
    state.counters["p50_us"] = us[(us.size() - 1) / 2];
    state.counters["p99_us"] =
        us[static_cast<std::size_t>(0.99 * static_cast<double>(us.size() - 1))];
  });
  require_no_fallbacks(state, before);
}

template <class Cache>
void redis_cached_hit(benchmark::State& state, Cache& cache) {
  const cachet::stats before = cache.stats();
  latency(state, [&] {
    std::string v = cache(42);
    benchmark::DoNotOptimize(v);
  });
  const cachet::stats after = cache.stats();
  if (after.misses != before.misses || after.backend_errors != before.backend_errors) {
    state.SkipWithError("a call that should have hit missed or failed");
  }
}

void redis_hit_plain(benchmark::State& state) { redis_cached_hit(state, redis().plain); }
void redis_hit_rate_limited(benchmark::State& state) { redis_cached_hit(state, redis().limited); }

}  // namespace

BENCHMARK(hit)->Name("local/hit");
BENCHMARK(hit_rate_limit_by_key)->Name("local/hit_rate_limit_by_key");
BENCHMARK(hit_rate_limit_refilled)->Name("local/hit_rate_limit_by_key_refilled");
BENCHMARK(hit_rate_limit_whole)->Name("local/hit_rate_limit_whole");
BENCHMARK(hit_circuit_breaker)->Name("local/hit_circuit_breaker");
BENCHMARK(limiter_alone)->Name("local/limiter_alone");
BENCHMARK(hot_hit)->Name("local/hot_hit");
BENCHMARK(hot_hit_rate_limit_by_key)->Name("local/hot_hit_rate_limit_by_key");

// The same for a fixed number of calls, for callgrind: counts do not depend on the machine's load.
constexpr benchmark::IterationCount counted_calls = 100'000;
BENCHMARK(hit)->Name("counted/hit")->Iterations(counted_calls);
BENCHMARK(hit_rate_limit_by_key)->Name("counted/hit_rate_limit_by_key")->Iterations(counted_calls);
BENCHMARK(hit_rate_limit_refilled)
    ->Name("counted/hit_rate_limit_by_key_refilled")
    ->Iterations(counted_calls);
BENCHMARK(hit_rate_limit_whole)->Name("counted/hit_rate_limit_whole")->Iterations(counted_calls);
BENCHMARK(hit_circuit_breaker)->Name("counted/hit_circuit_breaker")->Iterations(counted_calls);
BENCHMARK(limiter_alone)->Name("counted/limiter_alone")->Iterations(counted_calls);

BENCHMARK(redis_get_blocking)->Name("redis/get_blocking")->UseRealTime();
BENCHMARK(redis_check_blocking)->Name("redis/check_blocking")->UseRealTime();
BENCHMARK(redis_get_async)->Name("redis/get_async")->UseRealTime();
BENCHMARK(redis_check_async)->Name("redis/check_async")->UseRealTime();
BENCHMARK(redis_hit_plain)->Name("redis/cached_hit")->UseRealTime();
BENCHMARK(redis_hit_rate_limited)->Name("redis/cached_hit_rate_limited")->UseRealTime();
