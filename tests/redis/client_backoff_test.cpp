// The reconnect delay schedule (no server needed).

#include <cachet/detail/resilience/backoff.hpp>

#include <gtest/gtest.h>

#include <chrono>

namespace {

using cachet::detail::backoff_schedule;
using std::chrono::milliseconds;

TEST(RedisBackoff, CeilingDoublesUpToTheCapAndDrawsStayUnderIt) {
  backoff_schedule b(milliseconds(10), milliseconds(100));
  const milliseconds expected_ceilings[] = {milliseconds(10), milliseconds(20),  milliseconds(40),
                                            milliseconds(80), milliseconds(100), milliseconds(100)};
  for (auto ceiling : expected_ceilings) {
    EXPECT_EQ(b.ceiling(), ceiling);
    auto d = b.next();
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d, ceiling);
  }
}

TEST(RedisBackoff, ResetStartsOverAndManyAttemptsNeverOverflow) {
  backoff_schedule b(milliseconds(50), milliseconds(2000));
  for (int i = 0; i < 1000; ++i) EXPECT_LE(b.next(), milliseconds(2000));
  EXPECT_EQ(b.ceiling(), milliseconds(2000));
  b.reset();
  EXPECT_EQ(b.ceiling(), milliseconds(50));
}

TEST(RedisBackoff, FullJitterSpreadsTheDelays) {
  // Full jitter draws uniformly in [0, ceiling]: over many draws at the cap both halves occur.
  backoff_schedule b(milliseconds(1000), milliseconds(1000));
  int low = 0, high = 0;
  for (int i = 0; i < 200; ++i) (b.next() < milliseconds(500) ? low : high)++;
  EXPECT_GT(low, 0);
  EXPECT_GT(high, 0);
}

TEST(RedisBackoff, DegenerateLimitsAreClamped) {
  backoff_schedule b(milliseconds(0), milliseconds(0));
  EXPECT_EQ(b.ceiling(), milliseconds(1));
  EXPECT_LE(b.next(), milliseconds(1));
}

}  // namespace
