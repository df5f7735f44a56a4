// Observer events and health() on the Redis backend, against the shared fixture server and
// private servers the tests stop and restart.

#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {
int triple(int x) { return 3 * x; }
}  // namespace app

namespace {

using namespace std::chrono_literals;
using cachet_test::make_test_backend;
using cachet_test::private_redis_server;
using cachet_test::shared_redis_url;

struct counting {
  std::atomic<int> hits{0}, misses{0}, loads{0}, load_errors{0};
  void on_hit(const cachet::event&) { ++hits; }
  void on_miss(const cachet::event&) { ++misses; }
  void on_load(const cachet::event&) { ++loads; }
  void on_load_error(const cachet::event&) { ++load_errors; }
};

using observed = cachet::cached<&app::triple, cachet::ttl<300>, cachet::key<"t:{}">,
                                cachet::backend<cachet::redis>, cachet::observer<counting>>;

TEST(RedisObserver, MissesLoadsAndHitsMatchStats) {
  auto backend = make_test_backend(shared_redis_url());
  observed f{*backend};
  EXPECT_EQ(f(1), 3);
  EXPECT_EQ(f(1), 3);
  EXPECT_EQ(f(1), 3);
  EXPECT_EQ(f(2), 6);
  const counting& o = f.observer();
  EXPECT_EQ(o.misses.load(), 2);
  EXPECT_EQ(o.loads.load(), 2);
  EXPECT_EQ(o.hits.load(), 2);
  EXPECT_EQ(static_cast<std::uint64_t>(o.hits.load()), f.stats().hits);
  EXPECT_EQ(static_cast<std::uint64_t>(o.loads.load()), f.stats().loads);
}

TEST(RedisObserver, AnotherObjectsEntryIsAHit) {
  auto backend = make_test_backend(shared_redis_url());
  observed writer{*backend};
  observed reader{*backend};
  writer(5);
  reader(5);
  EXPECT_EQ(reader.observer().hits.load(), 1);
  EXPECT_EQ(reader.observer().misses.load(), 0);
}

TEST(RedisHealth, AServerThatAnswersIsReady) {
  auto backend = make_test_backend(shared_redis_url());
  const cachet::health h = backend->health();
  EXPECT_TRUE(h.connected);
  EXPECT_TRUE(h.ready());
  EXPECT_EQ(h.breaker, cachet::circuit_state::closed);
  EXPECT_TRUE(h.last_error.empty()) << h.last_error;
  EXPECT_EQ(h.pending_invalidations, 0u);
  EXPECT_GT(h.round_trip.count(), 0);
}

TEST(RedisHealth, AStoppedServerIsReportedWithWhyAndCallsStillLoad) {
  private_redis_server server;
  auto backend = make_test_backend(server.url(), 300ms);
  observed f{*backend};
  EXPECT_EQ(f(1), 3);
  server.kill();
  EXPECT_EQ(f(1), 3);  // Redis is gone: the function answers, and the failure is counted
  EXPECT_GE(f.stats().backend_errors, 1u);
  EXPECT_EQ(f.observer().loads.load(), 2);
  EXPECT_THROW(backend->invalidate_tag("x"), cachet::redis::request_error);

  const cachet::health down = backend->health();
  EXPECT_FALSE(down.connected);
  EXPECT_FALSE(down.ready());
  EXPECT_FALSE(down.last_error.empty());
  EXPECT_EQ(down.pending_invalidations, 1u);
  EXPECT_EQ(down.round_trip.count(), 0);

  server.restart();
  backend->replay_invalidations();
  const cachet::health up = backend->health();
  EXPECT_TRUE(up.connected) << up.last_error;
  EXPECT_EQ(up.pending_invalidations, 0u);
}

TEST(RedisHealth, ARefusedHandshakeShowsTheServersText) {
  private_redis_server server{{"--requirepass", "right"}};
  auto cfg = cachet_test::degraded_config(server.url(), 2s);
  cfg.password = "wrong";
  cachet::redis backend{cfg, cachet::redis_options{.key_prefix = cachet_test::test_prefix()}};
  const cachet::health h = backend.health();
  EXPECT_FALSE(h.connected);
  EXPECT_NE(h.last_error.find("WRONGPASS"), std::string::npos) << h.last_error;
}

}  // namespace
