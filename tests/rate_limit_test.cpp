#include <cachet.hpp>
#include <cachet/rate_limit.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "support/rate_limiter_decisions.hpp"

namespace cachet_test {

// The decisions every limiter makes (support/rate_limiter_decisions.hpp), with state in memory.
struct local_limiter {
  explicit local_limiter(cachet::manual_clock& clock)
      : limiter(decisions::limit, decisions::period, &clock) {}
  cachet::rate_limiter limiter;
};

INSTANTIATE_TYPED_TEST_SUITE_P(local, rate_limiter_decisions, ::testing::Types<local_limiter>);
}  // namespace cachet_test

namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t limit = 5;
constexpr auto period = 10s;
constexpr cachet::clock::duration interval = period / limit;

using cachet_test::admitted_count;

TEST(rate_limiter, idle_keys_are_dropped_without_losing_state) {
  cachet::manual_clock clock;
  cachet::rate_limiter limiter(1, period, &clock);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limiter.try_acquire("key" + std::to_string(i)));
  EXPECT_EQ(limiter.tracked_keys(), 10000u);
  clock.advance(period);
  // Every bucket has refilled: new keys make room by dropping them.
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limiter.try_acquire("new" + std::to_string(i)));
  EXPECT_LT(limiter.tracked_keys(), 15000u);
  // Keys still limited are kept, whatever the churn.
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(limiter.try_acquire("new" + std::to_string(i)));
}

TEST(rate_limiter, the_empty_key_is_one_limit_that_takes_no_memory) {
  cachet::manual_clock clock;
  cachet::rate_limiter limiter(limit, period, &clock);
  EXPECT_EQ(admitted_count(limiter, "", 20), static_cast<int>(limit));
  EXPECT_EQ(limiter.try_acquire("").retry_after, interval);
  EXPECT_EQ(admitted_count(limiter, "x", 20), static_cast<int>(limit));  // apart from other keys
  EXPECT_EQ(limiter.tracked_keys(), 1u);
  clock.advance(interval);
  EXPECT_EQ(admitted_count(limiter, "", 20), 1);
}

// Keys spread over the shards, and the map of each shard grows and rehashes while keys already
// in it keep their state.
TEST(rate_limiter, many_keys_keep_their_state_as_the_maps_grow) {
  cachet::manual_clock clock;
  cachet::rate_limiter limiter(2, period, &clock);
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(limiter.try_acquire("k" + std::to_string(i)));
  for (int i = 0; i < 5000; ++i) {
    const cachet::rate_limit_decision d = limiter.try_acquire("k" + std::to_string(i));
    ASSERT_TRUE(d) << i;
    ASSERT_EQ(d.remaining, 0u) << i;
  }
  for (int i = 0; i < 5000; ++i) ASSERT_FALSE(limiter.try_acquire("k" + std::to_string(i))) << i;
  EXPECT_EQ(limiter.tracked_keys(), 5000u);
}

