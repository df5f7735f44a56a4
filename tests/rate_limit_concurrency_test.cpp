#include <cachet.hpp>
#include <cachet/rate_limit.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "support/run_together.hpp"

namespace {

using cachet_test::run_together;
using namespace std::chrono_literals;

constexpr int thread_count = 8;
constexpr int attempts_per_thread = 5000;

TEST(rate_limit_concurrency, threads_hammering_one_key_get_exactly_the_limit) {
  constexpr std::uint64_t limit = 1000;
  cachet::manual_clock clock;
  cachet::rate_limiter limiter(limit, 60s, &clock);
  std::atomic<std::uint64_t> admitted{0};
  run_together(thread_count, [&](int) {
    for (int i = 0; i < attempts_per_thread; ++i) {
      if (limiter.try_acquire("hot")) admitted.fetch_add(1);
    }
  });
  EXPECT_EQ(admitted.load(), limit);
}

TEST(rate_limit_concurrency, exact_per_key_while_time_moves_and_keys_come_and_go) {
  constexpr std::uint64_t limit = 50;
  constexpr int rounds = 4;
  cachet::manual_clock clock;
  cachet::rate_limiter limiter(limit, 10s, &clock);
  for (int round = 0; round < rounds; ++round) {
    std::atomic<std::uint64_t> hot{0};
    std::atomic<std::uint64_t> cold{0};
    run_together(thread_count, [&](int t) {
      for (int i = 0; i < attempts_per_thread; ++i) {
        if (limiter.try_acquire("hot")) hot.fetch_add(1);
        // Fresh keys make shards sweep while others read them.
        const std::string key =
            "r" + std::to_string(round) + "t" + std::to_string(t) + "i" + std::to_string(i);
        if (limiter.try_acquire(key)) cold.fetch_add(1);
      }
    });
    EXPECT_EQ(hot.load(), limit) << "round " << round;
    EXPECT_EQ(cold.load(), std::uint64_t{thread_count} * attempts_per_thread) << "round " << round;
    clock.advance(10s);  // every bucket refills
  }
}

int work(int user) { return user; }

TEST(rate_limit_concurrency, the_policy_admits_exactly_the_limit_across_threads) {
  constexpr std::uint64_t limit = 300;
  cachet::manual_clock clock;
  cachet::memory backend{clock};
  cachet::cached<&work, cachet::rate_limit<limit, cachet::per<60>, cachet::by<"{}">>> limited{
      backend, cachet::options{.clock = &clock}};
  std::atomic<std::uint64_t> admitted{0};
  std::atomic<std::uint64_t> refused{0};
  run_together(thread_count, [&](int) {
    for (int i = 0; i < 200; ++i) {
      try {
        limited(i % 2);  // two users, each with its own limit
        admitted.fetch_add(1);
      } catch (const cachet::rate_limited&) {
        refused.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(admitted.load(), 2 * limit);
  EXPECT_EQ(admitted.load() + refused.load(), std::uint64_t{thread_count} * 200);
}

}  // namespace
