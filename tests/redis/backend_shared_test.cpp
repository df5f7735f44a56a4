// The process-wide Redis backend: cachet::redis::configure / shared(). A file of its own, since
// the state it changes lasts for the process.

#include <cachet/redis.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "support/redis_server.hpp"

namespace app {
long add_one(long x) { return x + 1; }
}  // namespace app

namespace {

// Declared before configure(), as a namespace-scope object would be: construction needs no
// server.
using add_one_cache =
    cachet::cached<&app::add_one, cachet::key<"plus1:{}">, cachet::backend<cachet::redis>>;

TEST(SharedRedisBackend, ConfigureBeforeFirstUseThenNeverAgain) {
  ::unsetenv("CACHET_REDIS_URL");
  add_one_cache add_one;

  // No configuration and no environment: the first use says what to do.
  try {
    add_one(1);
    FAIL() << "an unconfigured shared backend was used";
  } catch (const cachet::error& e) {
    EXPECT_NE(std::string(e.what()).find("cachet::redis::configure"), std::string::npos)
        << e.what();
  }

  EXPECT_THROW(cachet::redis::configure("http://127.0.0.1:6379"), cachet::redis::request_error);

  const std::string prefix = "cachet-test-" + std::to_string(::getpid()) + "-shared";
  cachet::redis::configure(cachet_test::shared_redis_url(), {.key_prefix = prefix});
  EXPECT_EQ(add_one(1), 2);
  EXPECT_EQ(add_one(1), 2);
  EXPECT_EQ(add_one.stats().hits, 1u);
  EXPECT_EQ(&add_one.backend(), &cachet::redis::shared());
  const auto stored = cachet::redis::shared().runtime().run(
      cachet::redis::shared().connection().exec("EXISTS", prefix + ":v1:plus1:1"));
  EXPECT_EQ(stored.as_int(), 1);

  // In use now: a later configure would silently not apply, so it throws.
  EXPECT_THROW(cachet::redis::configure(cachet_test::shared_redis_url()), cachet::error);
}

}  // namespace
