// cluster_client against a real 3-master Redis Cluster the test starts (issue #13): commands
// routed across slots, exec_many split by node and reassembled in order, ASK during a slot
// migration (map unchanged), MOVED after it (map updated), bounded redirects, and a live
// migration of a slot under steady INCR load with exact counts.

#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "redis/client_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

namespace asio = boost::asio;
namespace redis = cachet::resp3;
using namespace std::chrono_literals;
using cachet_test::fast_config;
using cachet_test::run_async;
using redis::cluster_client;
using redis::cluster_command;
using redis::cluster_slot;

// Three masters, no replicas, on free loopback ports; shared by the tests of this file.
class RedisCluster : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    for (int i = 0; i < 3; ++i)
      servers().push_back(
          std::make_unique<cachet_test::private_redis_server>(std::vector<std::string>{
              "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
              "--cluster-node-timeout", "5000",
              // Without it the bus port is the port + 10000, which fails above port 55535.
              "--cluster-port", std::to_string(cachet_test::detail::free_loopback_port())}));
    std::string create = "redis-cli --cluster create";
    for (const auto& s : servers()) create += " 127.0.0.1:" + std::to_string(s->port());
    create += " --cluster-yes > /dev/null";
    ASSERT_EQ(std::system(create.c_str()), 0) << create;
    // Bounded wait on a condition: every node reports cluster_state:ok and the same slot map.
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    for (const auto& s : servers()) {
      for (;;) {
        std::string probe = "redis-cli -p " + std::to_string(s->port()) +
                            " cluster info | grep -q cluster_state:ok";
        if (std::system(probe.c_str()) == 0) break;
        ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "cluster_state never became ok";
        std::this_thread::sleep_for(20ms);
      }
    }
  }
  static void TearDownTestSuite() { servers().clear(); }

 protected:
  static std::vector<std::unique_ptr<cachet_test::private_redis_server>>& servers() {
    static std::vector<std::unique_ptr<cachet_test::private_redis_server>> all;
    return all;
  }

  static redis::config cluster_config() {
    std::string url = "redis-cluster://";
    for (const auto& s : servers()) url += "127.0.0.1:" + std::to_string(s->port()) + ",";
    url.pop_back();
    auto cfg = fast_config(url);
    return cfg;
  }

  static redis::config node_config(const std::string& address) {
    return fast_config("redis://" + address);
  }
};

// Builds commands outside coroutine bodies: g++ 12 miscompiles braced lists inside co_await
// expressions ("array used as initializer").
template <class... Args>
cluster_command cmd(const std::string& key, const Args&... args) {
  return {.key = key, .args = std::vector<std::string>{std::string(args)...}};
}

std::string key_in(const std::string& tag, const std::string& name) {
  return "{" + tag + "}:" + name;
}

TEST_F(RedisCluster, CommandsReachTheOwnerOfEverySlot) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    cluster_client c(ex, cluster_config());
    std::set<std::string> owners;
    for (int i = 0; i < 300; ++i) {
      auto key = "spread:" + std::to_string(i);
      co_await c.exec(cmd(key, "SET", key, "v" + std::to_string(i)));
      owners.insert(c.owner_of(cluster_slot(key)));
    }
    EXPECT_EQ(owners.size(), 3u) << "300 keys fall into every master's slots";
    EXPECT_EQ(c.masters().size(), 3u);
    for (int i = 0; i < 300; ++i) {
      auto key = "spread:" + std::to_string(i);
      auto v = co_await c.exec(cmd(key, "GET", key));
      EXPECT_EQ(v.as_string(), "v" + std::to_string(i));
    }
    EXPECT_EQ(c.refresh_count(), 1u) << "a stable cluster needs one slot map";
    // An ordinary error reply is thrown as on one server.
    bool thrown = false;
    try {
      co_await c.exec(cmd("spread:0", "INCR", "spread:0"));
    } catch (const redis::server_error&) {
      thrown = true;
    }
    EXPECT_TRUE(thrown);
  });
}

// A seed that refuses connections is skipped: the slot map comes from the next one.
TEST_F(RedisCluster, ADeadSeedIsSkipped) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = cluster_config();
    cfg.cluster.seeds.insert(cfg.cluster.seeds.begin(), {"127.0.0.1", 1});
    cluster_client c(ex, cfg);
    co_await c.exec(cmd("deadseed", "SET", "deadseed", "v"));
    EXPECT_EQ((co_await c.exec(cmd("deadseed", "GET", "deadseed"))).as_string(), "v");
    EXPECT_EQ(c.masters().size(), 3u);
    EXPECT_EQ(c.refresh_count(), 1u);
  });
}

