#include <cachet.hpp>
#include <cachet/jitter.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

namespace {

using namespace std::chrono_literals;

class jitter_test : public ::testing::Test {
 protected:
  template <class... Policies>
  auto make() {
    return cachet::make_cached<Policies...>(
        [this](int id) {
          ++calls;
          return id;
        },
        backend, cachet::options{.clock = &clock});
  }
  cachet::manual_clock clock;
  cachet::memory backend{clock};
  int calls = 0;
};

// Entries written at one instant, then time moved in steps of 1 s over the window and beyond:
// the second at which each entry stopped being fresh.
template <class Cached>
std::vector<std::int64_t> expiry_seconds(Cached& c, cachet::manual_clock& clock, int n,
                                         std::int64_t last_second) {
  for (int i = 0; i < n; ++i) c(i);
  std::vector<std::optional<std::int64_t>> gone(static_cast<std::size_t>(n));
  for (std::int64_t second = 1; second <= last_second; ++second) {
    clock.advance(1s);
    for (int i = 0; i < n; ++i) {
      auto& g = gone[static_cast<std::size_t>(i)];
      if (!g && !c.peek(i)) g = second;
    }
  }
  std::vector<std::int64_t> out;
  for (const auto& g : gone) out.push_back(g.value_or(-1));
  return out;
}

TEST_F(jitter_test, entries_written_together_expire_spread_over_the_window) {
  // ttl 100 s, ±10%: every entry expires within (90 s, 110 s], at many different seconds.
  auto c = make<cachet::ttl<100>, cachet::jitter<10>>();
  const int n = 400;
  const std::vector<std::int64_t> gone = expiry_seconds(c, clock, n, 130);
  std::set<std::int64_t> distinct;
  for (const std::int64_t s : gone) {
    EXPECT_GE(s, 90);  // fresh strictly before 90 s
    EXPECT_LE(s, 110);
    distinct.insert(s);
  }
  // 400 draws over 20 one-second buckets: fewer than 10 distinct seconds would mean the draws
  // are not spread (the chance of it by luck is far below 1e-30).
  EXPECT_GE(distinct.size(), 10u);
  // Some expire in each half of the window: the draw is two-sided.
  EXPECT_LT(*distinct.begin(), 100);
  EXPECT_GT(*distinct.rbegin(), 100);
  EXPECT_EQ(calls, n);
}

TEST_F(jitter_test, without_jitter_entries_written_together_expire_together) {
  auto c = make<cachet::ttl<100>>();
  const std::vector<std::int64_t> gone = expiry_seconds(c, clock, 50, 130);
  for (const std::int64_t s : gone) EXPECT_EQ(s, 100);
}

TEST_F(jitter_test, every_write_draws_its_own_ttl) {
  // The same key rewritten after each expiry: its lifetimes differ from write to write.
  auto c = make<cachet::ttl<100>, cachet::jitter<20>>();
  std::set<std::int64_t> lifetimes;
  for (int round = 0; round < 40; ++round) {
    c(1);
    std::int64_t second = 0;
    while (c.peek(1)) {
      clock.advance(1s);
      ++second;
    }
    EXPECT_GE(second, 80);
    EXPECT_LE(second, 120);
    lifetimes.insert(second);
  }
  EXPECT_GE(lifetimes.size(), 5u);
  EXPECT_EQ(calls, 40);
}

TEST_F(jitter_test, options_ttl_is_jittered_too) {
  auto c = cachet::make_cached<cachet::ttl<100>, cachet::jitter<50>>(
      [](int id) { return id; }, backend, cachet::options{.ttl = 10s, .clock = &clock});
  const std::vector<std::int64_t> gone = expiry_seconds(c, clock, 200, 30);
  std::set<std::int64_t> distinct(gone.begin(), gone.end());
  EXPECT_GE(*distinct.begin(), 5);
  EXPECT_LE(*distinct.rbegin(), 15);
  EXPECT_GE(distinct.size(), 5u);
}

TEST(jittered_ttl, stays_in_its_window_and_never_reaches_zero) {
  using cachet::detail::jittered_ttl;
  const std::chrono::nanoseconds ttl = 1000ns;
  std::set<std::int64_t> seen;
  for (int i = 0; i < 10000; ++i) {
    const auto t = jittered_ttl(ttl, 10);
    ASSERT_GE(t, 900ns);
    ASSERT_LE(t, 1100ns);
    seen.insert(t.count());
  }
  EXPECT_GT(seen.size(), 100u);
  EXPECT_EQ(jittered_ttl(0ns, 10), 0ns);  // never expires stays so
  EXPECT_EQ(jittered_ttl(ttl, 0), ttl);
  EXPECT_GE(jittered_ttl(1ns, 99), 1ns);
  // The longest ttl: no overflow at the bounds.
  const std::chrono::nanoseconds longest = cachet::max_ttl;
  for (int i = 0; i < 1000; ++i) {
    const auto t = jittered_ttl(longest, 99);
    ASSERT_GE(t, longest / 100);
    ASSERT_LE(t, longest + longest / 100 * 99);
  }
}

TEST(jittered_ttl, the_front_tier_never_outlives_the_shortest_write_behind_it) {
  using cachet::detail::front_tier_ttl;
  using cachet::detail::longest_jittered_ttl;
  for (const unsigned p : {1u, 10u, 33u, 50u, 99u}) {
    for (const std::chrono::nanoseconds ttl :
         {std::chrono::nanoseconds(1s), std::chrono::nanoseconds(300s),
          std::chrono::nanoseconds(1234567891ns), std::chrono::nanoseconds(cachet::max_ttl)}) {
      const std::int64_t t = ttl.count();
      const std::int64_t shortest = t - (t / 100 * p + t % 100 * p / 100);
      const auto front = front_tier_ttl(ttl, p);
      EXPECT_LE(longest_jittered_ttl(front, p).count(), shortest) << p << " " << t;
      EXPECT_GT(front.count(), 0);
    }
  }
  EXPECT_EQ(front_tier_ttl(300s, 0), 300s);
}

}  // namespace
