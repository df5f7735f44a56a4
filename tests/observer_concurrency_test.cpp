// Observer events under concurrent calls: every call is reported exactly once, and the counts
// equal the store's stats().

#include <cachet.hpp>

#include "support/run_together.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace {

std::atomic<int> loads{0};
int square(int x) {
  ++loads;
  return x * x;
}

struct counting {
  std::atomic<int> hits{0}, misses{0}, loads{0};
  void on_hit(const cachet::event&) { ++hits; }
  void on_miss(const cachet::event&) { ++misses; }
  void on_load(const cachet::event&) { ++loads; }
};

TEST(observer_concurrency, concurrent_calls_report_exactly_what_stats_count) {
  cachet::memory backend;
  cachet::cached<&square, cachet::observer<counting>> sq{backend};
  constexpr int threads = 8;
  constexpr int calls = 2000;
  cachet_test::run_together(threads, [&](int t) {
    for (int i = 0; i < calls; ++i) sq((i + t) % 50);
  });
  const cachet::stats s = sq.stats();
  const counting& o = sq.observer();
  EXPECT_EQ(o.hits.load() + o.misses.load(), threads * calls);
  EXPECT_EQ(static_cast<std::uint64_t>(o.hits.load()), s.hits);
  EXPECT_EQ(static_cast<std::uint64_t>(o.misses.load()), s.misses);
  EXPECT_EQ(static_cast<std::uint64_t>(o.loads.load()), s.loads);
  EXPECT_EQ(o.loads.load(), 50);
}

// Calls that wait for another call's load of the same key are misses, not hits, as stats() says.
constexpr int joining_threads = 6;
std::atomic<int> misses_seen{0};

struct counting_misses_first : counting {
  void on_miss(const cachet::event& e) {
    counting::on_miss(e);
    ++misses_seen;
  }
};

// Loads once every caller has missed: each is told of its miss before it waits for this load.
int square_once_all_missed(int x) {
  while (misses_seen.load() < joining_threads) std::this_thread::yield();
  return x * x;
}

TEST(observer_concurrency, calls_joining_a_load_are_reported_as_misses) {
  cachet::memory backend;
  cachet::cached<&square_once_all_missed, cachet::observer<counting_misses_first>> sq{backend};
  std::atomic<int> right{0};
  cachet_test::run_together(joining_threads, [&](int) { right += sq(7) == 49; });
  EXPECT_EQ(right.load(), joining_threads);
  EXPECT_EQ(sq.observer().misses.load(), joining_threads);
  EXPECT_EQ(sq.observer().hits.load(), 0);
  EXPECT_EQ(sq.observer().loads.load(), 1);
  EXPECT_EQ(sq.stats().misses, static_cast<std::uint64_t>(joining_threads));
}

}  // namespace
