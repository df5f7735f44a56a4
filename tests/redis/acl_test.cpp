// An ACL user restricted to cachet's key patterns (README, "ACL") works; one restricted to other
// keys gets the server's NOPERM text, and cached calls still answer from their function.

#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <string>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {
int acl_double(int x) { return 2 * x; }
}  // namespace app

namespace {

using cachet_test::make_test_backend;
using cachet_test::private_redis_server;
using cachet_test::raw_command;
using doubles = cachet::cached<&app::acl_double, cachet::ttl<300>, cachet::key<"d:{}">,
                               cachet::tags<"doubles">, cachet::backend<cachet::redis>>;

// The user the README tells users to create, for the key prefix "shop".
void create_shop_user(const private_redis_server& server) {
  EXPECT_EQ(raw_command(server.url(), "ACL", "SETUSER", "shop", "on", ">pw", "resetkeys", "~shop:*",
                        "resetchannels", "&shop:*", "-@all", "+@read", "+@write", "+@scripting",
                        "+@connection", "+time")
                .text,
            "OK");
}

std::string shop_url(const private_redis_server& server) {
  return "redis://shop:pw@127.0.0.1:" + std::to_string(server.port());
}

TEST(RedisAcl, AUserGrantedCachetsPatternsCachesInvalidatesAndClears) {
  private_redis_server server;
  create_shop_user(server);
  auto cache = make_test_backend(shop_url(server), std::chrono::seconds(2), "shop");
  cache->verify();
  doubles twice{*cache};
  EXPECT_EQ(twice(1), 2);
  EXPECT_EQ(twice(1), 2);
  EXPECT_EQ(twice.stats().hits, 1u);
  twice.invalidate_tag("doubles");
  EXPECT_EQ(twice(1), 2);
  twice.clear();
  EXPECT_EQ(twice(1), 2);
  EXPECT_EQ(twice(1), 2);
  EXPECT_EQ(twice.stats().hits, 2u);
  EXPECT_EQ(twice.stats().backend_errors, 0u);
}

TEST(RedisAcl, KeysOutsideTheGrantGiveTheServersTextAndCallsStillAnswer) {
  private_redis_server server;
  create_shop_user(server);
  auto cache = make_test_backend(shop_url(server), std::chrono::seconds(2), "elsewhere");
  doubles twice{*cache};
  EXPECT_EQ(twice(5), 10);
  EXPECT_EQ(twice(5), 10);
  EXPECT_EQ(twice.stats().hits, 0u);
  EXPECT_EQ(twice.stats().backend_errors, 2u);  // each read refused
  try {
    twice.invalidate_tag("doubles");
    FAIL() << "an invalidation outside the user's keys was accepted";
  } catch (const cachet::redis::server_error& e) {
    EXPECT_EQ(std::string(e.server_message()).rfind("NOPERM", 0), 0u) << e.server_message();
  }
}

}  // namespace
