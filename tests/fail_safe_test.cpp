#include <cachet.hpp>
#include <cachet/fail_safe.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct outage : std::runtime_error {
  outage() : std::runtime_error("price service down") {}
};
struct timeout : std::runtime_error, cachet::transient {
  timeout() : std::runtime_error("timeout") {}
};

// The price of an item: its id times the current generation, so a recomputed value differs from
// a stale one; `down` makes every call throw.
struct price_service {
  int generation = 1;
  bool down = false;
  bool transient = false;
  int calls = 0;
  int price(int id) {
    ++calls;
    if (down) {
      if (transient) throw timeout();
      throw outage();
    }
    return id * generation;
  }
};

class fail_safe_test : public ::testing::Test {
 protected:
  cachet::options opts() {
    return {.clock = &clock,
            .retry_sleep = [this](std::chrono::nanoseconds d) { sleeps.push_back(d); }};
  }
  template <class... Policies>
  auto make() {
    return cachet::make_cached<Policies...>([this](int id) { return service.price(id); }, backend,
                                            opts());
  }
  cachet::manual_clock clock;
  cachet::memory backend{clock};
  price_service service;
  std::vector<std::chrono::nanoseconds> sleeps;
};

TEST_F(fail_safe_test, a_failure_after_the_ttl_is_answered_with_the_last_good_value) {
  auto price = make<cachet::ttl<30>, cachet::fail_safe<3600>>();
  EXPECT_EQ(price(7), 7);
  clock.advance(31s);
  service.down = true;
  EXPECT_EQ(price(7), 7);
  EXPECT_EQ(service.calls, 2);  // the function was asked first
  const cachet::stats s = price.stats();
  EXPECT_EQ(s.stale_served, 1u);
  EXPECT_EQ(s.load_errors, 1u);
  EXPECT_EQ(s.loads, 1u);
  // Still stale: peek only gives fresh values, and the next call asks the function again.
  EXPECT_EQ(price.peek(7), std::nullopt);
  EXPECT_EQ(price(7), 7);
  EXPECT_EQ(service.calls, 3);
  EXPECT_EQ(price.stats().stale_served, 2u);
}

TEST_F(fail_safe_test, a_success_after_the_ttl_replaces_the_stale_value) {
  auto price = make<cachet::ttl<30>, cachet::fail_safe<3600>>();
  EXPECT_EQ(price(7), 7);
  clock.advance(31s);
  service.generation = 2;
  EXPECT_EQ(price(7), 14);
  service.down = true;
  EXPECT_EQ(price(7), 14);  // fresh: the function is not called
  EXPECT_EQ(service.calls, 2);
  clock.advance(31s);
  EXPECT_EQ(price(7), 14);  // the newer value is the one kept
  EXPECT_EQ(price.stats().stale_served, 1u);
}

TEST_F(fail_safe_test, a_fresh_call_never_sees_a_stale_value) {
  auto price = make<cachet::ttl<30>, cachet::fail_safe<3600>>();
  EXPECT_EQ(price(7), 7);
  clock.advance(30s);  // the ttl ends exactly now
  service.generation = 3;
  EXPECT_EQ(price(7), 21);
  EXPECT_EQ(price.stats().stale_served, 0u);
}

TEST_F(fail_safe_test, nothing_older_than_the_maximum_staleness_is_served) {
  auto price = make<cachet::ttl<30>, cachet::fail_safe<60>>();
  EXPECT_EQ(price(7), 7);
  service.down = true;
  clock.advance(89s);  // 59 s past the ttl
  EXPECT_EQ(price(7), 7);
  clock.advance(1s);  // 60 s past it: gone
  EXPECT_THROW(price(7), outage);
  EXPECT_EQ(price.stats().stale_served, 1u);
  EXPECT_EQ(price.stats().expirations, 1u);
}

TEST_F(fail_safe_test, without_the_policy_a_failure_after_the_ttl_throws) {
  auto price = make<cachet::ttl<30>>();
  EXPECT_EQ(price(7), 7);
  clock.advance(31s);
  service.down = true;
  EXPECT_THROW(price(7), outage);
  EXPECT_EQ(price.stats().stale_served, 0u);
}

TEST_F(fail_safe_test, a_key_never_computed_has_nothing_to_serve) {
  auto price = make<cachet::ttl<30>, cachet::fail_safe<3600>>();
  service.down = true;
  EXPECT_THROW(price(7), outage);
  EXPECT_EQ(price.stats().stale_served, 0u);
}

