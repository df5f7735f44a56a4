// rate_limit, circuit_breaker and retry through cached<>::async() on the Redis backend, against the
// CTest fixture's redis-server. Time is a cachet::manual_clock wherever a count or a duration is
// asserted.
#include <cachet/circuit_breaker.hpp>
#include <cachet/fail_safe.hpp>
#include <cachet/rate_limit.hpp>
#include <cachet/redis.hpp>
#include <cachet/redis/rate_limiter.hpp>
#include <cachet/retry.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "redis/quote_stages_fixture.hpp"
#include "support/quote_service.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

using cachet_test::hiccup;
using cachet_test::outage;
using cachet_test::quote_service;

using cachet_test::await;

int coroutine_calls = 0;
asio::awaitable<std::string> fetch_quote(std::string symbol) {
  ++coroutine_calls;
  co_return symbol + "!";
}

using redis_async_stages = cachet_test::redis_quote_stages;

TEST_F(redis_async_stages, a_limit_in_redis_admits_exactly_the_limit_then_throws_at_co_await) {
  auto quote = make<cachet::ttl<300>, cachet::rate_limit<3, cachet::per<3600>, cachet::by<"{}">>>();
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");  // a hit, still counted
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  std::optional<asio::awaitable<std::string>> over;
  EXPECT_NO_THROW(over.emplace(quote.async("ACME")));  // nothing is decided before the co_await
  try {
    await(std::move(*over));
    ADD_FAILURE() << "the fourth call was admitted";
  } catch (const cachet::rate_limited& e) {
    EXPECT_EQ(e.retry_after(), 20min);  // one call's worth of a 3-per-hour limit
  }
  EXPECT_EQ(await(quote.async("INIT")), "INIT@1");  // another key, a limit of its own
  EXPECT_EQ(service.calls, 2);
  clock.advance(20min);
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  EXPECT_THROW(await(quote.async("ACME")), cachet::rate_limited);
}

TEST_F(redis_async_stages, blocking_and_async_calls_share_one_limit) {
  auto quote = make<cachet::ttl<300>, cachet::rate_limit<3, cachet::per<3600>>>();
  auto other = make<cachet::ttl<300>, cachet::rate_limit<3, cachet::per<3600>>>();
  EXPECT_EQ(quote("ACME"), "ACME@1");
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  EXPECT_EQ(await(other.async("INIT")), "INIT@1");  // the same key template: the same limit
  EXPECT_THROW(quote("ACME"), cachet::rate_limited);
  EXPECT_THROW(await(quote.async("ACME")), cachet::rate_limited);
  EXPECT_THROW(await(other.async("ACME")), cachet::rate_limited);
}

TEST_F(redis_async_stages, a_local_limit_applies_to_async_calls_too) {
  auto quote = make<cachet::rate_limit<2, cachet::per<3600>, cachet::per_process>>();
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  EXPECT_EQ(quote("ACME"), "ACME@1");
  EXPECT_THROW(await(quote.async("ACME")), cachet::rate_limited);
}

