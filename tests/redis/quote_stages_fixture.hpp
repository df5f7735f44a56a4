// The quote service cached on the Redis backend, with a manual clock: the fixture of the tests
// that drive rate_limit, circuit_breaker, retry and fail_safe through async() and async_many().
#pragma once

#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/quote_service.hpp"
#include "support/redis_server.hpp"

namespace cachet_test {

class redis_quote_stages : public ::testing::Test {
 protected:
  template <class... Policies>
  auto make() {
    return cachet::make_cached<cachet::key<"quote:{}">, cachet::backend<cachet::redis>,
                               Policies...>(
        [this](const std::string& symbol) { return service.quote(symbol); }, *backend,
        cachet::options{.clock = &clock});
  }

  // Backoffs are recorded, not waited for.
  template <class... Policies>
  auto make_recording() {
    return cachet::make_cached<cachet::key<"quote:{}">, cachet::backend<cachet::redis>,
                               Policies...>(
        [this](const std::string& symbol) { return service.quote(symbol); }, *backend,
        cachet::options{.clock = &clock, .retry_sleep = [this](std::chrono::nanoseconds d) {
                          delays.push_back(d);
                        }});
  }

  cachet::manual_clock clock;
  // Keys of this test and run: limits stay in Redis for their period of the server's time.
  std::unique_ptr<cachet::redis> backend = make_test_backend(shared_redis_url());
  quote_service service;
  std::vector<std::chrono::nanoseconds> delays;
};

}  // namespace cachet_test
