// cached<>::async_many with rate_limit, circuit_breaker, retry and fail_safe on the Redis backend,
// against the CTest fixture's redis-server: each argument of a batch is one call for the policies,
// and the batch still looks its keys up in one MGET. Time is a cachet::manual_clock wherever a
// count or a duration is asserted.
#include <cachet/circuit_breaker.hpp>
#include <cachet/fail_safe.hpp>
#include <cachet/rate_limit.hpp>
#include <cachet/redis.hpp>
#include <cachet/retry.hpp>

#include <boost/asio/awaitable.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "redis/quote_stages_fixture.hpp"
#include "support/quote_service.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
using cachet_test::await;
using strings = std::vector<std::string>;

using cachet_test::hiccup;
using cachet_test::outage;
using cachet_test::quote_service;

using redis_async_many_stages = cachet_test::redis_quote_stages;

TEST_F(redis_async_many_stages, the_limit_counts_each_argument_of_a_batch) {
  auto quote = make_recording<cachet::ttl<300>, cachet::rate_limit<4, cachet::per<3600>>>();
  const strings three{"ACME", "INIT", "ACME"};
  const strings expected{"ACME@1", "INIT@1", "ACME@1"};
  EXPECT_EQ(await(quote.async_many(three)), expected);
  EXPECT_EQ(service.called, (strings{"ACME", "INIT"}));  // a key given twice is computed once
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");       // the fourth call of the limit
  const strings one{"ACME"};
  EXPECT_THROW(await(quote.async_many(one)), cachet::rate_limited);
  EXPECT_EQ(service.called.size(), 2u);
}

TEST_F(redis_async_many_stages, a_limited_argument_fails_the_batch_after_the_others_are_stored) {
  auto quote = make_recording<cachet::ttl<300>, cachet::rate_limit<2, cachet::per<3600>>>();
  const strings three{"ACME", "INIT", "BOLT"};
  try {
    await(quote.async_many(three));
    ADD_FAILURE() << "the third argument was admitted";
  } catch (const cachet::rate_limited& e) {
    EXPECT_EQ(e.retry_after(), 30min);  // one call's worth of a 2-per-hour limit
  }
  // The admitted arguments were computed and stored; the limited one was not even looked up.
  EXPECT_EQ(service.called, (strings{"ACME", "INIT"}));
  EXPECT_EQ(quote.peek("ACME"), "ACME@1");
  EXPECT_EQ(quote.peek("INIT"), "INIT@1");
  EXPECT_EQ(quote.peek("BOLT"), std::nullopt);
  EXPECT_EQ(quote.stats().misses, 2u);
}

TEST_F(redis_async_many_stages, serve_cached_answers_limited_arguments_from_the_same_lookup) {
  auto quote =
      make_recording<cachet::ttl<300>, cachet::rate_limit<1, cachet::per<3600>, cachet::by<"{}">,
                                                          cachet::serve_cached>>();
  const strings two{"ACME", "INIT"};
  EXPECT_EQ(await(quote.async_many(two)), (strings{"ACME@1", "INIT@1"}));
  service.generation = 2;  // a call that got through would show it
  const strings three{"ACME", "BOLT", "INIT"};
  EXPECT_EQ(await(quote.async_many(three)), (strings{"ACME@1", "BOLT@2", "INIT@1"}));
  EXPECT_EQ(service.called, (strings{"ACME", "INIT", "BOLT"}));
  quote.invalidate("INIT");  // still limited, and nothing fresh to serve
  EXPECT_THROW(await(quote.async_many(three)), cachet::rate_limited);
  EXPECT_EQ(service.called.size(), 3u);
}

TEST_F(redis_async_many_stages, fail_safe_answers_a_limited_argument_with_its_stale_value) {
  auto quote = make_recording<cachet::ttl<30>, cachet::fail_safe<3600>,
                              cachet::rate_limit<1, cachet::per<3600>, cachet::by<"{}">>>();
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  clock.advance(31s);
  service.generation = 2;
  const strings two{"ACME", "INIT"};
  EXPECT_EQ(await(quote.async_many(two)), (strings{"ACME@1", "INIT@2"}));
  EXPECT_EQ(service.called, (strings{"ACME", "INIT"}));
  EXPECT_EQ(quote.stats().stale_served, 1u);
}

