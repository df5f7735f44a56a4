// Run-time options that no policy can work with are refused when the cached object is built
// (issue #9, point 7).

#include <cachet.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace {

using namespace std::chrono_literals;

int loads = 0;
int load(int x) {
  ++loads;
  return x;
}

std::string construction_error(const cachet::options& opts) {
  try {
    cachet::memory backend;
    cachet::cached<&load, cachet::ttl<60>, cachet::fail_safe<60>,
                   cachet::retry<2, cachet::backoff<1, 2>>>
        f{backend, opts};
  } catch (const cachet::error& e) {
    return e.what();
  }
  return {};
}

TEST(Options, NegativeTtlIsRefusedNamingTheField) {
  const std::string what = construction_error({.ttl = -5s});
  EXPECT_EQ(what.rfind("cachet::options: ttl is negative (-5000 ms)", 0), 0u) << what;
  EXPECT_NE(what.find("give 0 (never expires) or a positive duration"), std::string::npos) << what;
}

TEST(Options, EveryNegativeDurationIsRefused) {
  EXPECT_NE(construction_error({.fail_safe_max_stale = -1ms}).find("fail_safe_max_stale"),
            std::string::npos);
  EXPECT_NE(construction_error({.retry_base_delay = -1ms}).find("retry_base_delay"),
            std::string::npos);
  EXPECT_NE(construction_error({.rate_limit_period = -1ms}).find("rate_limit_period"),
            std::string::npos);
  EXPECT_NE(construction_error({.circuit_breaker_cooldown = -1ms}).find("circuit_breaker_cooldown"),
            std::string::npos);
}

TEST(Options, ZeroAndPositiveDurationsAreAccepted) {
  EXPECT_EQ(construction_error({.ttl = 0s}), "");
  EXPECT_EQ(construction_error({.ttl = 1s, .retry_base_delay = 0ms, .fail_safe_max_stale = 0ms}),
            "");
}

TEST(Options, ARefusedObjectLeavesTheBackendUsable) {
  cachet::memory backend;
  using priced = cachet::cached<&load, cachet::key<"p:{}">>;
  EXPECT_THROW(priced(backend, cachet::options{.ttl = -1s}), cachet::error);
  // Its key template was released with it.
  priced f{backend};
  loads = 0;
  EXPECT_EQ(f(4), 4);
  EXPECT_EQ(f(4), 4);
  EXPECT_EQ(loads, 1);
}

}  // namespace