TEST_F(fail_safe_test, invalidated_entries_are_never_served) {
  auto price = make<cachet::ttl<30>, cachet::fail_safe<3600>, cachet::tags<"item:{}">>();
  EXPECT_EQ(price(7), 7);
  EXPECT_EQ(price(8), 8);
  EXPECT_EQ(price(9), 9);
  price.invalidate(7);
  backend.invalidate_tag("item:8");
  service.down = true;
  EXPECT_THROW(price(7), outage);
  EXPECT_THROW(price(8), outage);
  clock.advance(31s);
  EXPECT_EQ(price(9), 9);
  price.clear();
  EXPECT_THROW(price(9), outage);
  EXPECT_EQ(price.stats().stale_served, 1u);
}

TEST_F(fail_safe_test, an_open_breaker_is_answered_with_the_stale_value) {
  auto price = make<cachet::ttl<30>, cachet::circuit_breaker<1, cachet::cooldown<60>>,
                    cachet::fail_safe<3600>>();
  EXPECT_EQ(price(7), 7);
  clock.advance(31s);
  service.down = true;
  EXPECT_EQ(price(7), 7);  // the failure opens the breaker
  EXPECT_EQ(service.calls, 2);
  EXPECT_EQ(price(7), 7);  // circuit_open, not a call
  EXPECT_EQ(service.calls, 2);
  EXPECT_THROW(price(8), cachet::circuit_open);  // nothing stored for 8
  EXPECT_EQ(price.stats().stale_served, 2u);
}

TEST_F(fail_safe_test, a_rate_limited_call_is_answered_with_the_stale_value) {
  auto price =
      make<cachet::rate_limit<1, cachet::per<3600>>, cachet::ttl<30>, cachet::fail_safe<3600>>();
  EXPECT_EQ(price(7), 7);
  EXPECT_EQ(price(7), 7);  // a fresh hit: the limit still applies, fail_safe answers it
  clock.advance(31s);
  EXPECT_EQ(price(7), 7);
  EXPECT_EQ(service.calls, 1);
  EXPECT_THROW(price(8), cachet::rate_limited);
  EXPECT_EQ(price.stats().stale_served, 2u);
}

TEST_F(fail_safe_test, retries_come_first) {
  auto price = make<cachet::fail_safe<3600>, cachet::retry<2>, cachet::ttl<30>>();
  EXPECT_EQ(price(7), 7);
  clock.advance(31s);
  service.down = true;
  service.transient = true;
  EXPECT_EQ(price(7), 7);
  EXPECT_EQ(service.calls, 4);  // the first call, then one attempt and two retries
  EXPECT_EQ(sleeps.size(), 2u);
  EXPECT_EQ(price.stats().stale_served, 1u);
}

TEST_F(fail_safe_test, options_override_the_maximum_staleness) {
  auto price = cachet::make_cached<cachet::ttl<30>, cachet::fail_safe<3600>>(
      [this](int id) { return service.price(id); }, backend,
      cachet::options{.clock = &clock, .fail_safe_max_stale = 10s});
  EXPECT_EQ(price(7), 7);
  service.down = true;
  clock.advance(39s);
  EXPECT_EQ(price(7), 7);
  clock.advance(1s);
  EXPECT_THROW(price(7), outage);
}

// A function that calls its own cache for other arguments reuses the buffer the failed call's
// key was rendered into: the stale value must still be the one of the failed call's key.
std::string describe(const std::string& name);
cachet::manual_clock nested_clock;
bool nested_down = false;
cachet::memory nested_backend{nested_clock};
cachet::cached<&describe, cachet::ttl<30>, cachet::fail_safe<3600>> cached_describe{
    nested_backend, cachet::options{}};

std::string describe(const std::string& name) {
  if (name.size() > 1) {
    const std::string inner = cached_describe(name.substr(1));
    if (nested_down) throw outage();
    return name + "/" + inner;
  }
  return name;
}

TEST(fail_safe, the_key_survives_nested_calls_of_the_same_cache) {
  EXPECT_EQ(cached_describe("abc"), "abc/bc/c");
  nested_clock.advance(31s);
  nested_down = true;
  // "abc" fails after its nested call for "bc" also failed and was answered stale.
  EXPECT_EQ(cached_describe("abc"), "abc/bc/c");
  EXPECT_EQ(cached_describe.stats().stale_served, 2u);
  EXPECT_EQ(cached_describe("bc"), "bc/c");
  EXPECT_EQ(cached_describe.stats().stale_served, 3u);
}

TEST_F(fail_safe_test, a_bounded_cache_keeps_stale_entries_within_its_capacity) {
  auto price = make<cachet::ttl<30>, cachet::fail_safe<3600>, cachet::capacity<2>>();
  EXPECT_EQ(price(1), 1);
  EXPECT_EQ(price(2), 2);
  clock.advance(31s);
  EXPECT_EQ(price(3), 3);  // evicts 1, the least recently used
  service.down = true;
  EXPECT_THROW(price(1), outage);
  EXPECT_EQ(price(2), 2);
  EXPECT_EQ(price.stats().evictions, 1u);
}

}  // namespace
