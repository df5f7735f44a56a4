// Observer events and health() on the Redis backend, against the shared fixture server and
// private servers the tests stop and restart.

#include <cachet/circuit_breaker.hpp>
#include <cachet/fail_safe.hpp>
#include <cachet/rate_limit.hpp>
#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/cache_report.hpp"
#include "support/redis_server.hpp"

namespace app {
int triple(int x) { return 3 * x; }

bool quintuple_fails = false;
int quintuple(int x) {
  if (quintuple_fails) throw std::runtime_error("quintuple failed");
  return 5 * x;
}
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

// Every event, in order, as "kind key".
struct recorder {
  std::mutex m;
  std::vector<std::string> events;

  void add(const char* kind, const cachet::event& e) {
    std::lock_guard lock(m);
    events.push_back(std::string(kind) + " " + std::string(e.key));
  }
  void on_hit(const cachet::event& e) { add("hit", e); }
  void on_miss(const cachet::event& e) { add("miss", e); }
  void on_load(const cachet::event& e) { add("load", e); }
  void on_load_error(const cachet::event& e) { add("load_error", e); }
  void on_stale_served(const cachet::event& e) { add("stale_served", e); }
  void on_rate_limited(const cachet::event& e) { add("rate_limited", e); }
  void on_circuit_open(const cachet::event& e) { add("circuit_open", e); }
};

using strings = std::vector<std::string>;

using cachet_test::report_of;
using cachet_test::timed_loads;

class RedisAsyncObserver : public ::testing::Test {
 protected:
  void SetUp() override { app::quintuple_fails = false; }

  cachet::manual_clock clock;
  std::unique_ptr<cachet::redis> backend = make_test_backend(shared_redis_url());
};

TEST_F(RedisAsyncObserver, AsyncAndAsyncManyReportMissesTimedLoadsAndHits) {
  cachet::cached<&app::triple, cachet::ttl<300>, cachet::key<"at:{}">,
                 cachet::backend<cachet::redis>, cachet::observer<recorder>>
      f{*backend};
  EXPECT_EQ(cachet_test::await(f.async(1)), 3);
  EXPECT_EQ(cachet_test::await(f.async(1)), 3);
  const std::vector<int> xs{1, 2};
  EXPECT_EQ(cachet_test::await(f.async_many(xs)), (std::vector<int>{3, 6}));
  EXPECT_EQ(f.observer().events,
            (strings{"miss at:1", "load at:1", "hit at:1", "miss at:2", "load at:2", "hit at:1"}));
  EXPECT_EQ(f.stats().hits, 2u);
  EXPECT_EQ(f.stats().loads, 2u);
  EXPECT_EQ(timed_loads(report_of("at:{}")), 2u);
}

TEST_F(RedisAsyncObserver, AsyncReportsAFailedLoadAndThenAStaleAnswer) {
  cachet::cached<&app::quintuple, cachet::ttl<10>, cachet::fail_safe<60>, cachet::key<"aq:{}">,
                 cachet::backend<cachet::redis>, cachet::observer<recorder>>
      f{*backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(cachet_test::await(f.async(1)), 5);
  clock.advance(20s);
  app::quintuple_fails = true;
  EXPECT_EQ(cachet_test::await(f.async(1)), 5);
  EXPECT_EQ(f.observer().events, (strings{"miss aq:1", "load aq:1", "miss aq:1", "load_error aq:1",
                                          "stale_served aq:1"}));
  EXPECT_EQ(f.stats().stale_served, 1u);
}

TEST_F(RedisAsyncObserver, AsyncReportsAndCountsRateLimitedAndCircuitOpenCalls) {
  cachet::cached<&app::triple, cachet::rate_limit<1, cachet::per<3600>>, cachet::key<"arl:{}">,
                 cachet::backend<cachet::redis>, cachet::observer<recorder>>
      limited{*backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(cachet_test::await(limited.async(4)), 12);
  EXPECT_THROW(cachet_test::await(limited.async(4)), cachet::rate_limited);
  EXPECT_EQ(limited.observer().events, (strings{"miss arl:4", "load arl:4", "rate_limited arl:4"}));
  EXPECT_EQ(report_of("arl:{}").rate_limited, 1u);

  cachet::cached<&app::quintuple, cachet::circuit_breaker<1, cachet::cooldown<60>>,
                 cachet::key<"acb:{}">, cachet::backend<cachet::redis>, cachet::observer<recorder>>
      guarded{*backend, cachet::options{.clock = &clock}};
  app::quintuple_fails = true;
  EXPECT_THROW(cachet_test::await(guarded.async(1)), std::runtime_error);
  EXPECT_THROW(cachet_test::await(guarded.async(1)), cachet::circuit_open);
  EXPECT_EQ(guarded.observer().events,
            (strings{"miss acb:1", "load_error acb:1", "miss acb:1", "circuit_open acb:1"}));
  EXPECT_EQ(report_of("acb:{}").circuit_open, 1u);
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
