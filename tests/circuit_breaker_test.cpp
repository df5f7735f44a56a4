#include <cachet.hpp>
#include <cachet/circuit_breaker.hpp>
#include <cachet/rate_limit.hpp>
#include <cachet/retry.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using cachet::circuit_state;

struct recorder {
  std::vector<std::pair<circuit_state, circuit_state>> changes;
  auto callback() {
    return [this](circuit_state from, circuit_state to) { changes.emplace_back(from, to); };
  }
};

int fail() { throw std::runtime_error("down"); }
int succeed() { return 1; }

class breaker_test : public ::testing::Test {
 protected:
  cachet::breaker make(cachet::breaker_settings s) {
    s.clock = &clock;
    s.on_state_change = changes.callback();
    return cachet::breaker(std::move(s));
  }
  cachet::manual_clock clock;
  recorder changes;
};

TEST_F(breaker_test, consecutive_failures_open_it) {
  cachet::breaker b{{.consecutive_failures = 3,
                     .cooldown = 30s,
                     .clock = &clock,
                     .on_state_change = changes.callback()}};
  EXPECT_THROW(b.call(fail), std::runtime_error);
  EXPECT_THROW(b.call(fail), std::runtime_error);
  EXPECT_EQ(b.call(succeed), 1);  // a success resets the count
  EXPECT_THROW(b.call(fail), std::runtime_error);
  EXPECT_THROW(b.call(fail), std::runtime_error);
  EXPECT_EQ(b.state(), circuit_state::closed);
  EXPECT_TRUE(changes.changes.empty());
  EXPECT_THROW(b.call(fail), std::runtime_error);
  EXPECT_EQ(b.state(), circuit_state::open);
  ASSERT_EQ(changes.changes.size(), 1u);
  EXPECT_EQ(changes.changes[0], std::pair(circuit_state::closed, circuit_state::open));

  int calls = 0;
  clock.advance(10s);
  try {
    b.call([&] { return ++calls; });
    ADD_FAILURE() << "an open circuit let a call through";
  } catch (const cachet::circuit_open& e) {
    EXPECT_EQ(e.retry_after(), 20s);
    EXPECT_NE(std::string(e.what()).find("retry after 20000 ms"), std::string::npos) << e.what();
  }
  EXPECT_EQ(calls, 0);
  const cachet::breaker_counters c = b.counters();
  EXPECT_EQ(c.failures, 5u);
  EXPECT_EQ(c.successes, 1u);
  EXPECT_EQ(c.rejected, 1u);
  EXPECT_EQ(c.opened, 1u);
}

TEST_F(breaker_test, a_failure_rate_opens_it) {
  cachet::breaker b{{.consecutive_failures = 0,
                     .failure_rate_percent = 50,
                     .failure_rate_window = 4,
                     .clock = &clock,
                     .on_state_change = changes.callback()}};
  // 3 of 4: not judged until the window is full, then 75% >= 50%.
  EXPECT_THROW(b.call(fail), std::runtime_error);
  EXPECT_THROW(b.call(fail), std::runtime_error);
  EXPECT_THROW(b.call(fail), std::runtime_error);
  EXPECT_EQ(b.state(), circuit_state::closed);
  b.call(succeed);
  EXPECT_EQ(b.state(), circuit_state::closed);  // judged on failures only
  EXPECT_THROW(b.call(fail), std::runtime_error);
  EXPECT_EQ(b.state(), circuit_state::open);
}

