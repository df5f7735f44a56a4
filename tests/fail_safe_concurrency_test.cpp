#include <cachet.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

// Every thread calls an expired key whose function now fails: each call gets the last good value,
// never an exception and never another key's value, and each is counted once.
TEST(fail_safe_concurrency, every_failed_call_is_answered_with_its_own_stale_value) {
  cachet::manual_clock clock;
  cachet::memory backend{clock};
  std::atomic<bool> down{false};
  std::atomic<int> calls{0};
  auto price = cachet::make_cached<cachet::ttl<30>, cachet::fail_safe<3600>>(
      [&](int id) {
        ++calls;
        if (down.load()) throw std::runtime_error("down");
        return id * 10;
      },
      backend, cachet::options{.clock = &clock});
  constexpr int keys = 16;
  for (int k = 0; k < keys; ++k) ASSERT_EQ(price(k), k * 10);
  clock.advance(31s);
  down = true;

  constexpr int threads = 4;
  constexpr int rounds = 200;
  std::atomic<int> wrong{0};
  std::atomic<int> thrown{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        const int k = (i + t) % keys;
        try {
          if (price(k) != k * 10) ++wrong;
        } catch (...) {
          ++thrown;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(thrown.load(), 0);
  const cachet::stats s = price.stats();
  EXPECT_EQ(s.stale_served, std::uint64_t{threads * rounds});
  EXPECT_EQ(s.misses, std::uint64_t{keys + threads * rounds});
  // Waiters share a leader's failure, so the function ran at most once per call.
  EXPECT_EQ(s.load_errors + keys, static_cast<std::uint64_t>(calls.load()));
  EXPECT_LE(s.load_errors, std::uint64_t{threads * rounds});
}

}  // namespace
