// The cost of going through cachet's Redis client and backend, against redis-benchmark on the same
// server in the same run (bench/run_redis.sh does both and prints the ratios of bench/RESULTS.md).
//
// Latency benchmarks time every call on its own and report its median and 99th percentile
// (counters p50_us, p99_us), which is what redis-benchmark reports; the throughput benchmark
// reports calls per second of wall time. Every value read is ~100 bytes, as in redis-benchmark -d
// 100.
//
// The server: CACHET_BENCH_REDIS_URL when set (bench/run_redis.sh), else the CTest fixture's
// (CACHET_TEST_REDIS_URL_FILE), else a private redis-server started on first use and stopped at
// exit, so that the bench runs with no arguments and leaves nothing behind.
//
// Degraded mode (degraded/...) needs no server: a backend aimed at a port nobody listens on,
// whose breaker is open, against the function called directly, in the same run, for a ladder of
// function costs.

#include <cachet/redis.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../tests/support/redis_server.hpp"

namespace {

namespace asio = boost::asio;
using bench_clock = std::chrono::steady_clock;

constexpr std::size_t value_size = 100;   // redis-benchmark -d 100
constexpr int coroutines = 64;            // callers sharing one connection
constexpr int calls_per_coroutine = 100;  // per benchmark iteration of the throughput benchmark

std::string server_url() {
  if (const char* url = std::getenv("CACHET_BENCH_REDIS_URL"); url != nullptr && *url != '\0')
    return url;
  return cachet_test::shared_redis_url();
}

// Keys of this process, apart from other programs on the same server.
const std::string& prefix() {
  static const std::string p = "cachet-bench-" + std::to_string(::getpid());
  return p;
}

std::string raw_key() { return prefix() + ":raw"; }

// The loader of the cached benchmarks. The stored entry, a hash of the value's JSON ("<64 x>") and
// its stamp (the function's counter and token), is about as long as redis-benchmark's 100-byte
// values; backend_rig() checks the value.
std::string load_value(int id) { return std::string(64, static_cast<char>('a' + id % 26)); }

cachet::redis::config bench_config() {
  auto cfg = cachet::redis::config::from_url(server_url());
  cfg.request_timeout = std::chrono::milliseconds(5000);  // a loaded machine must not fail calls
  return cfg;
}

// A single-threaded io_context on the benchmark's thread and one client on it: the caller's
// coroutines and the connection share that thread, as they do in a single-threaded service.
struct client_rig {
  asio::io_context io{1};
  cachet::redis::client client{io.get_executor(), bench_config()};

  // Runs `body` to completion on the benchmark's thread. The client keeps the io_context busy
  // (its reader waits on the socket), so the completion handler stops it.
  template <class Body>
  void run(Body body) {
    std::exception_ptr failure;
    io.restart();
    asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
      failure = e;
      io.stop();
    });
    io.run();
    if (failure) std::rethrow_exception(failure);
  }
};

client_rig& rig() {
  static client_rig r;
  return r;
}

// The median and 99th percentile of one benchmark run's per-call latencies, in microseconds.
void report_latencies(benchmark::State& state, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))];
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
}

void fail(benchmark::State& state, const std::exception& e) { state.SkipWithError(e.what()); }

// Appends the microseconds since `start` to `us`.
void record_since(std::vector<double>& us, bench_clock::time_point start) {
  us.push_back(std::chrono::duration<double, std::micro>(bench_clock::now() - start).count());
}

// Runs body(us), where the body records one latency per iteration, then reports them; an
// exception skips the benchmark with its message.
template <class Body>
void latency_benchmark(benchmark::State& state, Body&& body) {
  std::vector<double> us;
  try {
    body(us);
  } catch (const std::exception& e) {
    fail(state, e);
    return;
  }
  report_latencies(state, us);
}

// Stores the raw GET value once per process.
void ensure_raw_value() {
  static const bool stored = [] {
    rig().run([]() -> asio::awaitable<void> {
      co_await rig().client.exec("SET", raw_key(), std::string(value_size, 'x'), "PX", 600000);
    });
    return true;
  }();
  (void)stored;
}