TEST_F(breaker_test, a_failure_rate_below_the_threshold_keeps_it_closed) {
  cachet::breaker b{{.consecutive_failures = 0,
                     .failure_rate_percent = 50,
                     .failure_rate_window = 4,
                     .clock = &clock}};
  // The window slides: fail, ok, ok, ok, fail, ok, ok, ok ... never 2 of the last 4.
  for (int i = 0; i < 20; ++i) {
    if (i % 4 == 0) {
      EXPECT_THROW(b.call(fail), std::runtime_error);
    } else {
      b.call(succeed);
    }
    EXPECT_EQ(b.state(), circuit_state::closed) << i;
  }
  b.call(succeed);
  EXPECT_THROW(b.call(fail), std::runtime_error);  // 1 of the last 4
  EXPECT_EQ(b.state(), circuit_state::closed);
  EXPECT_THROW(b.call(fail), std::runtime_error);  // 2 of the last 4
  EXPECT_EQ(b.state(), circuit_state::open);
}

TEST_F(breaker_test, cooldown_half_opens_then_a_probe_success_closes) {
  cachet::breaker b = make({.consecutive_failures = 1, .cooldown = 30s});
  EXPECT_THROW(b.call(fail), std::runtime_error);
  clock.advance(30s - 1ns);
  EXPECT_EQ(b.state(), circuit_state::open);
  clock.advance(1ns);
  EXPECT_EQ(b.state(), circuit_state::half_open);
  EXPECT_EQ(b.call(succeed), 1);
  EXPECT_EQ(b.state(), circuit_state::closed);
  const std::vector<std::pair<circuit_state, circuit_state>> expected{
      {circuit_state::closed, circuit_state::open},
      {circuit_state::open, circuit_state::half_open},
      {circuit_state::half_open, circuit_state::closed}};
  EXPECT_EQ(changes.changes, expected);
  const cachet::breaker_counters c = b.counters();
  EXPECT_EQ(c.opened, 1u);
  EXPECT_EQ(c.half_opened, 1u);
  EXPECT_EQ(c.closed, 1u);
}

TEST_F(breaker_test, a_probe_failure_opens_it_for_another_cooldown) {
  cachet::breaker b = make({.consecutive_failures = 2, .cooldown = 5s});
  EXPECT_THROW(b.call(fail), std::runtime_error);
  EXPECT_THROW(b.call(fail), std::runtime_error);
  clock.advance(5s);
  EXPECT_THROW(b.call(fail), std::runtime_error);  // the probe: one failure is enough
  EXPECT_EQ(b.state(), circuit_state::open);
  try {
    b.call(succeed);
    ADD_FAILURE();
  } catch (const cachet::circuit_open& e) {
    EXPECT_EQ(e.retry_after(), 5s);
  }
  const std::vector<std::pair<circuit_state, circuit_state>> expected{
      {circuit_state::closed, circuit_state::open},
      {circuit_state::open, circuit_state::half_open},
      {circuit_state::half_open, circuit_state::open}};
  EXPECT_EQ(changes.changes, expected);
  EXPECT_EQ(b.counters().opened, 2u);
}

TEST_F(breaker_test, half_open_lets_only_the_allowed_probes_through) {
  cachet::breaker b = make({.consecutive_failures = 1, .cooldown = 1s, .half_open_probes = 2});
  EXPECT_THROW(b.call(fail), std::runtime_error);
  clock.advance(1s);
  // Probes still running when more calls arrive: nested calls hold their probe slot.
  int inner_results = 0;
  b.call([&] {
    b.call([&] {
      try {
        b.call(succeed);
        ADD_FAILURE() << "a third probe was let through";
      } catch (const cachet::circuit_open& e) {
        EXPECT_EQ(e.retry_after(), 0ns);
        ++inner_results;
      }
      EXPECT_EQ(b.state(), circuit_state::half_open);
      return 0;
    });
    EXPECT_EQ(b.state(), circuit_state::closed);  // the first probe to succeed closes it
    return 0;
  });
  EXPECT_EQ(inner_results, 1);
  EXPECT_EQ(b.counters().rejected, 1u);
  EXPECT_EQ(b.counters().closed, 1u);
  EXPECT_EQ(b.state(), circuit_state::closed);
}