TEST_F(redis_async_many_stages, the_breaker_counts_each_miss_and_then_fails_the_rest_fast) {
  auto quote = make_recording<cachet::ttl<300>, cachet::circuit_breaker<2, cachet::cooldown<60>>>();
  const strings stored{"BOLT"};
  EXPECT_EQ(await(quote.async_many(stored)), (strings{"BOLT@1"}));
  service.down = true;
  const strings five{"ACME", "BOLT", "INIT", "CORE", "DYNA"};
  // ACME and INIT fail and open the circuit; CORE and DYNA meet it open; BOLT is a hit. The
  // batch throws the first failure in argument order.
  EXPECT_THROW(await(quote.async_many(five)), outage);
  EXPECT_EQ(service.called, (strings{"BOLT", "ACME", "INIT"}));
  EXPECT_THROW(await(quote.async("CORE")), cachet::circuit_open);
  clock.advance(60s);
  service.down = false;
  const strings two{"ACME", "INIT"};
  EXPECT_EQ(await(quote.async_many(two)), (strings{"ACME@1", "INIT@1"}));  // the probe closes it
  EXPECT_EQ(service.called, (strings{"BOLT", "ACME", "INIT", "ACME", "INIT"}));
}

TEST_F(redis_async_many_stages, the_results_of_other_arguments_are_stored_when_one_fails) {
  auto quote = make_recording<cachet::ttl<300>, cachet::circuit_breaker<5>>();
  service.failing = {"INIT"};
  const strings three{"ACME", "INIT", "BOLT"};
  EXPECT_THROW(await(quote.async_many(three)), outage);
  EXPECT_EQ(service.called, (strings{"ACME", "INIT", "BOLT"}));
  EXPECT_EQ(quote.peek("ACME"), "ACME@1");
  EXPECT_EQ(quote.peek("BOLT"), "BOLT@1");
  EXPECT_EQ(quote.peek("INIT"), std::nullopt);
}

TEST_F(redis_async_many_stages, retry_calls_each_miss_again_after_its_transient_failures) {
  auto quote = make_recording<cachet::ttl<300>, cachet::retry<3, cachet::backoff<100, 10000>>>();
  service.hiccups = 2;
  const strings two{"ACME", "INIT"};
  EXPECT_EQ(await(quote.async_many(two)), (strings{"ACME@1", "INIT@1"}));
  EXPECT_EQ(service.called, (strings{"ACME", "ACME", "ACME", "INIT"}));
  ASSERT_EQ(delays.size(), 2u);
  EXPECT_LE(delays[0], 100ms);
  EXPECT_LE(delays[1], 200ms);
  service.down = true;  // not transient: one call only
  const strings other{"BOLT"};
  EXPECT_THROW(await(quote.async_many(other)), outage);
  EXPECT_EQ(service.called.size(), 5u);
  EXPECT_EQ(delays.size(), 2u);
}

TEST_F(redis_async_many_stages, retry_gives_up_on_one_argument_and_the_others_still_load) {
  auto quote = make_recording<cachet::ttl<300>, cachet::retry<2>>();
  service.hiccups = 3;  // every attempt for ACME
  const strings two{"ACME", "INIT"};
  EXPECT_THROW(await(quote.async_many(two)), hiccup);
  EXPECT_EQ(service.called, (strings{"ACME", "ACME", "ACME", "INIT"}));
  EXPECT_EQ(quote.peek("INIT"), "INIT@1");
}

TEST_F(redis_async_many_stages, fail_safe_applies_to_batches_without_other_policies) {
  auto quote = make_recording<cachet::ttl<30>, cachet::fail_safe<3600>>();
  const strings two{"ACME", "INIT"};
  EXPECT_EQ(await(quote.async_many(two)), (strings{"ACME@1", "INIT@1"}));
  clock.advance(31s);
  service.generation = 2;
  service.failing = {"ACME"};
  EXPECT_EQ(await(quote.async_many(two)), (strings{"ACME@1", "INIT@2"}));  // ACME: stale
  EXPECT_EQ(quote.stats().stale_served, 1u);
  const strings unknown{"BOLT", "ACME"};
  service.failing = {"ACME", "BOLT"};
  EXPECT_THROW(await(quote.async_many(unknown)), outage);  // nothing stored for BOLT
  EXPECT_EQ(service.called, (strings{"ACME", "INIT", "ACME", "INIT", "BOLT", "ACME"}));
}

}  // namespace