// One caller: a coroutine that awaits one GET after the other.
void client_get_latency(benchmark::State& state) {
  latency_benchmark(state, [&](std::vector<double>& us) {
    ensure_raw_value();
    rig().run([&]() -> asio::awaitable<void> {
      auto& c = rig().client;
      const std::string key = raw_key();
      const cachet::redis::value check = co_await c.exec("GET", key);
      if (check.as_string().size() != value_size)
        throw std::runtime_error("redis_bench: GET returned a value of the wrong size");
      for (auto _ : state) {
        const auto start = bench_clock::now();
        cachet::redis::value v = co_await c.exec("GET", key);
        record_since(us, start);
        benchmark::DoNotOptimize(v);
      }
    });
  });
}
BENCHMARK(client_get_latency)->Name("latency/client_get")->UseRealTime();

// 64 coroutines on one client, each awaiting its GETs one after the other; the client coalesces
// what they have queued into one write. One iteration is 64 x 100 GETs.
void client_get_throughput(benchmark::State& state) {
  try {
    ensure_raw_value();
    const std::string key = raw_key();
    for (auto _ : state) {
      rig().run([&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        int running = coroutines;
        std::exception_ptr failure;
        asio::steady_timer all_done(ex, bench_clock::time_point::max());
        for (int i = 0; i < coroutines; ++i) {
          asio::co_spawn(
              ex,
              [&]() -> asio::awaitable<void> {
                for (int n = 0; n < calls_per_coroutine; ++n) {
                  cachet::redis::value v = co_await rig().client.exec("GET", key);
                  benchmark::DoNotOptimize(v);
                }
              },
              [&](std::exception_ptr e) {
                if (e && !failure) failure = e;
                if (--running == 0) all_done.cancel();
              });
        }
        boost::system::error_code ignored;
        co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        if (failure) std::rethrow_exception(failure);
      });
    }
  } catch (const std::exception& e) {
    fail(state, e);
    return;
  }
  state.SetItemsProcessed(state.iterations() * coroutines * calls_per_coroutine);
}
BENCHMARK(client_get_throughput)->Name("throughput/client_get_64")->UseRealTime();

// The Redis backend: its own connection and I/O thread, as an application has it.
using cached_value = cachet::cached<&load_value, cachet::ttl<300>, cachet::key<"bench:{}">,
                                    cachet::backend<cachet::redis>>;

struct backend_rig {
  cachet::redis backend{bench_config(), {.key_prefix = prefix()}};
  cached_value get_value{backend};

  backend_rig() {
    get_value(42);  // the miss that stores the entry every benchmark below hits
    const auto stored =
        backend.runtime().run(backend.connection().exec("HSTRLEN", prefix() + ":v1:bench:42", "v"));
    if (stored.as_int() != 66)
      throw std::runtime_error("redis_bench: the stored value is " +
                               std::to_string(stored.as_int()) + " bytes, not 66");
  }
};

backend_rig& backend() {
  static backend_rig r;
  return r;
}

// One round trip of a plain read, without the backend around it: the MGET of two keys, from one
// coroutine on the benchmark's client (a hit is one script call, see cached_hit_blocking).
void client_mget_latency(benchmark::State& state) {
  latency_benchmark(state, [&](std::vector<double>& us) {
    backend();  // stores the entry
    rig().run([&]() -> asio::awaitable<void> {
      auto& c = rig().client;
      const std::vector<std::string> keys{prefix() + ":v1:bench:42",
                                          prefix() + ":v1:fn:load_value"};
      for (auto _ : state) {
        const auto start = bench_clock::now();
        cachet::redis::value v = co_await c.exec("MGET", keys);
        record_since(us, start);
        benchmark::DoNotOptimize(v);
      }
    });
  });
}
BENCHMARK(client_mget_latency)->Name("latency/client_mget_entry")->UseRealTime();

