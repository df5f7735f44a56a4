// put, refresh and warm on cachet::redis and cachet::tiered<cachet::memory, cachet::redis>
// (issue #12's write side). Replicas are separate backend objects of one process: each has its
// own connections, so Redis sees them as it sees processes (as in tiered_test.cpp).

#include <cachet/tiered.hpp>

#include <boost/asio/awaitable.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/held_load.hpp"
#include "support/redis_server.hpp"
#include "support/tiered_replica.hpp"

namespace app {

// The source of truth: a version, and a count of the function's calls.
std::atomic<int> version{0};
std::atomic<int> loads{0};

using cachet_test::held_load;
held_load held;

std::string load_name(long id) {
  loads.fetch_add(1);
  const int seen = version.load();  // read before a held load waits: what a slow query saw
  held.pass();
  return "v" + std::to_string(seen) + ":" + std::to_string(id);
}

int pair_loads = 0;
std::string load_pair(long a, const std::string& b) {
  ++pair_loads;
  return std::to_string(a) + b;
}

// A function that is itself a coroutine: the blocking store runs its awaitable.
boost::asio::awaitable<std::string> fetch_name(long id) {
  loads.fetch_add(1);
  co_return "co" + std::to_string(version.load()) + ":" + std::to_string(id);
}

struct repo {
  std::string region;
  int calls = 0;
  std::string find(long id) {
    ++calls;
    return region + std::to_string(version.load()) + ":" + std::to_string(id);
  }
};

}  // namespace app

namespace {

using namespace std::chrono_literals;
using tiers = cachet::tiered<cachet::memory, cachet::redis>;

template <class Backend>
using name_cache = cachet::cached<&app::load_name, cachet::ttl<60>, cachet::key<"name:{}">,
                                  cachet::tags<"name-tag:{}">, cachet::backend<Backend>>;

using replica = cachet_test::tiered_replica;

class WritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix = cachet_test::test_prefix();
    app::version = 0;
    app::loads = 0;
    app::pair_loads = 0;
  }
  const std::string url = cachet_test::shared_redis_url();
  std::string prefix;
};

// Two Redis backend objects of one server: two replicas without a memory tier.
class RedisWrites : public WritesTest {
 protected:
  void SetUp() override {
    WritesTest::SetUp();
    a = cachet_test::make_patient_backend(url, prefix);
    b = cachet_test::make_patient_backend(url, prefix);
  }
  std::unique_ptr<cachet::redis> a;
  std::unique_ptr<cachet::redis> b;
};

TEST_F(RedisWrites, PutIsSeenByAnotherReplicaWithoutACall) {
  name_cache<cachet::redis> a_names{*a};
  name_cache<cachet::redis> b_names{*b};
  EXPECT_EQ(b_names(1), "v0:1");
  a_names.put(1, "put:1");
  EXPECT_EQ(b_names(1), "put:1");
  EXPECT_EQ(a_names(1), "put:1");
  a_names.put(2, "put:2");  // nothing stored before
  EXPECT_EQ(b_names(2), "put:2");
  EXPECT_EQ(app::loads.load(), 1);
}

TEST_F(RedisWrites, ALoadUnderWayOnAnotherReplicaDoesNotOverwriteAPut) {
  name_cache<cachet::redis> a_names{*a};
  name_cache<cachet::redis> b_names{*b};
  app::held.arm();
  std::string first;
  std::thread call([&] { first = b_names(7); });
  EXPECT_TRUE(app::held.wait_inside());  // b read the old version and is computing
  app::version = 1;
  a_names.put(7, "put:7");
  app::held.release();
  call.join();
  EXPECT_EQ(first, "v0:7");  // b's caller gets what it computed, but it was not written
  EXPECT_EQ(b_names(7), "put:7");
  EXPECT_EQ(a_names(7), "put:7");
  EXPECT_EQ(app::loads.load(), 1);
}

TEST_F(RedisWrites, ALoadUnderWayDoesNotOverwriteARefresh) {
  name_cache<cachet::redis> a_names{*a};
  name_cache<cachet::redis> b_names{*b};
  app::held.arm();
  std::string first;
  std::thread call([&] { first = b_names(8); });
  EXPECT_TRUE(app::held.wait_inside());
  app::version = 2;
  EXPECT_EQ(a_names.refresh(8), "v2:8");
  app::held.release();
  call.join();
  EXPECT_EQ(first, "v0:8");
  EXPECT_EQ(b_names(8), "v2:8");
  EXPECT_EQ(app::loads.load(), 2);
}