TEST_F(redis_async_stages, a_coroutine_function_is_limited_too) {
  coroutine_calls = 0;
  cachet::cached<&fetch_quote, cachet::key<"fetch:{}">, cachet::backend<cachet::redis>,
                 cachet::rate_limit<2, cachet::per<3600>>>
      quote{*backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(await(quote.async("ACME")), "ACME!");
  EXPECT_EQ(await(quote.async("INIT")), "INIT!");
  EXPECT_THROW(await(quote.async("ACME")), cachet::rate_limited);
  EXPECT_EQ(coroutine_calls, 2);
}

TEST_F(redis_async_stages, serve_cached_answers_a_limited_async_call_with_the_fresh_value) {
  auto quote =
      make<cachet::ttl<300>,
           cachet::rate_limit<1, cachet::per<3600>, cachet::by<"{}">, cachet::serve_cached>>();
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  service.generation = 2;  // a call that got through would show it
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  EXPECT_EQ(service.calls, 1);
  quote.invalidate("ACME");  // still limited, and nothing to serve
  EXPECT_THROW(await(quote.async("ACME")), cachet::rate_limited);
  EXPECT_EQ(await(quote.async("INIT")), "INIT@2");  // a limit of its own
  EXPECT_EQ(await(quote.async("INIT")), "INIT@2");  // over it: served
  EXPECT_EQ(service.calls, 2);
}

TEST_F(redis_async_stages, the_breaker_opens_after_failing_async_calls_and_then_fails_fast) {
  auto quote = make<cachet::ttl<300>, cachet::circuit_breaker<3, cachet::cooldown<60>>>();
  service.down = true;
  for (int i = 0; i < 3; ++i) EXPECT_THROW(await(quote.async("ACME")), outage);
  EXPECT_EQ(service.calls, 3);
  std::optional<asio::awaitable<std::string>> refused;
  EXPECT_NO_THROW(refused.emplace(quote.async("ACME")));
  EXPECT_THROW(await(std::move(*refused)), cachet::circuit_open);
  EXPECT_THROW(await(quote.async("INIT")), cachet::circuit_open);
  EXPECT_EQ(service.calls, 3);  // open: the function is not called
  clock.advance(60s);
  service.down = false;
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");  // the probe closes it
  EXPECT_EQ(await(quote.async("INIT")), "INIT@1");
  EXPECT_EQ(service.calls, 5);
}

TEST_F(redis_async_stages, the_breaker_counts_blocking_and_async_failures_together) {
  auto quote = make<cachet::circuit_breaker<2, cachet::cooldown<60>>>();
  service.down = true;
  EXPECT_THROW(quote("ACME"), outage);
  EXPECT_THROW(await(quote.async("ACME")), outage);
  EXPECT_THROW(quote("ACME"), cachet::circuit_open);
  EXPECT_EQ(service.calls, 2);
}

TEST_F(redis_async_stages, fail_safe_serves_the_stale_value_while_the_breaker_is_open) {
  auto quote = make<cachet::ttl<30>, cachet::fail_safe<3600>,
                    cachet::circuit_breaker<2, cachet::cooldown<600>>>();
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  clock.advance(31s);
  service.down = true;
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");  // failed: stale
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");  // failed again: the circuit opens
  EXPECT_EQ(service.calls, 3);
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");  // circuit_open: stale, without a call
  EXPECT_EQ(service.calls, 3);
  EXPECT_EQ(quote.stats().stale_served, 3u);
  EXPECT_THROW(await(quote.async("INIT")), cachet::circuit_open);  // nothing stored for it
}

TEST_F(redis_async_stages, retry_calls_again_after_transient_failures_then_stores_the_value) {
  auto quote = make_recording<cachet::ttl<300>, cachet::retry<3, cachet::backoff<100, 10000>>>();
  service.hiccups = 2;
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  EXPECT_EQ(service.calls, 3);
  ASSERT_EQ(delays.size(), 2u);
  EXPECT_LE(delays[0], 100ms);  // full jitter under a cap that doubles
  EXPECT_LE(delays[1], 200ms);
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");  // stored: a hit
  EXPECT_EQ(service.calls, 3);
}

TEST_F(redis_async_stages, retry_gives_up_after_its_retries_with_the_last_failure) {
  auto quote = make_recording<cachet::retry<2>>();
  service.hiccups = 5;
  EXPECT_THROW(await(quote.async("ACME")), hiccup);
  EXPECT_EQ(service.calls, 3);
  EXPECT_EQ(delays.size(), 2u);
}

TEST_F(redis_async_stages, retry_does_not_call_again_after_a_failure_that_is_not_transient) {
  auto quote = make_recording<cachet::retry<3>>();
  service.down = true;
  EXPECT_THROW(await(quote.async("ACME")), outage);
  EXPECT_EQ(service.calls, 1);
  EXPECT_TRUE(delays.empty());
}

TEST_F(redis_async_stages, retry_without_a_sleep_of_its_own_waits_on_a_timer) {
  auto quote = make<cachet::retry<2, cachet::backoff<1, 1>>>();
  service.hiccups = 2;
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  EXPECT_EQ(service.calls, 3);
}

// With one thread, work posted as the first attempt fails can only run before the second
// attempt if the backoff gave the thread back to the executor: a backoff that slept on the
// thread would retry first.
TEST_F(redis_async_stages, the_backoff_leaves_the_executors_thread_free) {
  asio::io_context io;
  bool posted_ran = false;
  std::vector<bool> posted_ran_at_attempt;
  auto quote = cachet::make_cached<cachet::key<"quote:{}">, cachet::backend<cachet::redis>,
                                   cachet::retry<1, cachet::backoff<1, 1>>>(
      [&](const std::string& symbol) {
        posted_ran_at_attempt.push_back(posted_ran);
        if (posted_ran_at_attempt.size() == 1) {
          asio::post(io, [&] { posted_ran = true; });
          throw hiccup();
        }
        return symbol;
      },
      *backend);
  EXPECT_EQ(cachet_test::await(io, quote.async("ACME")), "ACME");
  EXPECT_EQ(posted_ran_at_attempt, (std::vector<bool>{false, true}));
}

TEST_F(redis_async_stages, retry_before_the_breaker_stops_once_it_opens_and_fail_safe_answers) {
  auto quote = make_recording<cachet::ttl<30>, cachet::fail_safe<3600>, cachet::retry<5>,
                              cachet::circuit_breaker<2, cachet::cooldown<600>>>();
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  clock.advance(31s);
  service.hiccups = 100;
  // Two attempts open the circuit; the third meets circuit_open, which is never retried.
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  EXPECT_EQ(service.calls, 3);
  EXPECT_EQ(delays.size(), 2u);
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");  // open: stale at once
  EXPECT_EQ(service.calls, 3);
  EXPECT_EQ(delays.size(), 2u);
  EXPECT_EQ(quote.stats().stale_served, 2u);
  EXPECT_THROW(await(quote.async("INIT")), cachet::circuit_open);  // nothing stored for it
}

TEST_F(redis_async_stages, the_breaker_before_retry_counts_one_failure_per_exhausted_call) {
  auto quote =
      make_recording<cachet::circuit_breaker<2, cachet::cooldown<600>>, cachet::retry<2>>();
  service.hiccups = 100;
  EXPECT_THROW(await(quote.async("ACME")), hiccup);
  EXPECT_EQ(service.calls, 3);
  EXPECT_THROW(await(quote.async("ACME")), hiccup);  // the second failure opens it
  EXPECT_EQ(service.calls, 6);
  EXPECT_THROW(await(quote.async("ACME")), cachet::circuit_open);
  EXPECT_EQ(service.calls, 6);
  EXPECT_EQ(delays.size(), 4u);
  service.hiccups = 1;
  clock.advance(600s);
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");  // the probe retries, then closes it
  EXPECT_EQ(service.calls, 8);
}

}  // namespace