// The hand-off a blocking hit makes to the backend's I/O thread and back, around a plain GET.
void backend_get_blocking_latency(benchmark::State& state) {
  latency_benchmark(state, [&](std::vector<double>& us) {
    ensure_raw_value();
    auto& rt = backend().backend.runtime();
    const std::string key = raw_key();
    for (auto _ : state) {
      const auto start = bench_clock::now();
      cachet::redis::value v = rt.run(rt.client().exec("GET", key));
      record_since(us, start);
      benchmark::DoNotOptimize(v);
    }
  });
}
BENCHMARK(backend_get_blocking_latency)->Name("latency/backend_get_blocking")->UseRealTime();

// Fails the benchmark if any call since `before` missed: hits are what is measured.
void require_hits_only(benchmark::State& state, const cachet::stats& before,
                       const cachet::stats& after) {
  if (after.misses != before.misses || after.backend_errors != before.backend_errors)
    state.SkipWithError("redis_bench: a call that should have hit missed or failed");
}

// One caller, blocking: the call hands its MGET to the backend's I/O thread and waits.
void cached_hit_blocking_latency(benchmark::State& state) {
  latency_benchmark(state, [&](std::vector<double>& us) {
    auto& b = backend();
    const cachet::stats before = b.get_value.stats();
    for (auto _ : state) {
      const auto start = bench_clock::now();
      std::string v = b.get_value(42);
      record_since(us, start);
      benchmark::DoNotOptimize(v);
    }
    require_hits_only(state, before, b.get_value.stats());
  });
}
BENCHMARK(cached_hit_blocking_latency)->Name("latency/cached_hit_blocking")->UseRealTime();

// Threads of blocking callers sharing one backend, all hitting (compare redis-benchmark -c 8 -P 1
// and the hiredis memo's threads, each with a connection of its own).
void cached_hit_blocking_throughput(benchmark::State& state) {
  try {
    auto& b = backend();
    for (auto _ : state) {
      std::string v = b.get_value(42);
      benchmark::DoNotOptimize(v);
    }
    state.SetItemsProcessed(state.iterations());
  } catch (const std::exception& e) {
    fail(state, e);
  }
}
BENCHMARK(cached_hit_blocking_throughput)
    ->Name("throughput/cached_hit_blocking")
    ->Threads(8)
    ->UseRealTime();

// One caller, blocking, a new key each time: a miss's read, the function, and the write.
void cached_miss_write_blocking_latency(benchmark::State& state) {
  latency_benchmark(state, [&](std::vector<double>& us) {
    auto& b = backend();
    static int next_id = 1000;  // keys no other benchmark uses, none stored yet
    for (auto _ : state) {
      const int id = ++next_id;
      const auto start = bench_clock::now();
      std::string v = b.get_value(id);
      record_since(us, start);
      benchmark::DoNotOptimize(v);
    }
    if (b.get_value.stats().backend_errors != 0)
      state.SkipWithError("redis_bench: a miss's read or write failed");
  });
}
BENCHMARK(cached_miss_write_blocking_latency)
    ->Name("latency/cached_miss_write_blocking")
    ->UseRealTime();

// One caller, a coroutine on an io_context of the benchmark's thread: co_await get_value.async().
void cached_hit_async_latency(benchmark::State& state) {
  latency_benchmark(state, [&](std::vector<double>& us) {
    auto& b = backend();
    const cachet::stats before = b.get_value.stats();
    asio::io_context io{1};
    std::exception_ptr failure;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (auto _ : state) {
            const auto start = bench_clock::now();
            std::string v = co_await b.get_value.async(42);
            record_since(us, start);
            benchmark::DoNotOptimize(v);
          }
        },
        [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    require_hits_only(state, before, b.get_value.stats());
  });
}
BENCHMARK(cached_hit_async_latency)->Name("latency/cached_hit_async")->UseRealTime();

