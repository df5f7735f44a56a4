// The circuit breaker of a Redis backend, against real redis-server processes that the tests
// pause (SIGSTOP), kill and restart, with a manual clock for the cooldown.

#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {
int twice(int x) { return x * 2; }
}  // namespace app

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using cachet::circuit_state;
using cachet_test::make_degradable_backend;
using cachet_test::private_redis_server;
using cachet_test::raw_command;
using cachet_test::time_of;
using cachet_test::wait_until;

using numbers = cachet::cached<&app::twice, cachet::ttl<300>, cachet::key<"n:{}">,
                               cachet::tags<"numbers">, cachet::backend<cachet::redis>>;

constexpr auto deadline = 400ms;  // config::request_timeout of the backends below
constexpr auto cooldown = 10s;    // on a manual clock: passes only when the test says so

// Records the breaker's transitions, from whichever thread makes them.
struct transitions {
  std::mutex m;
  std::vector<std::pair<circuit_state, circuit_state>> seen;

  std::function<void(circuit_state, circuit_state)> recorder() {
    return [this](circuit_state from, circuit_state to) {
      std::lock_guard lock(m);
      seen.emplace_back(from, to);
    };
  }
  std::vector<std::pair<circuit_state, circuit_state>> get() {
    std::lock_guard lock(m);
    return seen;
  }
};

std::string entry_key(cachet::redis& backend, const std::string& key) {
  return backend.key_options().key_prefix + ":v1:" + key;
}

std::string counter_key(cachet::redis& backend, const std::string& name) {
  return backend.key_options().key_prefix + ":v1#" + name;
}

// The stored value of an entry, read by a connection of the test's own.
std::optional<std::string> stored(private_redis_server& server, cachet::redis& backend,
                                  const std::string& key) {
  const auto reply = raw_command(server.url(), "HGET", entry_key(backend, key), "v");
  if (reply.is_null()) return std::nullopt;
  return reply.as_string();
}

TEST(RedisBackendBreaker, OpensAfterConsecutiveFailuresThenCallsSkipRedisUntilAProbeCloses) {
  private_redis_server server;
  cachet::manual_clock clock;
  transitions changes;
  auto backend = make_degradable_backend(server.url(), deadline,
                                         {.consecutive_failures = 3,
                                          .cooldown = cooldown,
                                          .clock = &clock,
                                          .on_state_change = changes.recorder()});
  numbers f{*backend};
  EXPECT_EQ(f(1), 2);
  EXPECT_EQ(backend->backend_state(), circuit_state::closed);
  EXPECT_EQ(backend->backend_counters().successes, 2u);  // the read and the write scripts

  server.pause();  // a hung server: every request waits for its deadline
  for (int i = 2; i <= 4; ++i) EXPECT_EQ(f(i), 2 * i);
  EXPECT_EQ(backend->backend_state(), circuit_state::open);
  EXPECT_EQ(f.stats().backend_errors, 3u);

  // Open: calls go straight to the function. A request to the paused server would hold each
  // call for the whole deadline; twenty calls take less than one.
  const auto took = time_of([&] {
    for (int i = 0; i < 20; ++i) EXPECT_EQ(f(100 + i), 200 + 2 * i);
    EXPECT_EQ(f(1), 2);  // stored, but Redis is not asked
    EXPECT_EQ(f.peek(1), std::nullopt);
  });
  EXPECT_LT(took, deadline);
  cachet::stats s = f.stats();
  EXPECT_EQ(s.backend_skipped, 22u);  // 21 calls and the peek
  EXPECT_EQ(s.backend_errors, 3u);
  EXPECT_EQ(s.loads, 25u);
  EXPECT_EQ(s.hits, 0u);
  const cachet::breaker_counters while_open = backend->backend_counters();
  EXPECT_EQ(while_open.failures, 3u);
  EXPECT_EQ(while_open.rejected, 22u);
  EXPECT_EQ(while_open.opened, 1u);

  // Redis is back, but the breaker waits for its cooldown: results are still not written.
  server.resume();
  EXPECT_EQ(f(5), 10);
  EXPECT_EQ(stored(server, *backend, "n:5"), std::nullopt);
  EXPECT_EQ(backend->backend_state(), circuit_state::open);

  clock.advance(cooldown);
  EXPECT_EQ(backend->backend_state(), circuit_state::half_open);
  EXPECT_EQ(f(6), 12);  // the probe: its read is answered, which closes the breaker
  EXPECT_EQ(backend->backend_state(), circuit_state::closed);
  ASSERT_TRUE(stored(server, *backend, "n:6").has_value());
  EXPECT_EQ(stored(server, *backend, "n:6"), "12");
  EXPECT_EQ(f(6), 12);
  EXPECT_EQ(f.stats().hits, 1u);
  EXPECT_EQ(f(1), 2);  // written before the outage, found again
  EXPECT_EQ(f.stats().hits, 2u);

  const std::vector<std::pair<circuit_state, circuit_state>> expected{
      {circuit_state::closed, circuit_state::open},
      {circuit_state::open, circuit_state::half_open},
      {circuit_state::half_open, circuit_state::closed}};
  EXPECT_EQ(changes.get(), expected);
  EXPECT_EQ(backend->backend_counters().closed, 1u);
}

