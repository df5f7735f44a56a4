#ifndef CACHET_TESTS_SUPPORT_RATE_LIMITER_DECISIONS_HPP
#define CACHET_TESTS_SUPPORT_RATE_LIMITER_DECISIONS_HPP

// The decisions every rate limiter makes, whatever keeps its state: one typed test suite that
// tests/rate_limit_test.cpp instantiates for cachet::rate_limiter and
// tests/redis/rate_limit_test.cpp for cachet::redis::rate_limiter.
//
// Its type parameter, the owner, is constructed from a manual clock and holds `limiter`,
// limiting decisions::limit calls per decisions::period and reading that clock.

#include <cachet/clock.hpp>
#include <cachet/rate_limit.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string_view>

namespace cachet_test {

namespace decisions {
using namespace std::chrono_literals;
inline constexpr std::uint64_t limit = 5;
// Redis keys expire in the server's time: a period far longer than a test runs keeps a test
// with a manual clock from seeing its state vanish.
inline constexpr auto period = 1h;
inline constexpr cachet::clock::duration interval =
    std::chrono::duration_cast<cachet::clock::duration>(period) / limit;
}  // namespace decisions

template <class Limiter>
int admitted_count(Limiter& limiter, std::string_view key, int attempts) {
  int admitted = 0;
  for (int i = 0; i < attempts; ++i) admitted += limiter.try_acquire(key).allowed ? 1 : 0;
  return admitted;
}

template <class Owner>
class rate_limiter_decisions : public ::testing::Test {
 protected:
  cachet::manual_clock clock;
  Owner owner{clock};
  decltype(owner.limiter)& limiter = owner.limiter;
};

TYPED_TEST_SUITE_P(rate_limiter_decisions);

TYPED_TEST_P(rate_limiter_decisions, admits_exactly_the_limit_in_a_burst) {
  using namespace decisions;
  for (std::uint64_t i = 0; i < limit; ++i) {
    const cachet::rate_limit_decision d = this->limiter.try_acquire("alice");
    ASSERT_TRUE(d) << "call " << i;
    EXPECT_EQ(d.remaining, limit - 1 - i);
    EXPECT_EQ(d.retry_after, cachet::clock::duration::zero());
  }
  const cachet::rate_limit_decision rejected = this->limiter.try_acquire("alice");
  EXPECT_FALSE(rejected);
  EXPECT_FALSE(rejected.allowed);
  EXPECT_EQ(rejected.retry_after, interval);
  EXPECT_EQ(rejected.remaining, 0u);
}

TYPED_TEST_P(rate_limiter_decisions, retry_after_is_exact_and_counts_down) {
  using namespace decisions;
  EXPECT_EQ(admitted_count(this->limiter, "k", limit), static_cast<int>(limit));
  this->clock.advance(interval / 4);
  EXPECT_EQ(this->limiter.try_acquire("k").retry_after, interval - interval / 4);
  this->clock.advance(interval - interval / 4 - 1ns);
  EXPECT_EQ(this->limiter.try_acquire("k").retry_after, 1ns);
  this->clock.advance(1ns);
  EXPECT_TRUE(this->limiter.try_acquire("k"));
  EXPECT_EQ(this->limiter.try_acquire("k").retry_after, interval);
}

TYPED_TEST_P(rate_limiter_decisions, the_window_slides_one_call_per_interval) {
  using namespace decisions;
  EXPECT_EQ(admitted_count(this->limiter, "k", 20), static_cast<int>(limit));
  for (int step = 0; step < 7; ++step) {
    this->clock.advance(interval);
    EXPECT_EQ(admitted_count(this->limiter, "k", 20), 1) << "step " << step;
  }
  // After a whole idle period the bucket is full again, and no fuller.
  for (int window = 1; window <= 3; ++window) {
    this->clock.advance(period);
    EXPECT_EQ(admitted_count(this->limiter, "k", 20), static_cast<int>(limit)) << window;
  }
  this->clock.advance(10 * period);
  EXPECT_EQ(admitted_count(this->limiter, "k", 20), static_cast<int>(limit));
}

TYPED_TEST_P(rate_limiter_decisions, a_partial_refill_admits_what_came_back) {
  using namespace decisions;
  EXPECT_EQ(admitted_count(this->limiter, "k", 20), static_cast<int>(limit));
  this->clock.advance(3 * interval);
  EXPECT_EQ(admitted_count(this->limiter, "k", 20), 3);
}

TYPED_TEST_P(rate_limiter_decisions, keys_are_independent) {
  using namespace decisions;
  EXPECT_EQ(admitted_count(this->limiter, "alice", 20), static_cast<int>(limit));
  EXPECT_EQ(admitted_count(this->limiter, "bob", 20), static_cast<int>(limit));
  EXPECT_FALSE(this->limiter.try_acquire("alice"));
  EXPECT_EQ(admitted_count(this->limiter, "", 2), 2);  // the empty key is a key like any other
}

REGISTER_TYPED_TEST_SUITE_P(rate_limiter_decisions, admits_exactly_the_limit_in_a_burst,
                            retry_after_is_exact_and_counts_down,
                            the_window_slides_one_call_per_interval,
                            a_partial_refill_admits_what_came_back, keys_are_independent);

}  // namespace cachet_test

#endif