TEST_F(breaker_test, a_late_probe_does_not_decide_a_later_half_open_period) {
  cachet::breaker b = make({.consecutive_failures = 1, .cooldown = 1s, .half_open_probes = 2});
  EXPECT_THROW(b.call(fail), std::runtime_error);
  clock.advance(1s);
  EXPECT_THROW(b.call([&]() -> int {
    // While this probe runs, another one fails (open), and the cooldown passes (half-open).
    EXPECT_THROW(b.call(fail), std::runtime_error);
    clock.advance(1s);
    EXPECT_EQ(b.state(), circuit_state::half_open);
    throw std::runtime_error("late");
  }),
               std::runtime_error);
  EXPECT_EQ(b.state(), circuit_state::half_open);
  EXPECT_EQ(b.counters().opened, 2u);
}

TEST_F(breaker_test, passes_results_through_unchanged) {
  cachet::breaker b = make({});
  int target = 1;
  int& ref = b.call([&]() -> int& { return target; });
  EXPECT_EQ(&ref, &target);
  std::string moved = b.call([] { return std::string(100, 'x'); });
  EXPECT_EQ(moved.size(), 100u);
  bool ran = false;
  b.call([&] { ran = true; });
  EXPECT_TRUE(ran);
  EXPECT_EQ(b.counters().successes, 3u);
}

