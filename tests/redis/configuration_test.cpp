// Bad configuration is loud and fast on the Redis backend (issue #9, point 7): a server nobody
// listens on costs a call no request deadline, and a refused handshake (wrong password, unknown
// user, database out of range, no password) shows the server's own text in last_error() and
// verify() without an invalidation having to fail.

#include <cachet/redis.hpp>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

int doubled(int x) { return 2 * x; }
using doubled_cache = cachet::cached<&doubled, cachet::ttl<60>, cachet::backend<cachet::redis>>;

// A backend whose breaker never opens, so every call really asks Redis.
cachet::redis backend_for(cachet::redis::config cfg) {
  return cachet::redis(std::move(cfg), {.key_prefix = cachet_test::test_prefix(),
                                        .breaker = {.consecutive_failures = 0}});
}

TEST(RedisConfiguration, NothingListeningCostsACallNoRequestDeadline) {
  auto cfg = cachet::redis::config::from_url("redis://127.0.0.1:1");
  cfg.request_timeout = 5s;
  cachet::redis backend = backend_for(cfg);
  doubled_cache f{backend};
  const auto start = clock_type::now();
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(f(i), 2 * i);
  const auto took = clock_type::now() - start;
  EXPECT_LT(took, cfg.request_timeout / 2);
  EXPECT_GE(f.stats().backend_errors, 5u);
  EXPECT_EQ(f.stats().backend_skipped, 0u);
  const std::string why = backend.last_error();
  EXPECT_NE(why.find("127.0.0.1:1"), std::string::npos) << why;
  EXPECT_NE(why.find("refused"), std::string::npos) << why;
  try {
    backend.verify();
    ADD_FAILURE() << "verify() accepted a server nobody listens on";
  } catch (const cachet::redis::request_error& e) {
    EXPECT_EQ(e.code(), cachet::redis::error::not_connected) << e.what();
    EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
  }
}

class RedisRefusedHandshake : public ::testing::Test {
 protected:
  cachet_test::private_redis_server server{{"--requirepass", "right"}};

  cachet::redis::config config() const {
    auto cfg = cachet_test::degraded_config(server.url(), 5s);
    cfg.password = "right";
    return cfg;
  }

  // The server's text reaches last_error() after a cached call (which still returns the
  // function's result, without waiting for its deadline) and verify() throws it.
  void expect_server_text(const cachet::redis::config& cfg, const std::string& text) {
    cachet::redis backend = backend_for(cfg);
    doubled_cache f{backend};
    const auto start = clock_type::now();
    EXPECT_EQ(f(21), 42);
    EXPECT_LT(clock_type::now() - start, cfg.request_timeout / 2);
    EXPECT_GE(f.stats().backend_errors, 1u);
    const std::string why = backend.last_error();
    EXPECT_NE(why.find(text), std::string::npos) << why;
    try {
      backend.verify();
      ADD_FAILURE() << "verify() accepted a refused handshake";
    } catch (const cachet::redis::request_error& e) {
      EXPECT_EQ(e.code(), cachet::redis::error::handshake_failed) << e.what();
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  }
};

TEST_F(RedisRefusedHandshake, WrongPassword) {
  auto cfg = config();
  cfg.password = "wrong";
  expect_server_text(cfg, "WRONGPASS");
}

TEST_F(RedisRefusedHandshake, UnknownUser) {
  auto cfg = config();
  cfg.username = "nobody";
  expect_server_text(cfg, "WRONGPASS");
}

TEST_F(RedisRefusedHandshake, DatabaseOutOfRange) {
  auto cfg = config();
  cfg.database = 99;
  expect_server_text(cfg, "DB index is out of range");
}

TEST_F(RedisRefusedHandshake, NoPassword) {
  auto cfg = config();
  cfg.password.clear();
  expect_server_text(cfg, "NOAUTH");
}

TEST_F(RedisRefusedHandshake, TheRightPasswordLeavesNoError) {
  cachet::redis backend = backend_for(config());
  backend.verify();
  EXPECT_EQ(backend.last_error(), "");
  doubled_cache f{backend};
  EXPECT_EQ(f(21), 42);
  EXPECT_EQ(f(21), 42);
  EXPECT_EQ(f.stats().backend_errors, 0u);
  EXPECT_EQ(f.stats().hits, 1u);
}

TEST(RedisConfiguration, NegativeTtlIsRefusedAtConstruction) {
  cachet::redis backend =
      backend_for(cachet_test::degraded_config(cachet_test::shared_redis_url(), 2s));
  try {
    doubled_cache f{backend, cachet::options{.ttl = -1s}};
    ADD_FAILURE() << "a negative ttl was accepted";
  } catch (const cachet::error& e) {
    EXPECT_NE(std::string(e.what()).find("cachet::options: ttl is negative"), std::string::npos)
        << e.what();
  }
}

TEST(RedisConfiguration, AnUnusableConfigIsRefusedWhenTheBackendIsBuilt) {
  auto cfg = cachet_test::degraded_config(cachet_test::shared_redis_url(), 2s);
  cfg.request_timeout = -1s;
  try {
    cachet::redis backend{cfg};
    ADD_FAILURE() << "a negative request_timeout was accepted";
  } catch (const cachet::error& e) {
    EXPECT_NE(std::string(e.what()).find("cachet::redis::config: request_timeout is negative"),
              std::string::npos)
        << e.what();
  }
}

// A cluster URL is served (keys in buckets, see key_layout.hpp); a bucket count that cannot
// map evenly onto the slots, or a prefix that would cut the buckets' hash tags short, is refused
// with a reason. The one-server client still refuses cluster seeds.
TEST(RedisConfiguration, AClusterUrlIsServedAndABadBucketLayoutRefused) {
  const auto cfg = cachet::redis::config::from_url("redis-cluster://127.0.0.1:7000,127.0.0.1:7001");
  EXPECT_NO_THROW(cachet::redis{cfg}) << "nothing is connected before the first call";
  const auto refused = [&](cachet::redis_options opts, const std::string& why) {
    try {
      cachet::redis backend{cfg, std::move(opts)};
      ADD_FAILURE() << "accepted: " << why;
    } catch (const cachet::error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  refused({.cluster_buckets = 0}, "cachet::redis: cluster_buckets is 0, but it must be a power");
  refused({.cluster_buckets = 48}, "cluster_buckets is 48");
  refused({.cluster_buckets = 32768}, "cluster_buckets is 32768");
  refused({.key_prefix = "a{b}"}, "the key prefix \"a{b}\" has a brace");
  EXPECT_NO_THROW((cachet::redis{cfg, {.cluster_buckets = 1}}));
  EXPECT_NO_THROW((cachet::redis{cachet::redis::config::from_url("redis://127.0.0.1:1"),
                                 {.key_prefix = "a{b}"}}))
      << "braces matter only on a cluster";
  boost::asio::io_context io;
  EXPECT_THROW(cachet::resp3::client(io.get_executor(), cfg), cachet::error);
}

}  // namespace
