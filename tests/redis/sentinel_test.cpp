// Sentinel (redis-sentinel://) against real processes: one master, one replica and three
// sentinels, all on loopback, started by the test. A failover must be followed with no wrong
// value and a bounded number of failed calls.

#include <cachet/async.hpp>
#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {
std::atomic<int> sentinel_calls{0};
long sentinel_cube(long x) {
  ++sentinel_calls;
  return x * x * x;
}
}  // namespace app

namespace {

using namespace std::chrono_literals;
using cachet_test::make_degradable_backend;
using cachet_test::make_test_backend;
using cachet_test::private_redis_server;
using cachet_test::raw_command;
using cachet_test::wait_until;
using cubes = cachet::cached<&app::sentinel_cube, cachet::ttl<300>, cachet::backend<cachet::redis>>;

std::string address(const private_redis_server& server) {
  return "127.0.0.1:" + std::to_string(server.port());
}

// The master's port as `sentinel` reports it, or 0.
unsigned short master_port_by(const private_redis_server& sentinel) {
  try {
    auto reply = raw_command(sentinel.url(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster");
    if (reply.elements.size() != 2) return 0;
    return static_cast<unsigned short>(std::stoi(reply.elements[1].text));
  } catch (const cachet::error&) {
    return 0;
  }
}

// The server's role ("master", "slave"), or empty while it cannot be asked: Sentinel makes a
// server it reconfigures drop its clients, ours too.
std::string role_of(const private_redis_server& server) {
  try {
    return raw_command(server.url(), "ROLE").elements.at(0).text;
  } catch (const cachet::error&) {
    return {};
  }
}

// One master, its replica, three sentinels monitoring it as "mymaster" with a quorum of two.
class sentinel_group {
 public:
  // No diskless-sync delay (5 s by default): the replica syncs at once.
  sentinel_group()
      : master_({"--repl-diskless-sync-delay", "0"}),
        replica_({"--replicaof", "127.0.0.1", std::to_string(master_.port())}),
        sentinels_(make_sentinels(master_.port())) {}

  private_redis_server& master() { return master_; }
  private_redis_server& replica() { return replica_; }
  private_redis_server& sentinel(std::size_t i) { return *sentinels_.at(i); }

  std::string url() const {
    std::string hosts;
    for (const auto& s : sentinels_) hosts += (hosts.empty() ? "" : ",") + address(*s);
    return "redis-sentinel://" + hosts + "/mymaster";
  }

  // The replica is in sync and every sentinel lists it as a healthy replica: a failover can
  // promote it.
  bool ready() {
    auto info = raw_command(replica_.url(), "INFO", "replication").as_string();
    if (info.find("master_link_status:up") == std::string::npos) return false;
    for (auto& s : sentinels_) {
      auto replicas = raw_command(s->url(), "SENTINEL", "REPLICAS", "mymaster");
      if (replicas.elements.size() != 1) return false;
      const auto& fields = replicas.elements[0].elements;  // name, value, name, value, ...
      for (std::size_t i = 0; i + 1 < fields.size(); i += 2)
        if (fields[i].text == "flags" && fields[i + 1].text != "slave") return false;
    }
    return true;
  }

 private:
  static std::vector<std::unique_ptr<private_redis_server>> make_sentinels(unsigned short master) {
    const std::string config = "sentinel monitor mymaster 127.0.0.1 " + std::to_string(master) +
                               " 2\n"
                               "sentinel down-after-milliseconds mymaster 1000\n"
                               "sentinel failover-timeout mymaster 10000\n";
    std::vector<std::unique_ptr<private_redis_server>> sentinels;
    for (int i = 0; i < 3; ++i)
      sentinels.push_back(
          std::make_unique<private_redis_server>(std::vector<std::string>{"--sentinel"}, config));
    return sentinels;
  }

  private_redis_server master_;
  private_redis_server replica_;
  std::vector<std::unique_ptr<private_redis_server>> sentinels_;
};

constexpr long keys = 20;
constexpr auto cooldown = 100ms;  // of the backends' breakers
constexpr std::uint64_t failures_to_open = 5;

// A backend on `group`, and the cached function, whose entries for 0..keys-1 are cached (and
// replicated).
struct warmed_backend {
  explicit warmed_backend(sentinel_group& group)
      : cache(make_degradable_backend(
            group.url(), 1s, {.consecutive_failures = failures_to_open, .cooldown = cooldown})),
        cube(*cache) {
    cache->verify();
    for (long x = 0; x < keys; ++x) EXPECT_EQ(cube(x), x * x * x);
    for (long x = 0; x < keys; ++x) EXPECT_EQ(cube(x), x * x * x);
    EXPECT_EQ(cube.stats().hits, static_cast<std::uint64_t>(keys));
    // The entries (and the function's counter) are on the master, and on the replica.
    EXPECT_GE(raw_command(group.master().url(), "DBSIZE").as_int(), keys);
    EXPECT_EQ(raw_command(group.master().url(), "WAIT", 1, 5000).as_int(), 1);
  }

  std::unique_ptr<cachet::redis> cache;
  cubes cube;  // destroyed before the backend it uses
};

struct followed_failover {
  bool followed = false;
  long calls = 0;
  long wrong = 0;
  std::uint64_t failed = 0;
  std::uint64_t skipped = 0;
  std::chrono::milliseconds took{0};
};

// Calls `cube` without pause until the backend is on the replica, now the master, and 2 * keys
// calls in a row were hits; counts wrong values and failed and skipped Redis requests.
followed_failover follow(sentinel_group& group, cubes& cube) {
  followed_failover result;
  const auto before = cube.stats();
  const auto start = std::chrono::steady_clock::now();
  const unsigned short new_master = group.replica().port();
  long hits_in_a_row = 0;
  auto on_new_master = [&] {
    return master_port_by(group.sentinel(1)) == new_master &&
           role_of(group.replica()) == "master" &&
           raw_command(group.replica().url(), "CLIENT", "LIST").as_string().find("name=cachet ") !=
               std::string::npos;
  };
  result.followed = wait_until(
      [&] {
        const auto hits = cube.stats().hits;
        const long x = result.calls++ % keys;
        if (cube(x) != x * x * x) ++result.wrong;
        hits_in_a_row = cube.stats().hits == hits + 1 ? hits_in_a_row + 1 : 0;
        return hits_in_a_row >= 2 * keys && on_new_master();
      },
      60s);
  result.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  result.failed = cube.stats().backend_errors - before.backend_errors;
  result.skipped = cube.stats().backend_skipped - before.backend_skipped;
  ::testing::Test::RecordProperty("calls_during_failover", std::to_string(result.calls));
  ::testing::Test::RecordProperty("failed_requests", std::to_string(result.failed));
  ::testing::Test::RecordProperty("skipped_requests", std::to_string(result.skipped));
  ::testing::Test::RecordProperty("failover_ms", std::to_string(result.took.count()));
  return result;
}

// Writes reach the new master: a cleared function recomputes, and is cached again there.
void expect_writes_reach_the_new_master(cubes& cube) {
  cube.clear();
  const int computed = app::sentinel_calls;
  EXPECT_EQ(cube(2), 8);
  EXPECT_EQ(cube(2), 8);
  EXPECT_EQ(app::sentinel_calls - computed, 1);
}

// Sentinel starts a failover of "mymaster", asking until it agrees to (it refuses one it thinks
// would fail, NOGOODSLAVE).
bool force_failover(sentinel_group& group) {
  return wait_until([&] {
    try {
      return raw_command(group.sentinel(0).url(), "SENTINEL", "FAILOVER", "mymaster").text == "OK";
    } catch (const cachet::redis::server_error&) {
      return false;
    }
  });
}

TEST(RedisSentinel, CachedCallsFollowAForcedFailoverWithAtMostTwoFailedRequests) {
  sentinel_group group;
  ASSERT_TRUE(wait_until([&] { return group.ready(); }, 30s)) << "the replica was never ready";
  warmed_backend warmed(group);
  ASSERT_TRUE(force_failover(group));
  const auto run = follow(group, warmed.cube);
  EXPECT_TRUE(run.followed) << "backend: " << warmed.cache->last_error();
  EXPECT_EQ(run.wrong, 0);
  // The calls run one at a time, so few requests can fail: the one in flight when Sentinel drops
  // the demoted master's clients, and one answered READONLY by the old master turned replica (a
  // read script may recreate a counter) if a reconnect reached it before Sentinel named the new
  // master; READONLY sends the connection back to Sentinel. Their calls still answer, from the
  // function (run.wrong above).
  EXPECT_LE(run.failed, 2u) << run.calls << " calls";
  expect_writes_reach_the_new_master(warmed.cube);
}

// The connection a backend keeps on the application's io_context (redis_options::async_context)
// follows a failover as its own connections do: no wrong value, and writes reach the new master.
TEST(RedisSentinel, AsyncCallsOnTheApplicationsContextFollowAForcedFailover) {
  sentinel_group group;
  ASSERT_TRUE(wait_until([&] { return group.ready(); }, 30s)) << "the replica was never ready";
  boost::asio::io_context io;
  cachet::redis backend(cachet_test::degraded_config(group.url(), 1s),
                        cachet::redis_options{.key_prefix = cachet_test::test_prefix(),
                                              .breaker = {.consecutive_failures = failures_to_open,
                                                          .cooldown = cooldown},
                                              .async_context = &io});
  cubes cube(backend);
  // One call awaited on `io`, run here until it completes.
  const auto call = [&](long x) {
    std::optional<long> got;
    std::exception_ptr failure;
    boost::asio::co_spawn(io, cube.async(x), [&](std::exception_ptr e, long v) {
      if (e) {
        failure = e;
      } else {
        got = v;
      }
    });
    while (!got && !failure && io.run_one() > 0) {
    }
    if (failure) std::rethrow_exception(failure);
    return got.value();
  };
  for (long x = 0; x < keys; ++x) EXPECT_EQ(call(x), x * x * x);
  for (long x = 0; x < keys; ++x) EXPECT_EQ(call(x), x * x * x);
  EXPECT_EQ(cube.stats().hits, static_cast<std::uint64_t>(keys));
  EXPECT_EQ(raw_command(group.master().url(), "WAIT", 1, 5000).as_int(), 1);
  ASSERT_TRUE(force_failover(group));

  const unsigned short new_master = group.replica().port();
  long calls = 0;
  long wrong = 0;
  long hits_in_a_row = 0;
  const bool followed = wait_until(
      [&] {
        const auto hits = cube.stats().hits;
        const long x = calls++ % keys;
        if (call(x) != x * x * x) ++wrong;
        hits_in_a_row = cube.stats().hits == hits + 1 ? hits_in_a_row + 1 : 0;
        // Until the old master is demoted, a connection still on it reads and writes there.
        return hits_in_a_row >= 2 * keys && master_port_by(group.sentinel(1)) == new_master &&
               role_of(group.replica()) == "master" && role_of(group.master()) == "slave";
      },
      60s);
  EXPECT_TRUE(followed) << calls << " calls; backend: " << backend.last_error();
  EXPECT_EQ(wrong, 0);
  ::testing::Test::RecordProperty("calls_during_failover", std::to_string(calls));
  ::testing::Test::RecordProperty("failed_requests", std::to_string(cube.stats().backend_errors));
  // A write through the application's connection: a key never asked before computes once, and
  // its result is stored, which only the new master now accepts. The connection may first meet
  // the old master, now a replica, whose READONLY sends it back to Sentinel: a few keys at most.
  long fresh_key = 100;
  const bool writes_arrive = wait_until([&] {
    const long x = fresh_key++;
    const int computed = app::sentinel_calls;
    EXPECT_EQ(call(x), x * x * x);
    EXPECT_EQ(call(x), x * x * x);
    return app::sentinel_calls - computed == 1;
  });
  EXPECT_TRUE(writes_arrive) << "backend: " << backend.last_error();
}

TEST(RedisSentinel, CachedCallsFollowTheMastersDeathWithBoundedFailures) {
  sentinel_group group;
  ASSERT_TRUE(wait_until([&] { return group.ready(); }, 30s)) << "the replica was never ready";
  warmed_backend warmed(group);
  group.master().kill();
  const auto run = follow(group, warmed.cube);
  EXPECT_TRUE(run.followed) << "backend: " << warmed.cache->last_error();
  EXPECT_EQ(run.wrong, 0);
  // Until Sentinel names the new master, each request that reaches the transport fails: the
  // first failures_to_open in a row, then one probe per cooldown; 5 more for the requests in
  // flight when it died and the breaker's coarse clock.
  const auto bound = failures_to_open + static_cast<std::uint64_t>(run.took / cooldown) + 5;
  EXPECT_GE(run.failed, 1u);
  EXPECT_LE(run.failed, bound) << run.calls << " calls in " << run.took.count() << " ms";
  expect_writes_reach_the_new_master(warmed.cube);
}

TEST(RedisSentinel, AWriteAnsweredReadonlyMakesTheBackendAskSentinelAgain) {
  sentinel_group group;
  warmed_backend warmed(group);
  // Swap the roles by hand, then tell every sentinel; the backend's connection to the old master
  // stays open (reads on a replica still work), so only the READONLY answer can move it.
  EXPECT_EQ(raw_command(group.replica().url(), "REPLICAOF", "NO", "ONE").text, "OK");
  EXPECT_EQ(
      raw_command(group.master().url(), "REPLICAOF", "127.0.0.1", group.replica().port()).text,
      "OK");
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(raw_command(group.sentinel(i).url(), "SENTINEL", "REMOVE", "mymaster").text, "OK");
    EXPECT_EQ(raw_command(group.sentinel(i).url(), "SENTINEL", "MONITOR", "mymaster", "127.0.0.1",
                          group.replica().port(), 2)
                  .text,
              "OK");
  }
  try {
    warmed.cube.invalidate_tag("any");
    FAIL() << "a write to a replica was accepted";
  } catch (const cachet::redis::server_error& e) {
    EXPECT_EQ(std::string(e.server_message()).rfind("READONLY", 0), 0u) << e.server_message();
  }
  EXPECT_TRUE(wait_until([&] {
    EXPECT_EQ(warmed.cube(1), 1);
    return raw_command(group.replica().url(), "CLIENT", "LIST").as_string().find("name=cachet ") !=
           std::string::npos;
  })) << warmed.cache->last_error();
  EXPECT_EQ(warmed.cache->pending_invalidations(), 0u);
  expect_writes_reach_the_new_master(warmed.cube);
}

TEST(RedisSentinel, ADeadSentinelIsSkipped) {
  sentinel_group group;
  const unsigned short dead = cachet_test::detail::free_loopback_port();
  auto cfg = cachet::redis::config::from_url("redis-sentinel://127.0.0.1:" + std::to_string(dead) +
                                             "," + address(group.sentinel(1)) + "/mymaster");
  cfg.connect_timeout = 500ms;
  cachet::redis cache{cfg, {.key_prefix = cachet_test::test_prefix()}};
  cache.verify();
  cubes cube{cache};
  EXPECT_EQ(cube(3), 27);
  EXPECT_EQ(cube(3), 27);
  EXPECT_EQ(cube.stats().hits, 1u);
}

TEST(RedisSentinel, AnUnknownMasterNameIsATypedErrorNamingEachSentinel) {
  sentinel_group group;
  auto cache =
      make_test_backend("redis-sentinel://" + address(group.sentinel(0)) + "/no-such-master");
  try {
    cache->verify();
    FAIL() << "an unknown master name was accepted";
  } catch (const cachet::redis::request_error& e) {
    EXPECT_EQ(e.code(), cachet::redis::error::sentinel_unavailable);
    const std::string what = e.what();
    EXPECT_NE(what.find("no sentinel gave the address of master \"no-such-master\" (" +
                        address(group.sentinel(0)) + " monitors no master of that name)"),
              std::string::npos)
        << what;
  }
  cubes cube{*cache};
  EXPECT_EQ(cube(4), 64);  // the call still answers, from the function
}

TEST(RedisSentinel, AServerThatIsNoMasterIsRefusedByItsRole) {
  sentinel_group group;
  // A sentinel told that the replica is the master of "stale": ROLE must catch it.
  EXPECT_EQ(raw_command(group.sentinel(0).url(), "SENTINEL", "MONITOR", "stale", "127.0.0.1",
                        group.replica().port(), 1)
                .text,
            "OK");
  auto cache = make_test_backend("redis-sentinel://" + address(group.sentinel(0)) + "/stale");
  try {
    cache->verify();
    FAIL() << "a replica was taken for a master";
  } catch (const cachet::redis::request_error& e) {
    EXPECT_EQ(e.code(), cachet::redis::error::not_master);
    EXPECT_NE(
        std::string(e.what()).find(address(group.replica()) + " is not a master (ROLE: slave)"),
        std::string::npos)
        << e.what();
  }
}

}  // namespace