// Without a clock, time is the steady clock as of its last tick: cheap, a few milliseconds
// coarse, and retry_after covers a tick so that waiting it is always enough.
TEST(rate_limiter, the_default_clock_ticks_and_retry_after_covers_a_tick) {
  cachet::rate_limiter limiter(1, std::chrono::hours(1));
  ASSERT_TRUE(limiter.try_acquire("k"));
  const cachet::rate_limit_decision d = limiter.try_acquire("k");
  ASSERT_FALSE(d);
  EXPECT_GT(d.retry_after, std::chrono::minutes(59));
  EXPECT_LE(d.retry_after, std::chrono::hours(1) + cachet::detail::coarse_resolution());
  const auto before = std::chrono::steady_clock::now().time_since_epoch().count();
  const auto coarse = cachet::detail::coarse_now();
  const auto after = std::chrono::steady_clock::now().time_since_epoch().count();
  EXPECT_LE(coarse, after);  // never ahead of the steady clock
  EXPECT_GT(coarse, before - cachet::detail::coarse_resolution().count() - 1'000'000'000);
}

TEST(rate_limiter, rejects_impossible_settings) {
  EXPECT_THROW(cachet::rate_limiter(0, 1s), cachet::error);
  EXPECT_THROW(cachet::rate_limiter(10, 0s), cachet::error);
  EXPECT_THROW(cachet::rate_limiter(10, 5ns), cachet::error);
}

int sends = 0;
std::string send_report(int user, const std::string& kind) {
  ++sends;
  return std::to_string(user) + "/" + kind;
}

class rate_limit_policy : public ::testing::Test {
 protected:
  void SetUp() override { sends = 0; }
  cachet::manual_clock clock;
  cachet::memory backend{clock};
};

TEST_F(rate_limit_policy, counts_every_call_hits_included_and_throws_rate_limited) {
  cachet::cached<&send_report, cachet::rate_limit<3, cachet::per<60>, cachet::by<"{}">>> report{
      backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(report(1, "a"), "1/a");
  EXPECT_EQ(report(1, "a"), "1/a");  // a hit, still counted
  EXPECT_EQ(report(1, "b"), "1/b");  // the same user
  try {
    report(1, "a");
    ADD_FAILURE() << "the fourth call of user 1 was admitted";
  } catch (const cachet::rate_limited& e) {
    EXPECT_EQ(e.retry_after(), 20s);
    EXPECT_EQ(e.retry_after_seconds(), 20s);
    EXPECT_NE(std::string(e.what()).find("retry after 20000 ms"), std::string::npos) << e.what();
  }
  EXPECT_EQ(report(2, "a"), "2/a");  // another user has a limit of its own
  EXPECT_EQ(sends, 3);
  clock.advance(20s);
  EXPECT_EQ(report(1, "a"), "1/a");
  EXPECT_THROW(report(1, "a"), cachet::error);  // rate_limited is a cachet::error
}

TEST_F(rate_limit_policy, without_by_one_limit_covers_the_whole_function) {
  cachet::cached<&send_report, cachet::rate_limit<2, cachet::per<1>>> report{
      backend, cachet::options{.clock = &clock}};
  report(1, "a");
  report(2, "b");
  EXPECT_THROW(report(3, "c"), cachet::rate_limited);
  clock.advance(500ms);
  EXPECT_NO_THROW(report(3, "c"));
}

TEST_F(rate_limit_policy, a_whole_function_limit_reads_the_backends_clock_as_a_keyed_one_does) {
  // No options::clock: both limits must follow the backend's manual clock.
  cachet::cached<&send_report, cachet::rate_limit<2, cachet::per<60>>> whole{backend};
  cachet::cached<&send_report, cachet::rate_limit<2, cachet::per<60>, cachet::by<"{}:{}">>> keyed{
      backend};
  static_assert(!cachet::detail::fused_rate_limit_of<decltype(whole)>::value);
  static_assert(cachet::detail::fused_rate_limit_of<decltype(keyed)>::value);
  whole(1, "a");
  whole(1, "a");
  keyed(1, "a");
  keyed(1, "a");
  try {
    whole(1, "a");
    ADD_FAILURE() << "the whole-function limit admitted a third call";
  } catch (const cachet::rate_limited& e) {
    EXPECT_EQ(e.retry_after(), 30s);  // exact: the manual clock, no tick of slack
  }
  try {
    keyed(1, "a");
    ADD_FAILURE() << "the keyed limit admitted a third call";
  } catch (const cachet::rate_limited& e) {
    EXPECT_EQ(e.retry_after(), 30s);
  }
  clock.advance(30s);
  EXPECT_NO_THROW(whole(1, "a"));
  EXPECT_NO_THROW(keyed(1, "a"));
}

double scale(double x, int factor) { return x * factor; }

TEST_F(rate_limit_policy, nans_of_different_bits_share_one_limit) {
  // Keyed by the first argument only: the limiter's own keys, not the cache entries'.
  cachet::cached<&scale, cachet::rate_limit<1, cachet::per<60>, cachet::by<"{0}">>> scaled{
      backend, cachet::options{.clock = &clock}};
  static_assert(!cachet::detail::fused_rate_limit_of<decltype(scaled)>::value);
  scaled(std::nan("1"), 2);
  EXPECT_THROW(scaled(std::nan("2"), 3), cachet::rate_limited);
  EXPECT_THROW(scaled(-std::nan("3"), 4), cachet::rate_limited);
}

TEST_F(rate_limit_policy, options_override_the_numbers) {
  cachet::cached<&send_report, cachet::rate_limit<1, cachet::per<1>, cachet::by<"{1}">>> report{
      backend, cachet::options{.clock = &clock, .rate_limit = 4, .rate_limit_period = 8s}};
  for (int i = 0; i < 4; ++i) report(i, "x");
  try {
    report(9, "x");
    ADD_FAILURE() << "over the limit from options";
  } catch (const cachet::rate_limited& e) {
    EXPECT_EQ(e.retry_after(), 2s);
  }
  EXPECT_NO_THROW(report(9, "y"));
}

TEST_F(rate_limit_policy, composes_with_key_ttl_and_tags_in_any_order) {
  cachet::cached<&send_report, cachet::tags<"user:{}">,
                 cachet::rate_limit<2, cachet::by<"{}:{}">, cachet::per<10>>, cachet::ttl<5>,
                 cachet::key<"report:{}/{}">>
      a{backend, cachet::options{.clock = &clock}};
  cachet::cached<&send_report, cachet::key<"r2:{}/{}">, cachet::ttl<5>,
                 cachet::rate_limit<2, cachet::per<10>>, cachet::tags<"user:{}">>
      b{backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(a(1, "x"), "1/x");
  EXPECT_EQ(a(1, "x"), "1/x");
  EXPECT_THROW(a(1, "x"), cachet::rate_limited);
  EXPECT_EQ(a(1, "y"), "1/y");
  EXPECT_EQ(sends, 2);
  EXPECT_EQ(a.key(1, "x"), "report:1/x");
  a.invalidate_tag("user:1");
  clock.advance(5s);  // the limit of (1, x) refilled one call; the entry was dropped by its tag
  EXPECT_EQ(a(1, "x"), "1/x");
  EXPECT_EQ(sends, 3);

  EXPECT_EQ(b(1, "x"), "1/x");
  EXPECT_EQ(b(2, "x"), "2/x");
  EXPECT_THROW(b(3, "x"), cachet::rate_limited);
}

std::string pair_of(const std::string& a, const std::string& b) { return a + "|" + b; }
long difference(int a, long b) { return a - b; }

// In process, rate keys are the arguments' binary forms: still one limit per distinct value.
TEST_F(rate_limit_policy, rate_keys_tell_all_argument_values_apart) {
  cachet::cached<&pair_of, cachet::rate_limit<1, cachet::per<60>, cachet::by<"{}:{}">>> strings{
      backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(strings("a:b", "c"), "a:b|c");
  EXPECT_EQ(strings("a", "b:c"), "a|b:c");
  EXPECT_EQ(strings("", "ab"), "|ab");
  EXPECT_EQ(strings("ab", ""), "ab|");
  EXPECT_THROW(strings("a", "b:c"), cachet::rate_limited);
  cachet::cached<&difference, cachet::rate_limit<1, cachet::per<60>, cachet::by<"{1}/{0}">>>
      numbers{backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(numbers(1, 2), -1);
  EXPECT_EQ(numbers(2, 1), 1);
  EXPECT_EQ(numbers(0, 0), 0);
  EXPECT_THROW(numbers(2, 1), cachet::rate_limited);
  cachet::cached<&difference, cachet::rate_limit<1, cachet::per<60>, cachet::by<"{1}">>> second{
      backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(second(5, 7), -2);
  EXPECT_THROW(second(6, 7), cachet::rate_limited);  // the first argument is not part of it
}

TEST_F(rate_limit_policy, options_say_whether_cached_results_are_served_and_where_limits_live) {
  using plain = cachet::rate_limit<100, cachet::per<60>>;
  using serving = cachet::rate_limit<100, cachet::serve_cached, cachet::per<60>>;
  using local = cachet::rate_limit<100, cachet::per<60>, cachet::per_process, cachet::by<"{}">>;
  static_assert(!plain::serves_cached && !plain::per_process_only);
  static_assert(serving::serves_cached && !serving::per_process_only);
  static_assert(!local::serves_cached && local::per_process_only);
  // On an in-process backend, per_process changes nothing: the limit is local anyway.
  cachet::cached<&send_report, local> report{backend, cachet::options{.clock = &clock}};
  for (int i = 0; i < 100; ++i) report(1, "a");
  EXPECT_THROW(report(1, "a"), cachet::rate_limited);
}

TEST_F(rate_limit_policy, a_rejected_call_does_not_reach_the_cache) {
  cachet::cached<&send_report, cachet::rate_limit<1, cachet::per<60>>> report{
      backend, cachet::options{.clock = &clock}};
  report(1, "a");
  EXPECT_THROW(report(2, "b"), cachet::rate_limited);
  EXPECT_EQ(sends, 1);
  EXPECT_EQ(report.stats().misses, 1u);
  EXPECT_FALSE(report.peek(2, "b"));
}

TEST_F(rate_limit_policy, serve_cached_answers_a_limited_call_with_its_fresh_result) {
  cachet::cached<&send_report, cachet::ttl<30>,
                 cachet::rate_limit<2, cachet::per<3600>, cachet::serve_cached>>
      report{backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(report(1, "a"), "1/a");
  EXPECT_EQ(report(2, "b"), "2/b");
  EXPECT_EQ(report(1, "a"), "1/a");  // over the limit, answered from the cache
  EXPECT_EQ(sends, 2);
  EXPECT_THROW(report(3, "c"), cachet::rate_limited);  // nothing cached for it
  clock.advance(31s);
  EXPECT_THROW(report(1, "a"), cachet::rate_limited);  // expired: only fresh results are served
  EXPECT_EQ(sends, 2);
  EXPECT_EQ(report.stats().stale_served, 0u);
}

TEST_F(rate_limit_policy, serve_cached_with_fail_safe_also_serves_expired_results) {
  cachet::cached<&send_report, cachet::fail_safe<600>, cachet::ttl<30>,
                 cachet::rate_limit<1, cachet::per<3600>, cachet::serve_cached>>
      report{backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(report(1, "a"), "1/a");
  EXPECT_EQ(report(1, "a"), "1/a");
  EXPECT_EQ(report.stats().stale_served, 0u);  // fresh: served as a hit by serve_cached
  clock.advance(31s);
  EXPECT_EQ(report(1, "a"), "1/a");
  EXPECT_EQ(report.stats().stale_served, 1u);
  EXPECT_EQ(sends, 1);
}

// A policy whose stage takes the whole context: it sees the cached object's backend and names,
// which is how rate_limit finds a shared backend and scopes its limits there.
struct seen_context {
  const void* backend = nullptr;
  std::string function_name;
  std::string key_template;
  std::optional<std::uint64_t> rate_limit;
};
seen_context seen;

struct context_probe : cachet::detail::policy<context_probe> {
  template <class Value>
  class call_stage {
   public:
    template <class Backend>
    explicit call_stage(const cachet::detail::stage_context<Backend>& context) {
      seen = {&context.backend, std::string(context.function_name),
              std::string(context.key_template), context.opts.rate_limit};
    }
    template <class Next, class... Args>
    Value operator()(std::string_view, Next&& next, const Args&...) {
      return std::forward<Next>(next)();
    }
  };
};

TEST_F(rate_limit_policy, a_stage_can_be_built_from_the_backend_and_the_names) {
  cachet::cached<&send_report, context_probe> plain{backend, cachet::options{.rate_limit = 9}};
  EXPECT_EQ(seen.backend, &backend);
  EXPECT_EQ(seen.function_name, cachet::detail::function_name<&send_report>());
  EXPECT_EQ(seen.key_template, "");
  EXPECT_EQ(seen.rate_limit, 9u);
  auto lambda = cachet::make_cached<context_probe, cachet::key<"lambda:{}">>(
      [](int x) { return x; }, backend);
  EXPECT_EQ(seen.function_name, "");
  EXPECT_EQ(seen.key_template, "lambda:{}");
  EXPECT_EQ(lambda(4), 4);
  EXPECT_EQ(plain(1, "a"), "1/a");
}

}  // namespace
