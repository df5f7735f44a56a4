// cachet::fail_safe through cached<> on the Redis backend: the blocking call and async().
#include <cachet/fail_safe.hpp>
#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "redis/degraded_test_support.hpp"
#include "support/quote_service.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

using cachet_test::outage;
using cachet_test::quote_service;

class redis_fail_safe : public ::testing::Test {
 protected:
  template <class... Policies>
  auto make() {
    return cachet::make_cached<cachet::key<"quote:{}">, cachet::backend<cachet::redis>,
                               Policies...>(
        [this](const std::string& symbol) { return service.quote(symbol); }, *backend,
        cachet::options{.clock = &clock});
  }

  cachet::manual_clock clock;
  std::unique_ptr<cachet::redis> backend =
      cachet_test::make_degradable_backend(cachet_test::shared_redis_url(), 2000ms, {});
  quote_service service;
};

TEST_F(redis_fail_safe, a_failed_call_after_the_ttl_is_answered_with_the_last_good_value) {
  auto quote = make<cachet::ttl<30>, cachet::fail_safe<3600>>();
  EXPECT_EQ(quote("ACME"), "ACME@1");
  clock.advance(31s);
  service.down = true;
  EXPECT_EQ(quote("ACME"), "ACME@1");
  EXPECT_EQ(service.calls, 2);
  EXPECT_EQ(quote.stats().stale_served, 1u);
  EXPECT_EQ(quote.peek("ACME"), std::nullopt);  // peek gives fresh values only
  EXPECT_THROW(quote("INIT"), outage);          // nothing stored for it
}

TEST_F(redis_fail_safe, a_success_after_the_ttl_replaces_the_stale_value) {
  auto quote = make<cachet::ttl<30>, cachet::fail_safe<3600>>();
  EXPECT_EQ(quote("ACME"), "ACME@1");
  clock.advance(31s);
  service.generation = 2;
  EXPECT_EQ(quote("ACME"), "ACME@2");
  clock.advance(31s);
  service.down = true;
  EXPECT_EQ(quote("ACME"), "ACME@2");
}

TEST_F(redis_fail_safe, async_answers_a_failure_with_the_stale_value) {
  auto quote = make<cachet::ttl<30>, cachet::fail_safe<3600>>();
  EXPECT_EQ(cachet_test::await(quote.async("ACME")), "ACME@1");
  clock.advance(31s);
  service.down = true;
  EXPECT_EQ(cachet_test::await(quote.async("ACME")), "ACME@1");
  EXPECT_EQ(quote.stats().stale_served, 1u);
  EXPECT_THROW(cachet_test::await(quote.async("INIT")), outage);
}

TEST_F(redis_fail_safe, invalidated_entries_are_never_served) {
  auto quote = make<cachet::ttl<30>, cachet::fail_safe<3600>, cachet::tags<"symbol:{}">>();
  EXPECT_EQ(quote("ACME"), "ACME@1");
  EXPECT_EQ(quote("INIT"), "INIT@1");
  backend->invalidate_tag("symbol:ACME");
  quote.invalidate("INIT");
  service.down = true;
  EXPECT_THROW(quote("ACME"), outage);
  EXPECT_THROW(quote("INIT"), outage);
  EXPECT_EQ(quote.stats().stale_served, 0u);
}

TEST_F(redis_fail_safe, nothing_older_than_the_maximum_staleness_is_served) {
  auto quote = make<cachet::ttl<30>, cachet::fail_safe<60>>();
  EXPECT_EQ(quote("ACME"), "ACME@1");
  service.down = true;
  clock.advance(89s);
  EXPECT_EQ(quote("ACME"), "ACME@1");
  clock.advance(1s);
  EXPECT_THROW(quote("ACME"), outage);
}

}  // namespace