TEST_F(RedisWrites, RefreshCallsTheFunctionOnceEvenWhenFresh) {
  name_cache<cachet::redis> a_names{*a};
  name_cache<cachet::redis> b_names{*b};
  EXPECT_EQ(a_names(3), "v0:3");
  app::version = 1;
  EXPECT_EQ(b_names(3), "v0:3");  // fresh in Redis
  EXPECT_EQ(app::loads.load(), 1);
  EXPECT_EQ(b_names.refresh(3), "v1:3");
  EXPECT_EQ(app::loads.load(), 2);
  EXPECT_EQ(a_names(3), "v1:3");
  EXPECT_EQ(app::loads.load(), 2);
}

TEST_F(RedisWrites, WarmComputesOnlyTheMissing) {
  name_cache<cachet::redis> a_names{*a};
  name_cache<cachet::redis> b_names{*b};
  a_names(1);
  a_names(3);
  EXPECT_EQ(b_names.warm(std::vector{1, 2, 3, 4}), 2u);
  EXPECT_EQ(app::loads.load(), 4);
  EXPECT_EQ(a_names.warm(std::vector{1, 2, 3, 4}), 0u);
  for (long id = 1; id <= 4; ++id) EXPECT_EQ(a_names(id), "v0:" + std::to_string(id));
  EXPECT_EQ(app::loads.load(), 4);

  cachet::cached<&app::load_pair, cachet::ttl<60>, cachet::key<"pair:{}:{}">,
                 cachet::backend<cachet::redis>>
      pairs{*a};
  using namespace std::string_literals;
  pairs(1, "a");
  EXPECT_EQ(pairs.warm(std::vector{std::tuple{1L, "a"s}, std::tuple{2L, "b"s}}), 1u);
  EXPECT_EQ(app::pair_loads, 2);
  EXPECT_EQ(pairs.peek(2, "b"), "2b");
}

TEST_F(RedisWrites, TagsReachPutEntries) {
  name_cache<cachet::redis> a_names{*a};
  name_cache<cachet::redis> b_names{*b};
  a_names.put(42, "put:42");
  a_names.put(43, "put:43");
  b_names.invalidate_tag("name-tag:42");
  EXPECT_FALSE(a_names.peek(42).has_value());
  EXPECT_EQ(a_names.peek(43), "put:43");
  EXPECT_EQ(a_names(42), "v0:42");
  EXPECT_EQ(app::loads.load(), 1);
}

TEST_F(RedisWrites, MemberFunctions) {
  cachet::cached<&app::repo::find, cachet::ttl<60>, cachet::key<"find:{}">,
                 cachet::backend<cachet::redis>>
      a_find{*a};
  cachet::cached<&app::repo::find, cachet::ttl<60>, cachet::key<"find:{}">,
                 cachet::backend<cachet::redis>>
      b_find{*b};
  app::repo eu{"eu"};
  a_find.put(eu, 1, "put:1");
  EXPECT_EQ(b_find(eu, 1), "put:1");
  EXPECT_EQ(eu.calls, 0);
  app::version = 1;
  EXPECT_EQ(b_find.refresh(eu, 1), "eu1:1");
  EXPECT_EQ(a_find(eu, 1), "eu1:1");
  EXPECT_EQ(eu.calls, 1);
  EXPECT_EQ(a_find.warm(eu, std::vector{1, 2, 3}), 2u);
  EXPECT_EQ(eu.calls, 3);
  EXPECT_EQ(b_find(eu, 3), "eu1:3");
  EXPECT_EQ(eu.calls, 3);
}

TEST_F(RedisWrites, CoroutineFunctions) {
  cachet::cached<&app::fetch_name, cachet::ttl<60>, cachet::key<"co:{}">,
                 cachet::backend<cachet::redis>>
      a_names{*a};
  cachet::cached<&app::fetch_name, cachet::ttl<60>, cachet::key<"co:{}">,
                 cachet::backend<cachet::redis>>
      b_names{*b};
  a_names.put(1, "put:1");
  EXPECT_EQ(b_names(1), "put:1");
  EXPECT_EQ(app::loads.load(), 0);
  app::version = 1;
  EXPECT_EQ(b_names.refresh(1), "co1:1");
  EXPECT_EQ(a_names(1), "co1:1");
  EXPECT_EQ(a_names.warm(std::vector{1, 2}), 1u);
  EXPECT_EQ(app::loads.load(), 2);
}

// The tiered backend: replicas with a memory tier each.
class TieredWrites : public WritesTest {};