// 64 coroutines on one io_context of the benchmark's thread, all hitting through one backend.
void cached_hit_async_throughput(benchmark::State& state) {
  try {
    auto& b = backend();
    const cachet::stats before = b.get_value.stats();
    for (auto _ : state) {
      asio::io_context io{1};
      std::exception_ptr failure;
      for (int i = 0; i < coroutines; ++i) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
              for (int n = 0; n < calls_per_coroutine; ++n) {
                std::string v = co_await b.get_value.async(42);
                benchmark::DoNotOptimize(v);
              }
            },
            [&](std::exception_ptr e) {
              if (e && !failure) failure = e;
            });
      }
      io.run();
      if (failure) std::rethrow_exception(failure);
    }
    require_hits_only(state, before, b.get_value.stats());
  } catch (const std::exception& e) {
    fail(state, e);
    return;
  }
  state.SetItemsProcessed(state.iterations() * coroutines * calls_per_coroutine);
}
BENCHMARK(cached_hit_async_throughput)->Name("throughput/cached_hit_async_64")->UseRealTime();

// The same backend given the application's io_context (redis_options::async_context): its
// coroutines there talk to Redis on a connection living on that io_context, on the benchmark's
// thread, with no hop to the backend's I/O thread. The connection keeps the io_context busy, so
// run() runs until the last coroutine stops it.
struct app_context_rig {
  asio::io_context io{1};
  cachet::redis backend{bench_config(), {.key_prefix = prefix(), .async_context = &io}};
  cached_value get_value{backend};

  app_context_rig() { get_value(42); }

  // Runs `copies` coroutines of `body` to completion on the benchmark's thread.
  template <class Body>
  void run(int copies, Body body) {
    std::exception_ptr failure;
    int running = copies;
    io.restart();
    for (int i = 0; i < copies; ++i) {
      asio::co_spawn(io, body, [&](std::exception_ptr e) {
        if (e && !failure) failure = e;
        if (--running == 0) io.stop();
      });
    }
    io.run();
    if (failure) std::rethrow_exception(failure);
  }
};

app_context_rig& app_backend() {
  static app_context_rig r;
  return r;
}

// One caller, a coroutine on the io_context the backend was given: co_await get_value.async().
void cached_hit_app_context_latency(benchmark::State& state) {
  latency_benchmark(state, [&](std::vector<double>& us) {
    auto& b = app_backend();
    const cachet::stats before = b.get_value.stats();
    b.run(1, [&]() -> asio::awaitable<void> {
      for (auto _ : state) {
        const auto start = bench_clock::now();
        std::string v = co_await b.get_value.async(42);
        record_since(us, start);
        benchmark::DoNotOptimize(v);
      }
    });
    require_hits_only(state, before, b.get_value.stats());
  });
}
BENCHMARK(cached_hit_app_context_latency)
    ->Name("latency/cached_hit_async_app_context")
    ->UseRealTime();

// 64 coroutines on the io_context the backend was given, all hitting through it.
void cached_hit_app_context_throughput(benchmark::State& state) {
  try {
    auto& b = app_backend();
    const cachet::stats before = b.get_value.stats();
    for (auto _ : state) {
      b.run(coroutines, [&]() -> asio::awaitable<void> {
        for (int n = 0; n < calls_per_coroutine; ++n) {
          std::string v = co_await b.get_value.async(42);
          benchmark::DoNotOptimize(v);
        }
      });
    }
    require_hits_only(state, before, b.get_value.stats());
  } catch (const std::exception& e) {
    fail(state, e);
    return;
  }
  state.SetItemsProcessed(state.iterations() * coroutines * calls_per_coroutine);
}
BENCHMARK(cached_hit_app_context_throughput)
    ->Name("throughput/cached_hit_async_app_context_64")
    ->UseRealTime();

// Degraded mode: Redis unreachable and the backend's breaker open, so a cached call skips Redis
// and calls the function. What that adds is a fixed cost per call; what it is worth is its ratio
// to the function, so the same cached call is measured over a ladder of functions, from one that
// only builds its 64-character result (like load_value) to one that costs about a loopback Redis
// round trip, each against the same function called directly, in the same run. A rung's work is
// `Steps` dependent multiply-adds that the optimiser must keep (DoNotOptimize on each).
template <int Steps>
std::string work(int id) {
  auto h = static_cast<std::uint64_t>(id);
  for (int i = 0; i < Steps; ++i) {
    h = h * 6364136223846793005u + 1442695040888963407u;
    benchmark::DoNotOptimize(h);
  }
  return std::string(64, static_cast<char>('a' + h % 26));
}

