// Heap allocations per Redis request (issue #11: at most 5 per pipelined request), counted with a
// replaced global operator new and an interposed std::aligned_alloc (Boost.Asio's frames). The
// counter allocs_per_call is what one call costs in the steady state: the benchmark's own loop
// allocates nothing, so everything counted is the call's.
//
// The server: CACHET_BENCH_REDIS_URL when set, else the CTest fixture's, else a private
// redis-server (tests/support/redis_server.hpp).

#include <cachet/redis.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>

#include "../tests/support/redis_server.hpp"

namespace {
std::atomic<std::size_t> allocations{0};       // operator new
std::atomic<std::size_t> asio_allocations{0};  // std::aligned_alloc

void* counted_allocation(std::size_t size, std::size_t alignment) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = alignment <= alignof(std::max_align_t) ? std::malloc(size == 0 ? 1 : size)
                                                   : ::memalign(alignment, size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

// Boost.Asio allocates coroutine frames and handler memory with std::aligned_alloc, not through
// operator new (its recycling allocator keeps a few blocks per thread, then allocates): counted
// too.
extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  asio_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = nullptr;
  return ::posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, size) == 0
             ? p
             : nullptr;
}

void* operator new(std::size_t size) { return counted_allocation(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) {
  return counted_allocation(size, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

namespace asio = boost::asio;

constexpr int coroutines = 64;
constexpr int calls_per_coroutine = 100;

std::string server_url() {
  if (const char* url = std::getenv("CACHET_BENCH_REDIS_URL"); url != nullptr && *url != '\0')
    return url;
  return cachet_test::shared_redis_url();
}

const std::string& prefix() {
  static const std::string p = "cachet-alloc-bench-" + std::to_string(::getpid());
  return p;
}

cachet::redis::config bench_config() {
  auto cfg = cachet::redis::config::from_url(server_url());
  cfg.request_timeout = std::chrono::milliseconds(5000);
  return cfg;
}

struct allocation_counts {
  std::size_t by_new = allocations.load(std::memory_order_relaxed);
  std::size_t by_asio = asio_allocations.load(std::memory_order_relaxed);
};

// allocs_per_call counts both kinds; new_per_call and asio_per_call split them.
void report(benchmark::State& state, const allocation_counts& before, std::size_t calls) {
  const allocation_counts after;
  const double n = static_cast<double>(calls == 0 ? 1 : calls);
  const auto by_new = static_cast<double>(after.by_new - before.by_new);
  const auto by_asio = static_cast<double>(after.by_asio - before.by_asio);
  state.counters["allocs_per_call"] = (by_new + by_asio) / n;
  state.counters["new_per_call"] = by_new / n;
  state.counters["asio_per_call"] = by_asio / n;
}

// 64 coroutines on one client and one io_context (the benchmark's thread), each awaiting GETs of
// a 100-byte value: the client coalesces what they queue into one write.
void client_get_pipelined(benchmark::State& state) {
  try {
    asio::io_context io{1};
    cachet::redis::client client{io.get_executor(), bench_config()};
    const std::string key = prefix() + ":raw";
    auto run = [&](auto body) {
      std::exception_ptr failure;
      io.restart();
      asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
        failure = e;
        io.stop();
      });
      io.run();
      if (failure) std::rethrow_exception(failure);
    };
    run([&]() -> asio::awaitable<void> {
      co_await client.exec("SET", key, std::string(100, 'x'), "PX", 600000);
    });
    auto round = [&]() -> asio::awaitable<void> {
      auto ex = co_await asio::this_coro::executor;
      int running = coroutines;
      asio::steady_timer all_done(ex, std::chrono::steady_clock::time_point::max());
      for (int i = 0; i < coroutines; ++i) {
        asio::co_spawn(
            ex,
            [&]() -> asio::awaitable<void> {
              for (int n = 0; n < calls_per_coroutine; ++n) {
                cachet::redis::value v = co_await client.exec("GET", key);
                benchmark::DoNotOptimize(v);
              }
            },
            [&](std::exception_ptr) {
              if (--running == 0) all_done.cancel();
            });
      }
      boost::system::error_code ignored;
      co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    };
    run(round);  // warms up buffers and the recycling allocators
    const allocation_counts before;
    for (auto _ : state) run(round);
    // Starting the 64 coroutines is the round's own work, spread over its 6,400 calls.
    report(state, before,
           static_cast<std::size_t>(state.iterations()) * coroutines * calls_per_coroutine);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(client_get_pipelined)->Name("allocations/client_get_64_coroutines")->UseRealTime();

std::string load_value(int id) { return std::string(64, static_cast<char>('a' + id % 26)); }

using cached_value = cachet::cached<&load_value, cachet::ttl<300>, cachet::key<"alloc:{}">,
                                    cachet::backend<cachet::redis>>;

// One blocking caller, every call a hit through the Redis backend.
void cached_hit_blocking(benchmark::State& state) {
  try {
    cachet::redis backend{bench_config(), {.key_prefix = prefix()}};
    cached_value get_value{backend};
    get_value(42);
    get_value(42);
    const allocation_counts before;
    for (auto _ : state) {
      std::string v = get_value(42);
      benchmark::DoNotOptimize(v);
    }
    report(state, before, static_cast<std::size_t>(state.iterations()));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(cached_hit_blocking)->Name("allocations/cached_hit_blocking")->UseRealTime();

// 64 coroutines on the application's io_context, which the backend was given
// (redis_options::async_context), every call a hit: co_await get_value.async(42).
void cached_hit_async_app_context(benchmark::State& state) {
  try {
    asio::io_context io{1};
    cachet::redis backend{bench_config(), {.key_prefix = prefix(), .async_context = &io}};
    cached_value get_value{backend};
    get_value(42);
    std::exception_ptr failure;
    auto round = [&] {
      int running = coroutines;
      io.restart();
      for (int i = 0; i < coroutines; ++i) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
              for (int n = 0; n < calls_per_coroutine; ++n) {
                std::string v = co_await get_value.async(42);
                benchmark::DoNotOptimize(v);
              }
            },
            [&](std::exception_ptr e) {
              if (e && !failure) failure = e;
              if (--running == 0) io.stop();
            });
      }
      io.run();  // the backend's connection keeps it busy: the last coroutine stops it
      if (failure) std::rethrow_exception(failure);
    };
    round();  // connects, warms up buffers and the recycling allocators
    const allocation_counts before;
    for (auto _ : state) round();
    report(state, before,
           static_cast<std::size_t>(state.iterations()) * coroutines * calls_per_coroutine);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(cached_hit_async_app_context)
    ->Name("allocations/cached_hit_async_app_context_64")
    ->UseRealTime();

}  // namespace
