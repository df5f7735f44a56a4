// Sentinel (redis-sentinel://) against real processes: one master, one replica and three
// sentinels, all on loopback, started by the test. A failover must be followed with no wrong
// value and a bounded number of failed calls.

#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
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

std::string role_of(const private_redis_server& server) {
  return raw_command(server.url(), "ROLE").elements.at(0).text;
}

// One master, its replica, three sentinels monitoring it as "mymaster" with a quorum of two.
class sentinel_group {
 public:
  sentinel_group()
      : replica_({"--replicaof", "127.0.0.1", std::to_string(master_.port())}),
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

TEST(RedisSentinel, CachedCallsReachTheMasterAndFollowAFailover) {
  sentinel_group group;
  ASSERT_TRUE(wait_until([&] { return group.ready(); }, 30s)) << "the replica was never ready";
  auto cache =
      make_degradable_backend(group.url(), 1s, {.consecutive_failures = 5, .cooldown = 100ms});
  cache->verify();
  cubes cube{*cache};
  constexpr long keys = 20;
  for (long x = 0; x < keys; ++x) EXPECT_EQ(cube(x), x * x * x);
  for (long x = 0; x < keys; ++x) EXPECT_EQ(cube(x), x * x * x);
  EXPECT_EQ(cube.stats().hits, static_cast<std::uint64_t>(keys));
  // The entries (and the function's counter) are on the master.
  EXPECT_GE(raw_command(group.master().url(), "DBSIZE").as_int(), keys);

  const auto before = cube.stats();
  const unsigned short old_master = group.master().port();
  const unsigned short new_master = group.replica().port();
  // Sentinel refuses a failover while it thinks one would fail (NOGOODSLAVE): ask until it starts.
  ASSERT_TRUE(wait_until([&] {
    try {
      return raw_command(group.sentinel(0).url(), "SENTINEL", "FAILOVER", "mymaster").text == "OK";
    } catch (const cachet::redis::server_error&) {
      return false;
    }
  }));

  // Calls go on throughout; the backend must end up on the new master, with its hits.
  long wrong = 0;
  long calls = 0;
  long hits_in_a_row = 0;
  auto on_new_master = [&] {
    return master_port_by(group.sentinel(0)) == new_master &&
           role_of(group.replica()) == "master" &&
           raw_command(group.replica().url(), "CLIENT", "LIST").as_string().find("name=cachet ") !=
               std::string::npos;
  };
  const bool followed = wait_until(
      [&] {
        const auto hits = cube.stats().hits;
        const long x = calls++ % keys;
        if (cube(x) != x * x * x) ++wrong;
        hits_in_a_row = cube.stats().hits == hits + 1 ? hits_in_a_row + 1 : 0;
        return hits_in_a_row >= 2 * keys && on_new_master();
      },
      60s);
  EXPECT_TRUE(followed) << "sentinel says master port " << master_port_by(group.sentinel(0))
                        << " (old " << old_master << ", new " << new_master
                        << "), backend: " << cache->last_error();
  EXPECT_EQ(wrong, 0);
  const auto after = cube.stats();
  const auto failed = after.backend_errors - before.backend_errors;
  const auto skipped = after.backend_skipped - before.backend_skipped;
  // A lost connection fails the calls in flight and the attempts until Sentinel names the new
  // master; the breaker (5 in a row) then lets a probe through every 100 ms.
  EXPECT_LE(failed, 40u) << calls << " calls, " << skipped << " skipped";
  RecordProperty("calls_during_failover", std::to_string(calls));
  RecordProperty("failed_calls", std::to_string(failed));
  RecordProperty("skipped_calls", std::to_string(skipped));

  // Writes reach the new master: a cleared function recomputes, and is cached again there.
  cube.clear();
  const int computed = app::sentinel_calls;
  EXPECT_EQ(cube(2), 8);
  EXPECT_EQ(cube(2), 8);
  EXPECT_EQ(app::sentinel_calls - computed, 1);
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
