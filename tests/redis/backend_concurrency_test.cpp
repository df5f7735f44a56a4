// Single flight of the Redis backend: concurrent misses on one key in this process compute once.

#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

constexpr std::size_t callers = 8;

std::string test_name() {
  return "cachet-test-" + std::to_string(::getpid()) + "-" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

std::unique_ptr<cachet::redis> make_backend() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto cfg = cachet::redis::config::from_url(cachet_test::shared_redis_url());
  cfg.health_check_interval = 0ms;
  cfg.client_name = test_name();
  return std::make_unique<cachet::redis>(
      cfg, cachet::redis_options{.key_prefix = "cachet-test-" + std::to_string(::getpid()) + "-" +
                                               info->name()});
}

}  // namespace

namespace app {

std::atomic<int> slow_loads{0};
std::function<cachet::stats()> current_stats;

// Returns only once every caller has missed, so that all of them meet the one computation.
int slow_square(int x) {
  EXPECT_TRUE(cachet_test::wait_until([] { return current_stats().misses >= callers; }))
      << "the callers never all missed";
  ++slow_loads;
  return x * x;
}

int cube(int x) { return x * x * x; }

}  // namespace app

namespace {

TEST(RedisBackendConcurrency, ThreadsMissingOneKeyComputeOnce) {
  auto backend = make_backend();
  cachet::cached<&app::slow_square, cachet::key<"sq:{}">, cachet::backend<cachet::redis>> f{
      *backend};
  app::current_stats = [&] { return f.stats(); };
  app::slow_loads = 0;

  std::vector<int> results(callers);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < callers; ++i) {
    threads.emplace_back([&, i] { results[i] = f(9); });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(results, std::vector<int>(callers, 81));
  EXPECT_EQ(app::slow_loads.load(), 1);
  const cachet::stats s = f.stats();
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.misses, callers);
  EXPECT_EQ(s.hits, 0u);
  EXPECT_EQ(f(9), 81);
  EXPECT_EQ(f.stats().hits, 1u);
}

TEST(RedisBackendConcurrency, CoroutinesMissingOneKeyComputeOnce) {
  auto backend = make_backend();
  cachet::redis::store<int, 1> s{
      *backend, {.name = "co_square", .ttl = {}, .capacity = 0, .has_key_template = true}};
  asio::io_context io;
  int loads = 0;
  std::vector<int> results;
  const std::string key = "sq:7";
  const std::vector<std::string> tags{"squares"};
  auto caller = [&]() -> asio::awaitable<void> {
    results.push_back(co_await s.async_get_or_load(key, tags, [&]() -> asio::awaitable<int> {
      asio::steady_timer t(co_await asio::this_coro::executor);
      while (s.stats().misses < callers) {  // let every caller reach the flight
        t.expires_after(1ms);
        co_await t.async_wait(asio::use_awaitable);
      }
      ++loads;
      co_return 49;
    }));
  };
  std::exception_ptr failure;
  for (std::size_t i = 0; i < callers; ++i) {
    asio::co_spawn(io, caller(), [&](std::exception_ptr e) {
      if (e) failure = e;
    });
  }
  io.run_for(20s);
  if (failure) std::rethrow_exception(failure);

  EXPECT_EQ(results, std::vector<int>(callers, 49));
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(s.stats().loads, 1u);
  EXPECT_EQ(s.stats().misses, callers);
}

// Blocking callers and coroutines meet in one flight too, and its failure reaches all of them.
TEST(RedisBackendConcurrency, AFailedComputationReachesEveryWaiter) {
  auto backend = make_backend();
  cachet::redis::store<int, 0> s{
      *backend, {.name = "failing", .ttl = {}, .capacity = 0, .has_key_template = true}};
  const std::string key = "f:1";
  auto load = [&](auto&&...) -> int {
    EXPECT_TRUE(cachet_test::wait_until([&] { return s.stats().misses >= callers; }))
        << "the callers never all missed";
    throw std::runtime_error("no");
  };
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i + 1 < callers; ++i) {
    threads.emplace_back([&] {
      try {
        s.get_or_load(
            key, [](auto&&) {}, load);
      } catch (const std::runtime_error&) {
        ++failures;
      }
    });
  }
  asio::io_context io;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await s.async_get_or_load(key, {}, [&] { return load(); });
        } catch (const std::runtime_error&) {
          ++failures;
        }
      },
      asio::detached);
  io.run();
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), static_cast<int>(callers));
  EXPECT_EQ(s.stats().load_errors, 1u);
  EXPECT_EQ(s.stats().loads, 0u);
}

// The server's connections named after this test: the backend's own and its callers' lanes.
std::size_t connections_of_this_test() {
  const std::string list =
      cachet_test::raw_command(cachet_test::shared_redis_url(), "CLIENT", "LIST").as_string();
  const std::string name = "name=" + test_name() + " ";
  std::size_t n = 0;
  for (auto at = list.find(name); at != std::string::npos; at = list.find(name, at + 1)) ++n;
  return n;
}

// A blocking call drives a connection of its own on its thread (no hop to the I/O thread): one
// thread calling again and again reuses one; threads calling at once take one each, and every
// call of every thread is served.
TEST(RedisBackendConcurrency, BlockingCallersDriveConnectionsOfTheirOwn) {
  auto backend = make_backend();
  cachet::cached<&app::cube, cachet::key<"cube:{}">, cachet::backend<cachet::redis>> f{*backend};
  ASSERT_TRUE(backend->health().ready());  // the I/O thread's connection is up
  for (int x = 0; x < 10; ++x) EXPECT_EQ(f(x), x * x * x);
  EXPECT_EQ(connections_of_this_test(), 2u);

  constexpr int calls = 200;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < callers; ++i) {
    threads.emplace_back([&] {
      for (int n = 0; n < calls; ++n) {
        if (f(n % 10) != (n % 10) * (n % 10) * (n % 10)) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(f.stats().hits, callers * calls);
  EXPECT_EQ(f.stats().misses, 10u);
  const std::size_t connections = connections_of_this_test();
  EXPECT_GE(connections, 2u);
  EXPECT_LE(connections, 1 + callers);
}

}  // namespace