TEST_F(RedisCluster, ExecManySplitsByNodeAndKeepsTheOrder) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    cluster_client c(ex, cluster_config());
    std::vector<cluster_command> sets, gets;
    for (int i = 0; i < 500; ++i) {
      auto key = "many:" + std::to_string(i);
      sets.push_back(cmd(key, "SET", key, std::to_string(i * 7)));
      gets.push_back(cmd(key, "GET", key));
    }
    auto set_replies = co_await c.exec_many(sets);
    EXPECT_EQ(set_replies.size(), 500u);
    for (const auto& r : set_replies) EXPECT_EQ(r.text, "OK");
    auto got = co_await c.exec_many(gets);
    if (got.size() != 500u) {
      ADD_FAILURE() << "got " << got.size() << " replies";
      co_return;
    }
    for (int i = 0; i < 500; ++i) EXPECT_EQ(got[i].as_string(), std::to_string(i * 7)) << i;
    EXPECT_TRUE((co_await c.exec_many({})).empty());
  });
}

asio::awaitable<std::string> node_id(redis::client& node) {
  co_return (co_await node.exec("CLUSTER", "MYID")).as_string();
}

TEST_F(RedisCluster, AskDuringAMigrationAndMovedAfterIt) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    cluster_client c(ex, cluster_config());
    const std::string tag = "askmoved";
    const auto slot = cluster_slot(key_in(tag, "x"));
    co_await c.exec(cmd(key_in(tag, "old"), "SET", key_in(tag, "old"), "before"));
    const std::string from = c.owner_of(slot);
    std::string to;
    for (const auto& m : c.masters())
      if (m != from) to = m;
    redis::client source(ex, node_config(from)), target(ex, node_config(to));
    const auto source_id = co_await node_id(source), target_id = co_await node_id(target);
    const auto refreshes = c.refresh_count();

    co_await target.exec("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id);
    co_await source.exec("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id);
    // A key the source no longer has is answered with ASK: written to and read from the target.
    co_await c.exec(cmd(key_in(tag, "new"), "SET", key_in(tag, "new"), "fresh"));
    EXPECT_EQ((co_await c.exec(cmd(key_in(tag, "new"), "GET", key_in(tag, "new")))).as_string(),
              "fresh");
    EXPECT_EQ((co_await c.exec(cmd(key_in(tag, "old"), "GET", key_in(tag, "old")))).as_string(),
              "before");
    EXPECT_EQ(c.owner_of(slot), from) << "ASK leaves the map alone";
    EXPECT_EQ(c.refresh_count(), refreshes);

    // With no redirect allowed, the ASK is a typed error.
    {
      auto cfg = cluster_config();
      cluster_client strict(ex, cfg, {.max_redirects = 0});
      try {
        co_await strict.exec(cmd(key_in(tag, "new"), "GET", key_in(tag, "new")));
        ADD_FAILURE() << "a redirect beyond max_redirects was followed";
      } catch (const redis::request_error& e) {
        EXPECT_EQ(e.code(), redis::error::too_many_redirects) << e.what();
      }
    }

    auto port_of = [](const std::string& address) { return address.substr(address.find(':') + 1); };
    co_await source.exec("MIGRATE", "127.0.0.1", port_of(to), "", 0, 5000, "KEYS",
                         key_in(tag, "old"));
    co_await target.exec("CLUSTER", "SETSLOT", slot, "NODE", target_id);
    co_await source.exec("CLUSTER", "SETSLOT", slot, "NODE", target_id);
    // The third master learns the new owner through the cluster bus; the client, from MOVED.
    EXPECT_EQ((co_await c.exec(cmd(key_in(tag, "old"), "GET", key_in(tag, "old")))).as_string(),
              "before");
    EXPECT_EQ(c.owner_of(slot), to) << "MOVED updates the map";
    EXPECT_GT(c.refresh_count(), refreshes);
  });
}

