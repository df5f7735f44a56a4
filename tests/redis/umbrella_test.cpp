// <cachet/redis.hpp> alone is enough for every policy on the Redis backend, and its templates,
// once instantiated, build with -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast (see
// tests/CMakeLists.txt). The test support header adds only Asio and GoogleTest.
#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;

int calls = 0;

std::string quote(const std::string& symbol, std::chrono::seconds age, std::uint16_t venue) {
  ++calls;
  return symbol + "@" + std::to_string(age.count()) + "/" + std::to_string(venue);
}

using quoted =
    cachet::cached<&quote, cachet::backend<cachet::redis>, cachet::key<"quote:{}:{}:{}">,
                   cachet::ttl<30>, cachet::tags<"symbol:{0}", "quotes">, cachet::fail_safe<60>,
                   cachet::retry<2>, cachet::circuit_breaker<3, cachet::cooldown<5>>,
                   cachet::rate_limit<100, cachet::per<60>, cachet::by<"{0}">>>;

TEST(redis_umbrella, every_policy_compiles_from_the_one_header_and_caches) {
  auto backend = cachet_test::make_test_backend(cachet_test::shared_redis_url());
  cachet::manual_clock clock;
  quoted get_quote{*backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(get_quote("AC ME", 2min, 7), "AC ME@120/7");
  EXPECT_EQ(get_quote("AC ME", 120s, 7), "AC ME@120/7");
  EXPECT_EQ(calls, 1);
  get_quote.invalidate_tag(cachet::tag<"symbol:{}">(std::string("AC ME")));
  EXPECT_EQ(get_quote.peek("AC ME", 120s, 7), std::nullopt);
  EXPECT_EQ(get_quote("AC ME", 120s, 7), "AC ME@120/7");
  EXPECT_EQ(calls, 2);
}

}  // namespace
