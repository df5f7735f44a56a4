// cachet::early_refresh on the shared backends (issue #12): a Redis hit (or a memory-tier hit)
// past P% of its ttl answers at once, and one background refresh writes the new value to Redis,
// where every replica finds it. Time is a manual clock given to the cached objects, which is
// what the entries' freshness (`f`) is measured in.

#include <cachet/async.hpp>
#include <cachet/redis.hpp>
#include <cachet/tiered.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;

// key * 100 + the number of loads so far: every load gives a new value. Loads can be held until
// the test releases them, or made to throw.
struct source {
  std::mutex m;
  std::condition_variable changed;
  int loads = 0;
  int held = 0;
  bool hold = false;
  int held_key = -1;  // with `hold`, only this key's loads are held (-1: every key's)
  bool fail = false;

  int load(int key) {
    std::unique_lock lock(m);
    const int n = ++loads;
    if (hold && (held_key < 0 || held_key == key)) {
      ++held;
      changed.notify_all();
      changed.wait(lock, [&] { return !hold; });
      --held;
    }
    if (fail) throw std::runtime_error("source down");
    return key * 100 + n;
  }
  void hold_loads(int key = -1) {
    std::lock_guard lock(m);
    hold = true;
    held_key = key;
  }
  bool wait_until_held() {
    std::unique_lock lock(m);
    return changed.wait_for(lock, 20s, [&] { return held > 0; });
  }
  void release() {
    {
      std::lock_guard lock(m);
      hold = false;
    }
    changed.notify_all();
  }
  int load_count() {
    std::lock_guard lock(m);
    return loads;
  }
};

using tiers = cachet::tiered<cachet::memory, cachet::redis>;

template <class Backend>
using leased_refreshing =
    cachet::cached_function<std::function<int(int)>, cachet::ttl<100>, cachet::key<"refreshed:{}">,
                            cachet::backend<Backend>, cachet::early_refresh<80>, cachet::lease<30>>;

template <class Backend>
using refreshing = cachet::cached_function<std::function<int(int)>, cachet::ttl<100>,
                                           cachet::key<"refreshed:{}">, cachet::tags<"r:{}">,
                                           cachet::backend<Backend>, cachet::early_refresh<80>>;

class RedisEarlyRefresh : public ::testing::Test {
 protected:
  template <class Backend>
  std::unique_ptr<refreshing<Backend>> make(Backend& backend) {
    return std::make_unique<refreshing<Backend>>(
        std::function<int(int)>([this](int k) { return src.load(k); }), backend,
        cachet::options{.clock = &clock});
  }

  const std::string url = cachet_test::shared_redis_url();
  const std::string prefix = cachet_test::test_prefix();
  // Patient limits: a refresh whose write timed out on a loaded machine would leave the old
  // value, which the tests below would take for a refresh that was never made.
  std::unique_ptr<cachet::redis> backend = cachet_test::make_patient_backend(url, prefix);
  cachet::manual_clock clock;
  source src;
};

// What a cached object counted, for a failure's message.
std::string counted(const cachet::stats& s) {
  return "hits " + std::to_string(s.hits) + ", misses " + std::to_string(s.misses) + ", loads " +
         std::to_string(s.loads) + ", load errors " + std::to_string(s.load_errors) +
         ", backend errors " + std::to_string(s.backend_errors) + ", memory-tier hits " +
         std::to_string(s.memory_tier_hits);
}

TEST_F(RedisEarlyRefresh, ADueHitAnswersAtOnceAndOneRefreshWritesRedisForEveryReplica) {
  auto c = make(*backend);
  EXPECT_EQ((*c)(1), 101);
  clock.advance(79s);
  for (int i = 0; i < 10; ++i) EXPECT_EQ((*c)(1), 101);
  EXPECT_EQ(src.load_count(), 1) << "a hit before 80% of the ttl started a refresh";

  src.hold_loads();
  clock.advance(2s);
  EXPECT_EQ((*c)(1), 101);  // answered while its refresh is held
  ASSERT_TRUE(src.wait_until_held());
  for (int i = 0; i < 50; ++i) EXPECT_EQ((*c)(1), 101);
  EXPECT_EQ(src.load_count(), 2);
  src.release();
  ASSERT_TRUE(cachet_test::wait_until([&] { return c->peek(1) == 102; }));
  EXPECT_EQ((*c)(1), 102);

  // Another replica: its own connections and cached object, the same Redis.
  auto other_backend = cachet_test::make_patient_backend(url, prefix);
  auto other = make(*other_backend);
  EXPECT_EQ((*other)(1), 102);
  EXPECT_EQ(src.load_count(), 2);
  EXPECT_EQ(c->stats().loads, 2u);
}