template <int Steps, cachet::detail::fixed_string Key>
using cached_work = cachet::cached<&work<Steps>, cachet::ttl<300>, cachet::key<Key>,
                                   cachet::backend<cachet::redis>>;

// A port that was free a moment ago: nothing answers there.
cachet::redis::config unreachable_config() {
  cachet::redis::config cfg;
  cfg.host = "127.0.0.1";
  cfg.port = cachet_test::detail::free_loopback_port();
  cfg.request_timeout = std::chrono::milliseconds(100);
  return cfg;
}

struct degraded_rig {
  cachet::redis backend{
      unreachable_config(),
      {.key_prefix = prefix(),
       .breaker = {.consecutive_failures = 1, .cooldown = std::chrono::hours(1)}}};
  cached_work<0, "w0:{}"> work_0{backend};
  cached_work<80, "w80:{}"> work_80{backend};
  cached_work<250, "w250:{}"> work_250{backend};
  cached_work<900, "w900:{}"> work_900{backend};
  cached_work<2500, "w2500:{}"> work_2500{backend};
  cached_work<20000, "w20000:{}"> work_20000{backend};

  degraded_rig() {
    work_0(42);  // waits for its deadline once, which opens the breaker for the whole run
    if (backend.backend_state() != cachet::circuit_state::open)
      throw std::runtime_error("redis_bench: the breaker of the unreachable backend is not open");
  }
};

degraded_rig& degraded() {
  static degraded_rig r;
  return r;
}

// Fails the benchmark unless every call since `before` skipped Redis and computed its result.
void require_skipped(benchmark::State& state, const cachet::stats& before,
                     const cachet::stats& after) {
  const auto calls = static_cast<std::uint64_t>(state.iterations());
  if (after.backend_skipped - before.backend_skipped != calls ||
      after.loads - before.loads != calls || after.backend_errors != before.backend_errors)
    state.SkipWithError("redis_bench: a degraded call did not skip Redis");
}

template <int Steps>
void direct_call(benchmark::State& state) {
  int id = 0;
  for (auto _ : state) {
    std::string v = work<Steps>(++id % 1024);
    benchmark::DoNotOptimize(v);
  }
}

template <auto Member>
void degraded_call(benchmark::State& state) {
  try {
    auto& cached = degraded().*Member;
    const cachet::stats before = cached.stats();
    int id = 0;
    for (auto _ : state) {
      std::string v = cached(++id % 1024);
      benchmark::DoNotOptimize(v);
    }
    require_skipped(state, before, cached.stats());
  } catch (const std::exception& e) {
    fail(state, e);
  }
}

// CPU time (the default): nothing here waits, and on a shared machine the wall clock also counts
// the time other processes take. Named degraded/{direct,cached}/<steps> for bench/run_redis.sh.
BENCHMARK(direct_call<0>)->Name("degraded/direct/0");
BENCHMARK(degraded_call<&degraded_rig::work_0>)->Name("degraded/cached/0");
BENCHMARK(direct_call<80>)->Name("degraded/direct/80");
BENCHMARK(degraded_call<&degraded_rig::work_80>)->Name("degraded/cached/80");
BENCHMARK(direct_call<250>)->Name("degraded/direct/250");
BENCHMARK(degraded_call<&degraded_rig::work_250>)->Name("degraded/cached/250");
BENCHMARK(direct_call<900>)->Name("degraded/direct/900");
BENCHMARK(degraded_call<&degraded_rig::work_900>)->Name("degraded/cached/900");
BENCHMARK(direct_call<2500>)->Name("degraded/direct/2500");
BENCHMARK(degraded_call<&degraded_rig::work_2500>)->Name("degraded/cached/2500");
BENCHMARK(direct_call<20000>)->Name("degraded/direct/20000");
BENCHMARK(degraded_call<&degraded_rig::work_20000>)->Name("degraded/cached/20000");

}  // namespace