TEST_F(breaker_test, counts_exactly_across_threads) {
  cachet::breaker b = make(
      {.consecutive_failures = 0, .failure_rate_percent = 100, .failure_rate_window = 1000000});
  constexpr int threads = 8;
  constexpr int per_thread = 2000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        if ((i + t) % 2 == 0) {
          b.call(succeed);
        } else {
          EXPECT_THROW(b.call(fail), std::runtime_error);
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  const cachet::breaker_counters c = b.counters();
  EXPECT_EQ(c.successes, std::uint64_t{threads} * per_thread / 2);
  EXPECT_EQ(c.failures, std::uint64_t{threads} * per_thread / 2);
  EXPECT_EQ(b.state(), circuit_state::closed);
}

TEST_F(breaker_test, rejects_settings_that_cannot_work) {
  EXPECT_THROW(cachet::breaker({.consecutive_failures = 0}), cachet::error);
  EXPECT_THROW(cachet::breaker({.half_open_probes = 0}), cachet::error);
  EXPECT_THROW(cachet::breaker({.failure_rate_percent = 101}), cachet::error);
}

int billing_calls = 0;
int billing_failures_left = 0;
int call_billing(int order) {
  ++billing_calls;
  if (billing_failures_left > 0) {
    --billing_failures_left;
    throw std::runtime_error("billing down");
  }
  return order * 100;
}

class circuit_breaker_policy : public ::testing::Test {
 protected:
  void SetUp() override { billing_calls = billing_failures_left = 0; }
  cachet::manual_clock clock;
  cachet::memory backend{clock};
};

TEST_F(circuit_breaker_policy, opens_on_misses_and_still_serves_hits) {
  cachet::cached<&call_billing, cachet::ttl<60>, cachet::circuit_breaker<2, cachet::cooldown<30>>>
      bill{backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(bill(1), 100);  // stored
  billing_failures_left = 10;
  EXPECT_THROW(bill(2), std::runtime_error);
  EXPECT_THROW(bill(3), std::runtime_error);
  EXPECT_EQ(billing_calls, 3);
  try {
    bill(4);
    ADD_FAILURE();
  } catch (const cachet::circuit_open& e) {
    EXPECT_EQ(e.retry_after(), 30s);
  }
  EXPECT_EQ(billing_calls, 3);  // failed fast
  EXPECT_EQ(bill(1), 100);      // a hit does not reach the breaker
  clock.advance(30s);
  billing_failures_left = 0;
  EXPECT_EQ(bill(4), 400);  // the probe
  EXPECT_EQ(bill(5), 500);
}

TEST_F(circuit_breaker_policy, a_shared_breaker_is_observable_and_its_settings_apply) {
  recorder changes;
  cachet::breaker shared{{.consecutive_failures = 1,
                          .cooldown = 2s,
                          .clock = &clock,
                          .on_state_change = changes.callback()}};
  cachet::cached<&call_billing, cachet::circuit_breaker<100>, cachet::key<"bill:{}">> a{
      backend, cachet::options{.breaker = &shared}};
  cachet::cached<&call_billing, cachet::key<"bill2:{}">, cachet::circuit_breaker<100>> b{
      backend, cachet::options{.breaker = &shared}};
  billing_failures_left = 1;
  EXPECT_THROW(a(1), std::runtime_error);
  EXPECT_EQ(shared.state(), circuit_state::open);
  EXPECT_THROW(b(1), cachet::circuit_open);  // the other function shares the breaker
  clock.advance(2s);
  EXPECT_EQ(b(1), 100);
  EXPECT_EQ(shared.state(), circuit_state::closed);
  EXPECT_EQ(changes.changes.size(), 3u);
}

TEST_F(circuit_breaker_policy, options_override_the_numbers) {
  cachet::cached<&call_billing, cachet::circuit_breaker<100, cachet::cooldown<100>>> bill{
      backend, cachet::options{
                   .clock = &clock, .circuit_breaker_failures = 1, .circuit_breaker_cooldown = 3s}};
  billing_failures_left = 1;
  EXPECT_THROW(bill(1), std::runtime_error);
  try {
    bill(1);
    ADD_FAILURE();
  } catch (const cachet::circuit_open& e) {
    EXPECT_EQ(e.retry_after(), 3s);
  }
}

TEST_F(circuit_breaker_policy, failure_rate_option_through_cached) {
  cachet::cached<&call_billing,
                 cachet::circuit_breaker<100, cachet::failure_rate<50, 2>, cachet::cooldown<1>>,
                 cachet::tags<"orders">>
      bill{backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(bill(1), 100);
  billing_failures_left = 1;
  EXPECT_THROW(bill(2), std::runtime_error);  // 1 of 2
  EXPECT_THROW(bill(3), cachet::circuit_open);
  EXPECT_EQ(billing_calls, 2);
}

struct flaky : std::runtime_error, cachet::transient {
  flaky() : std::runtime_error("flaky") {}
};
int flaky_left = 0;
int flaky_calls = 0;
int flaky_load(int x) {
  ++flaky_calls;
  if (flaky_left > 0) {
    --flaky_left;
    throw flaky();
  }
  return x;
}

TEST_F(circuit_breaker_policy, composes_with_retry_and_rate_limit_in_any_order) {
  int slept = 0;
  const cachet::options opts{.clock = &clock,
                             .retry_sleep = [&](std::chrono::nanoseconds) { ++slept; }};
  // retry outside the breaker: the breaker sees each attempt, and stops the retries once open.
  cachet::cached<&flaky_load, cachet::retry<5>, cachet::circuit_breaker<2>,
                 cachet::rate_limit<100, cachet::per<1>>>
      outer{backend, opts};
  flaky_left = 10;
  EXPECT_THROW(outer(1), cachet::circuit_open);
  EXPECT_EQ(flaky_calls, 2);
  EXPECT_EQ(slept, 2);  // after each failed attempt, then circuit_open is not retried

  // breaker outside the retry: one failure per exhausted call.
  cachet::cached<&flaky_load, cachet::rate_limit<100, cachet::per<1>>, cachet::circuit_breaker<2>,
                 cachet::retry<1>, cachet::ttl<10>>
      inner{backend, opts};
  flaky_calls = 0;
  flaky_left = 10;
  EXPECT_THROW(inner(1), flaky);
  EXPECT_EQ(flaky_calls, 2);
  EXPECT_THROW(inner(1), flaky);
  EXPECT_EQ(flaky_calls, 4);
  EXPECT_THROW(inner(1), cachet::circuit_open);
  EXPECT_EQ(flaky_calls, 4);
}

}  // namespace
