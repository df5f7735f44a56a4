// Issue #9, point 3: cachet's own keys live where no user key can. Free functions named `tag`,
// `fn` and `rate` with the default key, and a key template whose output starts with those
// words, cache and round-trip on Redis like any other function, and never disturb (nor are
// disturbed by) the tag and function counters and the rate limits of the same backend.

#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;

// Their default keys render as `tag:<id>`, `fn:<name>` and `rate:<limiter>:<key>` under the
// backend's prefix: the spelling of cachet's counters and rate limits.
long tag(long id) { return id * 10; }
long fn(std::string name) { return static_cast<long>(name.size()); }
long rate(std::string limiter, std::string key) {
  return static_cast<long>(limiter.size() * 100 + key.size());
}

// Tagged "<id>", so that invalidate_tag("42") concerns it; `fn:price` is its clear() counter.
long price_version = 0;
long price(long id) { return id + price_version; }

long labelled(std::string label, long id) { return static_cast<long>(label.size()) * 1000 + id; }

template <auto F, class... Policies>
using redis_cached =
    cachet::cached<F, cachet::ttl<60>, Policies..., cachet::backend<cachet::redis>>;

TEST(KeyCollision, AFunctionNamedTagDoesNotTouchTagCounters) {
  auto backend = cachet_test::make_test_backend(cachet_test::shared_redis_url());
  redis_cached<&tag> by_tag{*backend};
  redis_cached<&price, cachet::tags<"{}">> prices{*backend};
  price_version = 0;

  EXPECT_EQ(prices(42), 42);
  backend->invalidate_tag("42");  // the counter of tag "42" exists from here on
  EXPECT_EQ(by_tag(42), 420);
  EXPECT_EQ(by_tag(42), 420);
  EXPECT_EQ(by_tag.stats().hits, 1u);

  price_version = 1;
  EXPECT_NO_THROW(backend->invalidate_tag("42"));
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_EQ(prices(42), 43);
  EXPECT_EQ(prices(42), 43);
  EXPECT_EQ(prices.stats().hits, 1u);
  EXPECT_EQ(by_tag(42), 420);
  const cachet::stats s = by_tag.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.backend_errors + s.decode_errors + prices.stats().backend_errors, 0u);
}

TEST(KeyCollision, AFunctionNamedFnDoesNotTouchFunctionCounters) {
  auto backend = cachet_test::make_test_backend(cachet_test::shared_redis_url());
  redis_cached<&fn> by_fn{*backend};
  redis_cached<&price> prices{*backend};
  price_version = 0;

  EXPECT_EQ(prices(1), 1);
  EXPECT_EQ(by_fn("price"), 5);
  EXPECT_EQ(by_fn("price"), 5);
  EXPECT_EQ(by_fn.stats().hits, 1u);

  price_version = 1;
  EXPECT_NO_THROW(prices.clear());
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_EQ(prices(1), 2);
  EXPECT_EQ(prices(1), 2);
  EXPECT_EQ(prices.stats().hits, 1u);
  EXPECT_EQ(by_fn("price"), 5);
  const cachet::stats s = by_fn.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.backend_errors + s.decode_errors + prices.stats().backend_errors, 0u);
}

TEST(KeyCollision, AFunctionNamedRateDoesNotTouchRateLimits) {
  auto backend = cachet_test::make_test_backend(cachet_test::shared_redis_url());
  redis_cached<&rate> by_rate{*backend};
  cachet::redis::rate_limiter limiter{*backend, "api", 100, 1h};

  EXPECT_EQ(by_rate("api", "u1"), 302);
  const cachet::rate_limit_decision first = limiter.try_acquire("u1");
  EXPECT_TRUE(first.allowed);
  EXPECT_EQ(first.remaining, 99u);
  EXPECT_EQ(by_rate("api", "u1"), 302);
  const cachet::rate_limit_decision second = limiter.try_acquire("u1");
  EXPECT_TRUE(second.allowed);
  EXPECT_EQ(second.remaining, 98u) << "the limit lost its state";
  EXPECT_EQ(limiter.fallbacks(), 0u);
  const cachet::stats s = by_rate.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.backend_errors + s.decode_errors, 0u);
}

class ReservedWordInKey : public ::testing::TestWithParam<std::string> {};

TEST_P(ReservedWordInKey, AKeyTemplateCachesAndLeavesCountersAlone) {
  auto backend = cachet_test::make_test_backend(cachet_test::shared_redis_url());
  redis_cached<&labelled, cachet::key<"{}:{}">> by_label{*backend};
  redis_cached<&price, cachet::key<"price:{}">, cachet::tags<"{}">> prices{*backend};
  const std::string& word = GetParam();
  const long expected = static_cast<long>(word.size()) * 1000 + 42;
  price_version = 0;

  long first = -1;
  EXPECT_NO_THROW(first = by_label(word, 42));
  EXPECT_EQ(first, expected);
  EXPECT_EQ(prices(42), 42);
  EXPECT_EQ(by_label(word, 42), expected);
  EXPECT_EQ(by_label.stats().hits, 1u);

  price_version = 1;
  EXPECT_NO_THROW(backend->invalidate_tag("42"));
  EXPECT_NO_THROW(prices.clear());
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_EQ(prices(42), 43);
  EXPECT_EQ(by_label(word, 42), expected);
  const cachet::stats s = by_label.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.backend_errors + s.decode_errors, 0u);
}

INSTANTIATE_TEST_SUITE_P(Words, ReservedWordInKey, ::testing::Values("tag", "fn", "rate"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