TEST_F(TieredWrites, PutDropsAnotherReplicasMemoryTier) {
  replica a(cachet_test::patient_config(url), prefix);
  replica b(cachet_test::patient_config(url), prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s) && b.both.wait_coherent(10s));
  name_cache<tiers> a_names{a.both};
  name_cache<tiers> b_names{b.both};
  EXPECT_EQ(b_names(3), "v0:3");
  b.both.sync();
  EXPECT_EQ(b_names(3), "v0:3");  // a Redis hit, kept in b's memory
  b.both.sync();
  const auto before = b_names.stats().memory_tier_hits;
  EXPECT_EQ(b_names(3), "v0:3");
  ASSERT_EQ(b_names.stats().memory_tier_hits, before + 1) << "b's memory tier did not serve";

  const auto received = b.both.invalidations_received();
  a_names.put(3, "put:3");
  b.both.sync();
  EXPECT_GT(b.both.invalidations_received(), received);
  EXPECT_EQ(b_names(3), "put:3") << "b served its memory tier's old value after a's put";
  EXPECT_EQ(a_names(3), "put:3");
  EXPECT_EQ(app::loads.load(), 1);
}

TEST_F(TieredWrites, ALoadUnderWayDoesNotOverwriteAPut) {
  replica a(cachet_test::patient_config(url), prefix);
  replica b(cachet_test::patient_config(url), prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s) && b.both.wait_coherent(10s));
  name_cache<tiers> a_names{a.both};
  name_cache<tiers> b_names{b.both};
  app::held.arm();
  std::string first;
  std::thread call([&] { first = b_names(7); });
  EXPECT_TRUE(app::held.wait_inside());
  app::version = 1;
  a_names.put(7, "put:7");
  app::held.release();
  call.join();
  EXPECT_EQ(first, "v0:7");
  b.both.sync();
  EXPECT_EQ(b_names(7), "put:7");
  EXPECT_EQ(b_names(7), "put:7");  // from either tier
  EXPECT_EQ(a_names(7), "put:7");
  EXPECT_EQ(app::loads.load(), 1);
}

TEST_F(TieredWrites, RefreshAndWarm) {
  replica a(cachet_test::patient_config(url), prefix);
  replica b(cachet_test::patient_config(url), prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s) && b.both.wait_coherent(10s));
  name_cache<tiers> a_names{a.both};
  name_cache<tiers> b_names{b.both};
  EXPECT_EQ(b_names(1), "v0:1");
  b.both.sync();
  EXPECT_EQ(b_names(1), "v0:1");  // into b's memory
  app::version = 1;
  EXPECT_EQ(a_names.refresh(1), "v1:1");
  EXPECT_EQ(app::loads.load(), 2);
  b.both.sync();
  EXPECT_EQ(b_names(1), "v1:1") << "b served its memory tier's value after a's refresh";

  EXPECT_EQ(a_names.warm(std::vector{1, 2, 3}), 2u);
  EXPECT_EQ(app::loads.load(), 4);
  EXPECT_EQ(b_names.warm(std::vector{1, 2, 3}), 0u) << "warm filled Redis, b's far tier";
  EXPECT_EQ(app::loads.load(), 4);
  EXPECT_EQ(b_names(2), "v1:2");
}

TEST_F(TieredWrites, MemberFunctionsAndTags) {
  replica a(cachet_test::patient_config(url), prefix);
  replica b(cachet_test::patient_config(url), prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s) && b.both.wait_coherent(10s));
  cachet::cached<&app::repo::find, cachet::ttl<60>, cachet::key<"find:{}">,
                 cachet::tags<"find-tag:{}">, cachet::backend<tiers>>
      a_find{a.both};
  cachet::cached<&app::repo::find, cachet::ttl<60>, cachet::key<"find:{}">,
                 cachet::tags<"find-tag:{}">, cachet::backend<tiers>>
      b_find{b.both};
  app::repo eu{"eu"};
  a_find.put(eu, 1, "put:1");
  EXPECT_EQ(b_find(eu, 1), "put:1");
  EXPECT_EQ(eu.calls, 0);
  b_find.invalidate_tag("find-tag:1");
  a.both.sync();
  EXPECT_FALSE(a_find.peek(1).has_value()) << "a tag did not reach the put entry";
  EXPECT_EQ(a_find.refresh(eu, 1), "eu0:1");
  EXPECT_EQ(a_find.warm(eu, std::vector{1, 2}), 1u);
  EXPECT_EQ(eu.calls, 2);
}

}  // namespace