TEST(RedisBackendBreaker, AFailedProbeReopensAndARestartedServerClosesIt) {
  private_redis_server server;
  cachet::manual_clock clock;
  auto backend = make_degradable_backend(
      server.url(), deadline, {.consecutive_failures = 2, .cooldown = cooldown, .clock = &clock});
  numbers f{*backend};
  EXPECT_EQ(f(1), 2);

  server.kill();
  EXPECT_EQ(f(2), 4);
  EXPECT_EQ(f(3), 6);
  EXPECT_EQ(backend->backend_state(), circuit_state::open);

  clock.advance(cooldown);
  EXPECT_EQ(f(4), 8);  // the probe, which waits for its deadline and fails
  EXPECT_EQ(backend->backend_state(), circuit_state::open);
  EXPECT_EQ(backend->backend_counters().opened, 2u);
  EXPECT_LT(time_of([&] { EXPECT_EQ(f(5), 10); }), deadline);
  EXPECT_EQ(f.stats().backend_errors, 3u);
  EXPECT_EQ(f.stats().backend_skipped, 1u);

  server.restart();  // empty: persistence is off
  clock.advance(cooldown);
  EXPECT_EQ(f(7), 14);  // the probe, answered once the client has reconnected
  EXPECT_EQ(backend->backend_state(), circuit_state::closed);
  const auto value = stored(server, *backend, "n:7");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, "14");
  EXPECT_EQ(f(7), 14);
  EXPECT_EQ(f.stats().hits, 1u);
}

TEST(RedisBackendBreaker, WhileAProbeIsUnderWayOtherCallsSkipRedis) {
  private_redis_server server;
  cachet::manual_clock clock;
  const auto long_deadline = 3000ms;  // the probe must still be waiting when the second call comes
  auto backend =
      make_degradable_backend(server.url(), long_deadline,
                              {.consecutive_failures = 1, .cooldown = cooldown, .clock = &clock});
  numbers f{*backend};
  EXPECT_EQ(f(1), 2);
  server.pause();
  EXPECT_EQ(f(2), 4);
  ASSERT_EQ(backend->backend_state(), circuit_state::open);

  clock.advance(cooldown);
  std::thread prober([&] { EXPECT_EQ(f(3), 6); });
  // The probe is admitted in the same step that half-opens the breaker.
  ASSERT_TRUE(wait_until([&] { return backend->backend_counters().half_opened == 1; }));
  EXPECT_LT(time_of([&] { EXPECT_EQ(f(4), 8); }), long_deadline);
  prober.join();
  EXPECT_EQ(backend->backend_state(), circuit_state::open);  // the probe timed out
  EXPECT_EQ(f.stats().backend_skipped, 1u);
  EXPECT_EQ(f.stats().backend_errors, 2u);
  server.resume();
}

TEST(RedisBackendBreaker, ErrorRepliesProveRedisIsUpAndDoNotOpenIt) {
  private_redis_server server;
  auto backend = make_degradable_backend(server.url(), deadline,
                                         {.consecutive_failures = 1, .cooldown = cooldown});
  numbers f{*backend};
  raw_command(server.url(), "CONFIG", "SET", "maxmemory-policy", "noeviction");
  raw_command(server.url(), "CONFIG", "SET", "maxmemory", "1");  // every write is refused: OOM

  EXPECT_EQ(f(1), 2);
  EXPECT_EQ(f(1), 2);
  EXPECT_EQ(f.stats().backend_errors, 2u);  // the two SETs
  EXPECT_EQ(f.stats().loads, 2u);
  EXPECT_THROW(backend->invalidate_tag("numbers"), cachet::redis::server_error);
  EXPECT_EQ(backend->backend_state(), circuit_state::closed);
  EXPECT_EQ(backend->backend_counters().failures, 0u);

  raw_command(server.url(), "CONFIG", "SET", "maxmemory", "0");
  EXPECT_EQ(f(1), 2);
  EXPECT_EQ(f(1), 2);
  EXPECT_EQ(f.stats().hits, 1u);
  EXPECT_EQ(f.stats().backend_skipped, 0u);
}