// A slot is migrated, key by key, while coroutines INCR counters in it: every INCR answers
// exactly one more than the last (no lost or repeated increment, no wrong value, no failure).
TEST_F(RedisCluster, LiveMigrationUnderLoadLosesNoIncrement) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    cluster_client c(ex, cluster_config());
    const std::string tag = "liveload";
    const auto slot = cluster_slot(key_in(tag, "0"));
    constexpr int counters = 8;
    for (int i = 0; i < counters; ++i)
      co_await c.exec(
          cmd(key_in(tag, std::to_string(i)), "SET", key_in(tag, std::to_string(i)), "0"));
    const std::string from = c.owner_of(slot);
    std::string to;
    for (const auto& m : c.masters())
      if (m != from) to = m;
    redis::client source(ex, node_config(from)), target(ex, node_config(to));
    const auto source_id = co_await node_id(source), target_id = co_await node_id(target);

    bool migrated = false;
    int wrong = 0, failed = 0, done = 0;
    std::int64_t succeeded = 0;
    auto load = [&](int i) -> asio::awaitable<void> {
      const auto key = key_in(tag, std::to_string(i));
      std::int64_t expected = 0;
      // Keep going until the migration finished and a few more rounds ran against the new owner.
      for (int after = 0; after < 20; after += migrated ? 1 : 0) {
        try {
          auto v = co_await c.exec(cmd(key, "INCR", key));
          if (v.as_int() != ++expected) ++wrong;
          ++succeeded;
        } catch (const std::exception&) {
          ++failed;
        }
      }
      ++done;
    };
    for (int i = 0; i < counters; ++i) asio::co_spawn(ex, load(i), asio::detached);

    co_await target.exec("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id);
    co_await source.exec("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id);
    const auto port = to.substr(to.find(':') + 1);
    for (int i = 0; i < counters; ++i)
      co_await source.exec("MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS",
                           key_in(tag, std::to_string(i)));
    co_await target.exec("CLUSTER", "SETSLOT", slot, "NODE", target_id);
    co_await source.exec("CLUSTER", "SETSLOT", slot, "NODE", target_id);
    migrated = true;

    asio::steady_timer tick(ex);
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (done < counters && std::chrono::steady_clock::now() < give_up) {
      tick.expires_after(1ms);  // yields to the load coroutines; the loop ends on their count
      co_await tick.async_wait(asio::use_awaitable);
    }
    EXPECT_EQ(done, counters);
    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(failed, 0);
    std::int64_t total = 0;
    for (int i = 0; i < counters; ++i)
      total +=
          std::stoll((co_await target.exec("GET", key_in(tag, std::to_string(i)))).as_string());
    EXPECT_EQ(total, succeeded);
    EXPECT_GE(total, counters * 20);
    EXPECT_EQ(c.owner_of(slot), to);
    EXPECT_GT(c.refresh_count(), 1u) << "the load met MOVED after the migration";
  });
}

TEST_F(RedisCluster, NoSeedAnsweringIsATypedError) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = fast_config("redis-cluster://127.0.0.1:1");
    cluster_client c(ex, cfg);
    try {
      co_await c.exec(cmd("k", "GET", "k"));
      ADD_FAILURE() << "a command went through with no reachable seed";
    } catch (const redis::request_error& e) {
      EXPECT_EQ(e.code(), redis::error::cluster_unavailable) << e.what();
    }
  });
}

TEST(RedisClusterClient, BadInputIsATypedError) {
  asio::io_context io;
  auto one_server = fast_config("redis://127.0.0.1:1");
  EXPECT_THROW(cluster_client(io.get_executor(), one_server), cachet::error);
  auto cfg = fast_config("redis-cluster://127.0.0.1:1");
  EXPECT_THROW(cluster_client(io.get_executor(), cfg, {.max_redirects = -1}), cachet::error);
  cluster_client moved_from(io.get_executor(), cfg);
  cluster_client moved_to = std::move(moved_from);
  EXPECT_THROW((void)moved_from.masters(),
               redis::request_error);  // NOLINT(bugprone-use-after-move)
}

TEST(RedisClusterClient, ACommandWithoutArgumentsIsATypedError) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    cluster_client c(ex, fast_config("redis-cluster://127.0.0.1:1"));
    std::string what;
    auto no_arguments = cmd("k");
    try {
      co_await c.exec(std::move(no_arguments));
    } catch (const cachet::error& e) {
      what = e.what();
    }
    EXPECT_EQ(what.rfind("cachet::redis::cluster_client: a command has no arguments", 0), 0u)
        << what;
  });
}

}  // namespace
