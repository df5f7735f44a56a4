#include <cachet/redis/script.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "redis/client_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

namespace asio = boost::asio;
namespace redis = cachet::resp3;
using cachet_test::run_async;
using cachet_test::unique_key;

TEST(RedisScriptSha1, KnownVectors) {
  using redis::detail::sha1_hex;
  EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(sha1_hex(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  // Lengths around the padding boundary (55, 56, 63, 64 bytes) against the server's own SHA-1
  // are covered by MatchesScriptLoad below.
}

TEST(RedisScript, MatchesScriptLoadForEveryPaddingCase) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    redis::client c(ex, cachet_test::fast_config(cachet_test::shared_redis_url()));
    for (std::size_t len : {0u, 1u, 55u, 56u, 57u, 63u, 64u, 65u, 119u, 120u, 128u, 1000u}) {
      std::string body = "return '" + std::string(len, 'z') + "'";
      redis::script s{body};
      auto loaded = co_await c.exec("SCRIPT", "LOAD", body);
      EXPECT_EQ(s.sha1(), loaded.as_string()) << "script length " << body.size();
    }
  });
}

TEST(RedisScript, EvalshaFallsBackToEvalOnNoscript) {
  cachet_test::private_redis_server server;  // SCRIPT FLUSH would disturb a shared server
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    redis::client c(ex, cachet_test::fast_config(server.url()));
    const redis::script add{"return redis.call('INCRBY', KEYS[1], ARGV[1]) + tonumber(ARGV[2])"};
    EXPECT_EQ((co_await c.exec("SCRIPT", "EXISTS", add.sha1())).as_array()[0].as_int(), 0);
    // Named vectors: g++ 12 rejects braced lists inside co_await expressions.
    const std::vector<std::string> n{"n"}, five_plus_100{"5", "100"}, one_plus_0{"1", "0"};
    auto first = co_await add.exec(c, n, five_plus_100);
    EXPECT_EQ(first.as_int(), 105);
    // The EVAL fallback cached it: now EVALSHA alone works.
    EXPECT_EQ((co_await c.exec("SCRIPT", "EXISTS", add.sha1())).as_array()[0].as_int(), 1);
    auto second = co_await add.exec(c, n, one_plus_0);
    EXPECT_EQ(second.as_int(), 6);  // ran exactly once per call
    co_await c.exec("SCRIPT", "FLUSH");
    EXPECT_EQ((co_await add.exec(c, n, one_plus_0)).as_int(), 7);
  });
}

TEST(RedisScript, LuaErrorsAreServerErrors) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    redis::client c(ex, cachet_test::fast_config(cachet_test::shared_redis_url()));
    const redis::script bad{"return redis.call('NOSUCHCMD')"};
    try {
      co_await bad.exec(c);
      ADD_FAILURE() << "no error";
    } catch (const redis::server_error& e) {
      EXPECT_NE(e.server_message().find("Unknown Redis command"), std::string_view::npos)
          << e.server_message();
    }
    const redis::script keys{"return KEYS[1] .. ARGV[1]"};
    const std::vector<std::string> key{unique_key("k")}, bang{"!"};
    EXPECT_EQ((co_await keys.exec(c, key, bang)).as_string(), unique_key("k") + "!");
  });
}

}  // namespace