TEST_F(RedisEarlyRefresh, AFailedRefreshLeavesTheOldValueServed) {
  auto c = make(*backend);
  EXPECT_EQ((*c)(2), 201);
  src.fail = true;
  clock.advance(81s);
  EXPECT_EQ((*c)(2), 201);
  ASSERT_TRUE(cachet_test::wait_until([&] { return c->stats().load_errors == 1; }));
  EXPECT_EQ(c->peek(2), 201);
  src.fail = false;
  // Still due: a later hit tries again. The failed refresh is counted before its worker lets go
  // of the key, and a hit meanwhile starts nothing, so hits go on until one does.
  ASSERT_TRUE(cachet_test::wait_until([&] {
    (*c)(2);
    return src.load_count() > 2;
  })) << counted(c->stats());
  // 203, or a later load's value should a hit that read 201 have started one more refresh.
  ASSERT_TRUE(cachet_test::wait_until([&] { return c->peek(2).value_or(0) >= 203; }))
      << counted(c->stats());
}

TEST_F(RedisEarlyRefresh, AnInvalidationDuringTheRefreshKeepsItsResultOut) {
  auto c = make(*backend);
  EXPECT_EQ((*c)(3), 301);
  src.hold_loads();
  clock.advance(81s);
  EXPECT_EQ((*c)(3), 301);
  ASSERT_TRUE(src.wait_until_held());
  c->invalidate_tag("r:3");  // the refresh computes from data this invalidation outdates
  src.release();
  ASSERT_TRUE(cachet_test::wait_until([&] { return c->stats().loads == 2; }));
  EXPECT_EQ((*c)(3), 303) << "the refresh begun before the invalidation was stored";
}

// With a lease, a due entry is refreshed by one process of the fleet: the one whose refresh took
// the lease; another's due hit starts a refresh that finds the lease taken and computes nothing.
TEST_F(RedisEarlyRefresh, WithALeaseOneReplicaRefreshesForTheFleet) {
  auto other_backend = cachet_test::make_patient_backend(url, prefix);
  auto make_leased = [&](cachet::redis& b) {
    return std::make_unique<leased_refreshing<cachet::redis>>(
        std::function<int(int)>([this](int k) { return src.load(k); }), b,
        cachet::options{.clock = &clock});
  };
  auto a = make_leased(*backend);
  auto b = make_leased(*other_backend);
  EXPECT_EQ((*a)(5), 501);
  EXPECT_EQ((*a)(6), 602);
  EXPECT_EQ((*b)(5), 501);
  EXPECT_EQ((*b)(6), 602);
  src.hold_loads(5);
  clock.advance(81s);
  EXPECT_EQ((*a)(5), 501);  // a's refresh takes the lease, and is held
  ASSERT_TRUE(src.wait_until_held());
  EXPECT_EQ((*b)(5), 501);  // b's refresh finds the lease a's
  EXPECT_EQ((*b)(6), 602);  // queued behind it on b's worker, and not held
  // b's refreshes run one after the other: once key 6's is stored, key 5's has returned, and
  // had it computed, it would still be held.
  ASSERT_TRUE(cachet_test::wait_until([&] { return b->peek(6) == 604; }));
  EXPECT_EQ(src.load_count(), 4);
  src.release();
  ASSERT_TRUE(cachet_test::wait_until([&] { return b->peek(5) == 503; }));
  EXPECT_EQ(src.load_count(), 4);
  EXPECT_EQ(a->stats().loads, 3u);
  EXPECT_EQ(b->stats().loads, 1u);
}

// Two tiers: memory answers the due hit, the Redis tier refreshes, and the write's push drops
// memory's entry, so the next call brings the new value from Redis into memory.
TEST_F(RedisEarlyRefresh, OnTwoTiersAMemoryHitThatIsDueRefreshesBothTiers) {
  cachet::memory mem{clock};
  tiers both{mem, *backend};
  ASSERT_TRUE(both.wait_coherent(10s));
  auto c = make(both);
  EXPECT_EQ((*c)(4), 401);  // computed and written
  both.sync();
  EXPECT_EQ((*c)(4), 401);  // a Redis hit, kept in memory
  both.sync();
  const auto memory_hits = c->stats().memory_tier_hits;
  EXPECT_EQ((*c)(4), 401);
  EXPECT_EQ(c->stats().memory_tier_hits, memory_hits + 1);

  src.hold_loads();
  clock.advance(81s);
  EXPECT_EQ((*c)(4), 401);  // memory's hit, answered while its refresh is held
  ASSERT_TRUE(src.wait_until_held());
  EXPECT_EQ((*c)(4), 401);
  src.release();
  // With peek(), which starts nothing (see expect_due_async_hit_refreshes below).
  ASSERT_TRUE(cachet_test::wait_until([&] {
    both.sync();
    return c->peek(4) == 402;
  })) << counted(c->stats());
  EXPECT_EQ((*c)(4), 402);
  EXPECT_EQ(src.load_count(), 2) << counted(c->stats());
}

