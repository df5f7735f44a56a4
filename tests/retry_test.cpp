#include <cachet.hpp>
#include <cachet/circuit_breaker.hpp>
#include <cachet/rate_limit.hpp>
#include <cachet/retry.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct timeout : std::runtime_error, cachet::transient {
  timeout() : std::runtime_error("timeout") {}
};
struct bad_request : std::runtime_error {
  bad_request() : std::runtime_error("bad request") {}
};
struct outage : std::runtime_error {
  outage() : std::runtime_error("outage") {}
};

bool is_outage(const std::exception& e) { return dynamic_cast<const outage*>(&e) != nullptr; }
bool is_anything(const std::exception_ptr&) { return true; }

// A function failing `failures_left` times with `failure`, then returning its argument.
std::exception_ptr failure;
int failures_left = 0;
int calls = 0;
int load(int x) {
  ++calls;
  if (failures_left > 0) {
    --failures_left;
    std::rethrow_exception(failure);
  }
  return x;
}

class retry_test : public ::testing::Test {
 protected:
  void SetUp() override {
    calls = failures_left = 0;
    failure = nullptr;
  }
  void fail_with(std::exception_ptr e, int times) {
    failure = std::move(e);
    failures_left = times;
  }
  cachet::options opts() {
    return {.clock = &clock,
            .retry_sleep = [this](std::chrono::nanoseconds d) { delays.push_back(d); }};
  }
  cachet::manual_clock clock;
  cachet::memory backend{clock};
  std::vector<std::chrono::nanoseconds> delays;
};

TEST_F(retry_test, transient_failures_are_retried_until_success) {
  cachet::cached<&load, cachet::retry<3>> f{backend, opts()};
  fail_with(std::make_exception_ptr(timeout()), 3);
  EXPECT_EQ(f(7), 7);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(delays.size(), 3u);
  EXPECT_EQ(f(7), 7);  // stored: no more calls
  EXPECT_EQ(calls, 4);
}

TEST_F(retry_test, gives_up_after_n_retries_with_the_last_failure) {
  cachet::cached<&load, cachet::retry<2>> f{backend, opts()};
  fail_with(std::make_exception_ptr(timeout()), 10);
  EXPECT_THROW(f(1), timeout);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(delays.size(), 2u);
}

TEST_F(retry_test, other_failures_are_not_retried) {
  cachet::cached<&load, cachet::retry<3>> f{backend, opts()};
  fail_with(std::make_exception_ptr(bad_request()), 1);
  EXPECT_THROW(f(1), bad_request);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(delays.empty());
  fail_with(std::make_exception_ptr(42), 1);  // not even a std::exception
  EXPECT_THROW(f(1), int);
  EXPECT_EQ(calls, 2);
}

TEST_F(retry_test, retry_if_decides_what_is_transient) {
  cachet::cached<&load, cachet::retry<3, cachet::retry_if<&is_outage>>> f{backend, opts()};
  fail_with(std::make_exception_ptr(outage()), 2);
  EXPECT_EQ(f(1), 1);
  EXPECT_EQ(calls, 3);
  fail_with(std::make_exception_ptr(timeout()), 1);  // transient by marker, but not by predicate
  EXPECT_THROW(f(2), timeout);
  EXPECT_EQ(calls, 4);
  fail_with(std::make_exception_ptr(42), 1);  // a predicate on std::exception never sees an int
  EXPECT_THROW(f(3), int);
  EXPECT_EQ(calls, 5);
}

TEST_F(retry_test, a_predicate_on_exception_ptr_sees_everything_but_cachets_refusals) {
  cachet::cached<&load, cachet::retry<2, cachet::retry_if<&is_anything>>> f{backend, opts()};
  fail_with(std::make_exception_ptr(42), 1);
  EXPECT_EQ(f(1), 1);
  EXPECT_EQ(calls, 2);
  fail_with(std::make_exception_ptr(cachet::rate_limited(1s)), 5);
  EXPECT_THROW(f(2), cachet::rate_limited);
  EXPECT_EQ(calls, 3);
  fail_with(std::make_exception_ptr(cachet::circuit_open(1s)), 5);
  EXPECT_THROW(f(3), cachet::circuit_open);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(delays.size(), 1u);
}

TEST_F(retry_test, delays_stay_within_the_full_jitter_bounds) {
  cachet::cached<&load, cachet::retry<8, cachet::backoff<10, 300>>> f{backend, opts()};
  // Many runs, so that a delay drawn outside [0, cap] or from a wrong cap would show.
  for (int run = 0; run < 200; ++run) {
    delays.clear();
    fail_with(std::make_exception_ptr(timeout()), 8);
    EXPECT_EQ(f(run), run);
    ASSERT_EQ(delays.size(), 8u);
    const std::chrono::nanoseconds caps[] = {10ms, 20ms, 40ms, 80ms, 160ms, 300ms, 300ms, 300ms};
    for (std::size_t i = 0; i < 8; ++i) {
      EXPECT_GE(delays[i], 0ns);
      EXPECT_LE(delays[i], caps[i]) << "retry " << i;
    }
  }
}

