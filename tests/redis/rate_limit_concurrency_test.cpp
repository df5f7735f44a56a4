// cachet::redis_rate_limiter from many threads and coroutines at once: exact counts.

#include <cachet/redis.hpp>
#include <cachet/redis/rate_limiter.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

constexpr std::uint64_t limit = 50;
constexpr auto period = 1h;  // longer than the test runs: keys expire in the server's time
constexpr int thread_count = 4;
constexpr int attempts_per_thread = 40;

std::unique_ptr<cachet::redis> make_backend() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto cfg = cachet::redis::config::from_url(cachet_test::shared_redis_url());
  cfg.request_timeout = 10s;  // sanitizers slow everything down; a late check is not the point
  return std::make_unique<cachet::redis>(
      cfg, cachet::redis_options{.key_prefix = "cachet-test-" + std::to_string(::getpid()) + "-" +
                                               info->name()});
}

TEST(redis_rate_limit_concurrency, threads_share_one_limit_exactly) {
  auto backend = make_backend();
  cachet::manual_clock clock;
  cachet::redis::rate_limiter limiter{*backend, "api", limit, period, {.clock = &clock}};
  std::atomic<std::uint64_t> admitted{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&] {
      ready.fetch_add(1);
      while (ready.load() < thread_count) std::this_thread::yield();
      for (int i = 0; i < attempts_per_thread; ++i) {
        if (limiter.try_acquire("hot")) admitted.fetch_add(1);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(admitted.load(), limit);
  EXPECT_EQ(limiter.fallbacks(), 0u);
}

// Coroutines on a thread of their own, pipelined on the backend's one connection, while a
// blocking caller competes for the same key.
TEST(redis_rate_limit_concurrency, coroutines_and_a_blocking_caller_share_one_limit_exactly) {
  auto backend = make_backend();
  cachet::manual_clock clock;
  cachet::redis::rate_limiter limiter{*backend, "api", limit, period, {.clock = &clock}};
  std::atomic<std::uint64_t> admitted{0};
  asio::io_context io;
  std::exception_ptr failure;
  for (int c = 0; c < 16; ++c) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 10; ++i) {
            if (co_await limiter.async_try_acquire("hot")) admitted.fetch_add(1);
          }
        },
        [&](std::exception_ptr e) {
          if (e) failure = e;
        });
  }
  std::thread coroutines([&] { io.run(); });
  for (int i = 0; i < attempts_per_thread; ++i) {
    if (limiter.try_acquire("hot")) admitted.fetch_add(1);
  }
  coroutines.join();
  EXPECT_FALSE(failure);
  EXPECT_EQ(admitted.load(), limit);
  EXPECT_EQ(limiter.fallbacks(), 0u);
}

}  // namespace