TEST(RedisBackendBreaker, InvalidationsTryRedisWhileItIsOpenAndThrowWhenItFails) {
  private_redis_server server;
  cachet::manual_clock clock;
  auto backend = make_degradable_backend(
      server.url(), deadline, {.consecutive_failures = 1, .cooldown = cooldown, .clock = &clock});
  numbers f{*backend};
  EXPECT_EQ(f(1), 2);
  EXPECT_EQ(f(2), 4);
  server.pause();
  EXPECT_EQ(f(3), 6);
  ASSERT_EQ(backend->backend_state(), circuit_state::open);
  server.resume();

  backend->invalidate_tag("numbers");
  const auto tag = raw_command(server.url(), "GET", counter_key(*backend, "tag:numbers"));
  EXPECT_FALSE(tag.is_null());
  f.invalidate(2);
  EXPECT_EQ(raw_command(server.url(), "EXISTS", entry_key(*backend, "n:2")).as_int(), 0);
  f.clear();
  EXPECT_EQ(backend->backend_state(), circuit_state::open);  // only a probe closes it

  server.kill();
  EXPECT_THROW(f.invalidate(1), cachet::redis::request_error);
  EXPECT_THROW(backend->invalidate_tag("numbers"), cachet::redis::request_error);
  EXPECT_THROW(f.clear(), cachet::redis::request_error);
  EXPECT_EQ(backend->backend_state(), circuit_state::open);
}

// Calls that skip Redis still compute once per key in this process, but a caller that made an
// invalidate_tag never joins a computation that started before it: without Redis there are no
// generations to compare, so the process's own count of tag invalidations stands in for them.
TEST(RedisBackendBreaker, ACallAfterAnInvalidationDoesNotJoinAnOlderDegradedComputation) {
  private_redis_server server;
  cachet::manual_clock clock;
  auto backend = make_degradable_backend(
      server.url(), deadline, {.consecutive_failures = 1, .cooldown = cooldown, .clock = &clock});
  std::atomic<int> started{0};  // computations of g(1)
  std::atomic<bool> second_done{false};
  auto load = [&](int x) {
    if (x != 1) return x * 10;
    if (started.fetch_add(1) == 0) {
      // The first computation lasts until the second call is answered (bounded: if the second
      // call wrongly waited for this one, it ends and the test fails).
      wait_until([&] { return second_done.load(); }, 5s);
      return 1;
    }
    return -1;
  };
  auto g =
      cachet::make_cached<cachet::key<"g:{}">, cachet::tags<"gs">, cachet::backend<cachet::redis>>(
          load, *backend);
  server.pause();
  EXPECT_EQ(g(9), 90);  // opens the breaker
  server.resume();
  ASSERT_EQ(backend->backend_state(), circuit_state::open);

  int first = 0;
  std::thread older([&] { first = g(1); });
  ASSERT_TRUE(wait_until([&] { return started.load() == 1; }));
  backend->invalidate_tag("gs");
  EXPECT_EQ(g(1), -1);
  second_done = true;
  older.join();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(g.stats().loads, 3u);
}

TEST(RedisBackendBreaker, CoroutineCallsSkipRedisToo) {
  private_redis_server server;
  cachet::manual_clock clock;
  auto backend = make_degradable_backend(
      server.url(), deadline, {.consecutive_failures = 1, .cooldown = cooldown, .clock = &clock});
  numbers f{*backend};
  server.pause();
  EXPECT_EQ(f(1), 2);
  ASSERT_EQ(backend->backend_state(), circuit_state::open);

  asio::io_context io;
  std::exception_ptr failure;
  const std::vector<int> many{1, 2, 3};
  const std::vector<int> doubled{2, 4, 6};  // named: g++ 12 rejects a braced list in co_await
  const auto took = time_of([&] {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          EXPECT_EQ(co_await f.async(5), 10);
          const std::vector<int> results = co_await f.async_many(many);
          EXPECT_EQ(results, doubled);
        },
        [&](std::exception_ptr e) { failure = e; });
    io.run();
  });
  if (failure) std::rethrow_exception(failure);
  EXPECT_LT(took, deadline);
  EXPECT_EQ(f.stats().backend_skipped, 2u);  // one call, one batch
  EXPECT_EQ(f.stats().loads, 5u);
  server.resume();
}

TEST(RedisBackendBreaker, ZeroFailuresKeepsItClosedAndZeroProbesIsRefused) {
  private_redis_server server;
  auto backend = make_degradable_backend(server.url(), 200ms, {.consecutive_failures = 0});
  numbers f{*backend};
  server.pause();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f(i), 2 * i);
  EXPECT_EQ(backend->backend_state(), circuit_state::closed);
  EXPECT_EQ(f.stats().backend_errors, 3u);
  server.resume();

  EXPECT_THROW(make_degradable_backend(server.url(), 200ms, {.half_open_probes = 0}),
               cachet::error);
  EXPECT_THROW(make_degradable_backend(server.url(), 200ms, {.cooldown = -1s}), cachet::error);
}

}  // namespace