TEST_F(retry_test, jitter_spreads_the_delays) {
  std::vector<std::chrono::nanoseconds> firsts;
  cachet::cached<&load, cachet::retry<1, cachet::backoff<1000, 1000>>> f{backend, opts()};
  for (int run = 0; run < 50; ++run) {
    fail_with(std::make_exception_ptr(timeout()), 1);
    f(run);
  }
  ASSERT_EQ(delays.size(), 50u);
  const auto [low, high] = std::minmax_element(delays.begin(), delays.end());
  EXPECT_LT(*low, 500ms);  // all in one half would be a broken distribution
  EXPECT_GT(*high, 500ms);
}

TEST_F(retry_test, options_override_the_numbers) {
  cachet::options o = opts();
  o.retry_attempts = 1;
  o.retry_base_delay = 4ms;
  cachet::cached<&load, cachet::retry<5>> f{backend, o};
  fail_with(std::make_exception_ptr(timeout()), 5);
  EXPECT_THROW(f(1), timeout);
  EXPECT_EQ(calls, 2);
  ASSERT_EQ(delays.size(), 1u);
  EXPECT_LE(delays[0], 4ms);
}

TEST_F(retry_test, hits_are_not_retried_and_composes_with_key_tags_ttl) {
  cachet::cached<&load, cachet::key<"n:{}">, cachet::retry<2>, cachet::tags<"nums">, cachet::ttl<5>>
      a{backend, opts()};
  cachet::cached<&load, cachet::ttl<5>, cachet::tags<"nums">, cachet::key<"m:{}">, cachet::retry<2>>
      b{backend, opts()};
  fail_with(std::make_exception_ptr(timeout()), 1);
  EXPECT_EQ(a(1), 1);
  EXPECT_EQ(a(1), 1);
  EXPECT_EQ(calls, 2);
  fail_with(std::make_exception_ptr(timeout()), 2);
  EXPECT_EQ(b(1), 1);
  EXPECT_EQ(calls, 5);
  a.invalidate_tag("nums");
  EXPECT_EQ(a(1), 1);
  EXPECT_EQ(b(1), 1);
  EXPECT_EQ(calls, 7);
  EXPECT_EQ(delays.size(), 3u);
}

TEST_F(retry_test, rate_limited_from_the_policy_is_never_retried) {
  cachet::cached<&load, cachet::retry<3, cachet::retry_if<&is_anything>>,
                 cachet::rate_limit<1, cachet::per<10>>>
      f{backend, opts()};
  EXPECT_EQ(f(1), 1);
  EXPECT_THROW(f(2), cachet::rate_limited);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(delays.empty());
}

TEST(retry_call, works_without_a_cache) {
  std::vector<std::chrono::nanoseconds> delays;
  int attempts = 0;
  const cachet::retry_settings settings{
      .retries = 4,
      .base_delay = 1ms,
      .max_delay = 2ms,
      .is_transient = [](const std::exception_ptr&) { return true; },
      .sleep = [&](std::chrono::nanoseconds d) { delays.push_back(d); }};
  const int result = cachet::retry_call(settings, [&] {
    if (++attempts < 4) throw std::runtime_error("again");
    return attempts;
  });
  EXPECT_EQ(result, 4);
  ASSERT_EQ(delays.size(), 3u);
  EXPECT_LE(delays[0], 1ms);
  EXPECT_LE(delays[1], 2ms);
  EXPECT_LE(delays[2], 2ms);
  attempts = 0;
  EXPECT_THROW(cachet::retry_call({.retries = 4, .sleep = [](std::chrono::nanoseconds) {}},
                                  [&]() -> int {
                                    ++attempts;
                                    throw std::runtime_error("not transient");
                                  }),
               std::runtime_error);
  EXPECT_EQ(attempts, 1);
}

TEST(retry_call, stops_at_an_open_circuit) {
  cachet::manual_clock clock;
  cachet::breaker b{{.consecutive_failures = 2, .clock = &clock}};
  int attempts = 0;
  EXPECT_THROW(cachet::retry_call({.retries = 10, .sleep = [](std::chrono::nanoseconds) {}},
                                  [&] {
                                    return b.call([&]() -> int {
                                      ++attempts;
                                      throw timeout();
                                    });
                                  }),
               cachet::circuit_open);
  EXPECT_EQ(attempts, 2);
}

}  // namespace