// async() on each backend: a hit due for a refresh answers at once and starts the refresh, as a
// call's does. `settle` makes the next call a hit of the backend's fastest tier (on two tiers:
// the memory tier), `sync` lets the refresh's write reach it.
template <class Cache>
int await_call(Cache& c, int key) {
  boost::asio::io_context io;
  std::future<int> answer = boost::asio::co_spawn(io, c.async(key), boost::asio::use_future);
  io.run();
  return answer.get();
}

// The same through async_many, a batch of one argument.
struct through_async {
  template <class Cache>
  int operator()(Cache& c, int key) const {
    return await_call(c, key);
  }
};
struct through_async_many {
  template <class Cache>
  int operator()(Cache& c, int key) const {
    boost::asio::io_context io;
    const std::vector<int> keys{key};
    std::future<std::vector<int>> answer =
        boost::asio::co_spawn(io, c.async_many(keys), boost::asio::use_future);
    io.run();
    return answer.get().at(0);
  }
};

template <class Call, class Cache, class Settle, class Sync>
void expect_due_async_hit_refreshes(Cache& c, source& src, cachet::manual_clock& clock,
                                    Settle settle, Sync sync) {
  const Call await_call;
  EXPECT_EQ(await_call(c, 3), 301);  // computed
  settle();
  const auto hits = c.stats().hits;
  clock.advance(79s);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(await_call(c, 3), 301);
  EXPECT_EQ(c.stats().hits, hits + 5);
  EXPECT_EQ(src.load_count(), 1) << "a hit before 80% of the ttl started a refresh";

  src.hold_loads();
  clock.advance(2s);
  EXPECT_EQ(await_call(c, 3), 301);  // answered while its refresh is held
  ASSERT_TRUE(src.wait_until_held()) << "a due coroutine hit started no refresh";
  for (int i = 0; i < 5; ++i) EXPECT_EQ(await_call(c, 3), 301);
  EXPECT_EQ(src.load_count(), 2);
  src.release();
  // Looked for with peek(), which starts nothing: a due hit whose read came before the refresh's
  // write, but whose check came after the refresh ended, would start another one (the worker
  // queues a key at most once while its refresh waits or runs, not after).
  ASSERT_TRUE(cachet_test::wait_until([&] {
    sync();
    return c.peek(3) == 302;
  })) << counted(c.stats());
  EXPECT_EQ(await_call(c, 3), 302);
  EXPECT_EQ(src.load_count(), 2) << counted(c.stats());
}

// async_many with a stage (retry) settles each argument on its own (the stores'
// async_settle_many): a due hit there starts its refresh too.
TEST_F(RedisEarlyRefresh, ADueHitOfABatchWithStagesStartsARefresh) {
  using retrying = cachet::cached_function<
      std::function<int(int)>, cachet::ttl<100>, cachet::key<"refreshed:{}">, cachet::tags<"r:{}">,
      cachet::backend<cachet::redis>, cachet::early_refresh<80>, cachet::retry<2>>;
  retrying c{std::function<int(int)>([this](int k) { return src.load(k); }), *backend,
             cachet::options{.clock = &clock}};
  expect_due_async_hit_refreshes<through_async_many>(
      c, src, clock, [] {}, [] {});
}

template <class Call>
class RedisEarlyRefreshInCoroutines : public RedisEarlyRefresh {};
using coroutine_calls = ::testing::Types<through_async, through_async_many>;
TYPED_TEST_SUITE(RedisEarlyRefreshInCoroutines, coroutine_calls);

TYPED_TEST(RedisEarlyRefreshInCoroutines, ADueHitStartsARefreshInMemory) {
  cachet::memory mem{this->clock};
  auto c = this->make(mem);
  expect_due_async_hit_refreshes<TypeParam>(
      *c, this->src, this->clock, [] {}, [] {});
}

TYPED_TEST(RedisEarlyRefreshInCoroutines, ADueHitStartsARefreshOnRedis) {
  auto c = this->make(*this->backend);
  expect_due_async_hit_refreshes<TypeParam>(
      *c, this->src, this->clock, [] {}, [] {});
}

TYPED_TEST(RedisEarlyRefreshInCoroutines, ADueMemoryTierHitStartsARefreshOnTwoTiers) {
  cachet::memory mem{this->clock};
  tiers both{mem, *this->backend};
  ASSERT_TRUE(both.wait_coherent(10s));
  auto c = this->make(both);
  const TypeParam await_call;
  auto settle = [&] {
    both.sync();
    EXPECT_EQ(await_call(*c, 3), 301);  // a Redis hit, kept in memory
    both.sync();
    const auto memory_hits = c->stats().memory_tier_hits;
    EXPECT_EQ(await_call(*c, 3), 301);
    EXPECT_EQ(c->stats().memory_tier_hits, memory_hits + 1);
  };
  expect_due_async_hit_refreshes<TypeParam>(*c, this->src, this->clock, settle,
                                            [&] { both.sync(); });
  EXPECT_GT(c->stats().memory_tier_hits, 2u);
}

}  // namespace
