// cachet::tiered<cachet::memory, cachet::redis> (issue #12): memory in front of Redis, coherent
// across processes. Replicas are separate processes (this binary run again with
// --tiered-reader) or, where a test must stop one at a precise point, separate backends of one
// process: each has its own connections, so Redis sees them as it sees processes.

#include <cachet/tiered.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "redis/consistency_test_support.hpp"
#include "redis/degraded_test_support.hpp"
#include "support/child_process.hpp"
#include "support/redis_server.hpp"
#include "support/tiered_replica.hpp"

namespace {

using cachet_test::invalidation;
using cachet_test::name_of;

using namespace std::chrono_literals;
using tiers = cachet::tiered<cachet::memory, cachet::redis>;

constexpr std::string_view reader_flag = "--tiered-reader";
constexpr std::string_view follower_flag = "--tiered-follower";

}  // namespace

namespace app {

// The source of truth: versions of rows in Redis, read through a connection of the test's own.
cachet_test::data_connection* data = nullptr;
std::string data_prefix;
std::atomic<long> loads{0};

std::string row_key(int row) { return data_prefix + ":row:" + std::to_string(row); }
std::string confirmed_key(int row) { return data_prefix + ":confirmed:" + std::to_string(row); }
std::string data_key(std::string_view name) { return data_prefix + ":" + std::string(name); }

long read_row(int row) {
  loads.fetch_add(1);
  return data->get_long(row_key(row));
}

long read_cell(int row, long column) {
  ++loads;
  return data->get_long(data_key("cell:" + std::to_string(row) + "/" + std::to_string(column)));
}

long read_named(std::string name) {
  ++loads;
  return data->get_long(data_key("named:" + name));
}

// A codec that can hold one decode (a Redis hit, on its way into memory) until released.
struct holding_codec {
  static inline std::mutex m;
  static inline std::condition_variable changed;
  static inline bool hold_next = false;
  static inline bool holding = false;

  template <class T>
  static std::string encode(const T& value) {
    return cachet::json_codec::encode(value);
  }
  template <class T>
  static T decode(std::string_view text) {
    std::unique_lock lock(m);
    if (hold_next) {
      hold_next = false;
      holding = true;
      changed.notify_all();
      changed.wait(lock, [] { return !holding; });
    }
    return cachet::json_codec::decode<T>(text);
  }
  static void hold() {
    std::lock_guard lock(m);
    hold_next = true;
  }
  static bool wait_held() {
    std::unique_lock lock(m);
    return changed.wait_for(lock, 10s, [] { return holding; });
  }
  static void release() {
    {
      std::lock_guard lock(m);
      holding = false;
    }
    changed.notify_all();
  }
};

}  // namespace app

namespace {

using row_cache = cachet::cached<&app::read_row, cachet::ttl<60>, cachet::key<"row:{}">,
                                 cachet::tags<"row-tag:{}">, cachet::backend<tiers>>;
using held_row_cache = cachet::cached<&app::read_row, cachet::ttl<60>, cachet::key<"row:{}">,
                                      cachet::tags<"row-tag:{}">, cachet::codec<app::holding_codec>,
                                      cachet::backend<tiers>>;

// One replica, whose health-check PING notices a hung server within two seconds unless a test
// says otherwise.
struct replica : cachet_test::tiered_replica {
  replica(const std::string& url, const std::string& prefix,
          std::chrono::milliseconds health_check = 2000ms)
      : tiered_replica(url, prefix, health_check) {}
};

class Tiered : public cachet_test::process_test {
 protected:
  Tiered() : process_test(app::data, app::data_prefix) {}
  void SetUp() override {
    process_test::SetUp();
    app::loads = 0;
  }
};

// The commands a server has run before this INFO.
long commands_processed(cachet_test::data_connection& server) {
  const std::string info = server.exec("INFO", "stats").as_string();
  const std::string field = "total_commands_processed:";
  return std::stol(info.substr(info.find(field) + field.size()));
}

TEST_F(Tiered, MemoryAnswersRepeatedCallsWithoutRedis) {
  // A server of its own, whose command count only this test moves; no health-check PING either.
  cachet_test::private_redis_server server;
  data->exec("SET", app::row_key(1), 7);
  cachet_test::data_connection looks{server.url()};
  replica a(server.url(), prefix, 0ms);
  ASSERT_TRUE(a.both.wait_coherent(10s));
  row_cache get_row{a.both};
  // The first call computes and writes Redis; its own write comes back as an invalidation, so
  // memory keeps what the second call, a Redis hit, brings.
  EXPECT_EQ(get_row(1), 7);
  a.both.sync();
  EXPECT_EQ(get_row(1), 7);
  a.both.sync();
  const cachet::stats before = get_row.stats();
  const long commands_before = commands_processed(looks);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(get_row(1), 7);
  EXPECT_EQ(commands_processed(looks) - commands_before, 1) << "only the first INFO";
  const cachet::stats after = get_row.stats();
  EXPECT_EQ(app::loads.load(), 1);
  EXPECT_EQ(after.memory_tier_hits - before.memory_tier_hits, 100u);
  EXPECT_EQ(after.hits - before.hits, 100u);
  EXPECT_EQ(after.misses, before.misses) << "a memory hit asked Redis";
}

// Without an object: the shared memory backend in front of the shared (configured) Redis one.
TEST_F(Tiered, SharedBackendsByDefault) {
  static const bool configured = [&] {
    cachet::redis::configure(cachet_test::degraded_config(url, 2000ms),
                             cachet::redis_options{.key_prefix = prefix});
    return true;
  }();
  ASSERT_TRUE(configured);
  // The shared Redis backend keeps the first run's prefix: each run (--gtest_repeat) its own row.
  static int runs = 0;
  const int row = 100 + runs++;
  data->exec("SET", app::row_key(row), 5);
  row_cache get_row;
  EXPECT_EQ(&get_row.backend(), &tiers::shared());
  EXPECT_EQ(&tiers::shared().near(), &cachet::memory::shared());
  EXPECT_EQ(&tiers::shared().far(), &cachet::redis::shared());
  ASSERT_TRUE(tiers::shared().wait_coherent(10s));
  EXPECT_EQ(get_row(row), 5);
  tiers::shared().sync();
  EXPECT_EQ(get_row(row), 5);
  tiers::shared().sync();
  EXPECT_EQ(get_row(row), 5);
  EXPECT_EQ(get_row.stats().memory_tier_hits, 1u);
  EXPECT_EQ(app::loads.load(), 1);
}

TEST_F(Tiered, CapacityBoundsTheMemoryTier) {
  replica a(url, prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s));
  cachet::cached<&app::read_row, cachet::ttl<60>, cachet::key<"row:{}">, cachet::capacity<2>,
                 cachet::backend<tiers>>
      get_row{a.both};
  for (int row = 0; row < 10; ++row) get_row(row);
  a.both.sync();
  for (int row = 0; row < 10; ++row) get_row(row);  // Redis hits, filling memory
  EXPECT_GE(get_row.stats().evictions, 8u);
  EXPECT_EQ(app::loads.load(), 10) << "Redis keeps what memory evicts";
}

// The memory tier is keyed by the arguments' bytes when their key text reads back into them
// (integers under a key<> template), else by the text: either way another replica's
// invalidation of the key reaches it, and memory answers repeated calls.
template <class Cache, class... Args>
void expect_memory_hit_then_invalidation_from(Cache& reader, tiers& reader_tiers, Cache& writer,
                                              const std::string& data_key, const Args&... args) {
  reader(args...);
  reader_tiers.sync();
  EXPECT_EQ(reader(args...), 1);  // a Redis hit, kept in memory
  reader_tiers.sync();
  const cachet::stats before = reader.stats();
  EXPECT_EQ(reader(args...), 1);
  EXPECT_EQ(reader.stats().memory_tier_hits, before.memory_tier_hits + 1) << data_key;

  app::data->exec("SET", data_key, 2);
  writer.invalidate(args...);
  reader_tiers.sync();
  EXPECT_EQ(reader(args...), 2) << data_key << ": served from memory after the invalidation";
}

TEST_F(Tiered, EveryKindOfKeyReachesAnotherReplicasMemory) {
  replica a(url, prefix);
  replica b(url, prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s) && b.both.wait_coherent(10s));
  using cell_cache = cachet::cached<&app::read_cell, cachet::ttl<60>, cachet::key<"cell:{1}/{0}">,
                                    cachet::backend<tiers>>;
  using named_cache = cachet::cached<&app::read_named, cachet::ttl<60>, cachet::key<"named:{}">,
                                     cachet::backend<tiers>>;
  cell_cache a_cells{a.both};
  cell_cache b_cells{b.both};
  named_cache a_named{a.both};
  named_cache b_named{b.both};
  row_cache a_rows{a.both};
  row_cache b_rows{b.both};

  data->exec("SET", app::data_key("cell:-4/9000000000"), 1);
  expect_memory_hit_then_invalidation_from(a_cells, a.both, b_cells,
                                           app::data_key("cell:-4/9000000000"), -4, 9000000000L);
  data->exec("SET", app::data_key("named:a b/c"), 1);
  expect_memory_hit_then_invalidation_from(a_named, a.both, b_named, app::data_key("named:a b/c"),
                                           std::string("a b/c"));
  data->exec("SET", app::row_key(-1), 1);
  expect_memory_hit_then_invalidation_from(a_rows, a.both, b_rows, app::row_key(-1), -1);

  // Another function's keys, pushed to a as well, do not drop a's entries.
  a.both.sync();             // a's own write of row -1 came back
  EXPECT_EQ(a_rows(-1), 2);  // a Redis hit, kept in memory
  a.both.sync();
  const cachet::stats before = a_rows.stats();
  b_cells.invalidate(-1, 1);
  b_named.invalidate("-1");
  a.both.sync();
  EXPECT_EQ(a_rows(-1), 2);
  EXPECT_EQ(a_rows.stats().memory_tier_hits, before.memory_tier_hits + 1);
}

// A replica's invalidation reaches the other's memory: after sync() no call there returns the
// old value.
class TieredInvalidation : public Tiered, public ::testing::WithParamInterface<invalidation> {};

TEST_P(TieredInvalidation, ReachesAnotherReplicasMemory) {
  data->exec("SET", app::row_key(3), 1);
  replica a(url, prefix);
  replica b(url, prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s) && b.both.wait_coherent(10s));
  row_cache a_rows{a.both};
  row_cache b_rows{b.both};
  EXPECT_EQ(b_rows(3), 1);
  b.both.sync();
  EXPECT_EQ(b_rows(3), 1);  // a Redis hit, kept in b's memory
  b.both.sync();
  a.both.sync();
  EXPECT_EQ(a_rows(3), 1);  // a Redis hit, kept in a's memory
  a.both.sync();
  EXPECT_EQ(a_rows(3), 1);
  ASSERT_GT(a_rows.stats().memory_tier_hits, 0u);

  data->exec("SET", app::row_key(3), 2);
  const auto received = a.both.invalidations_received();
  invalidate_row(b_rows, GetParam(), "row-tag:", 3);
  EXPECT_EQ(b_rows(3), 2) << "b served its memory's value after its own invalidation";
  a.both.sync();
  EXPECT_GT(a.both.invalidations_received(), received);
  EXPECT_EQ(a_rows(3), 2) << "a served its memory's value after b's invalidation";
}

// The race: a's Redis read answered the old value, and b's invalidation reached a before that
// value went into a's memory. The fill must be refused: a's next call does not return it.
TEST_P(TieredInvalidation, ArrivingBeforeTheFillRefusesIt) {
  data->exec("SET", app::row_key(5), 1);
  replica a(url, prefix);
  replica b(url, prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s) && b.both.wait_coherent(10s));
  held_row_cache a_rows{a.both};
  held_row_cache b_rows{b.both};
  EXPECT_EQ(b_rows(5), 1);  // in Redis now
  a.both.sync();            // b's writes have reached a: only the invalidation below is left

  app::holding_codec::hold();
  long first = 0;
  std::thread call([&] { first = a_rows(5); });
  ASSERT_TRUE(app::holding_codec::wait_held()) << "a's Redis hit was not decoded";
  data->exec("SET", app::row_key(5), 2);
  const auto received = a.both.invalidations_received();
  invalidate_row(b_rows, GetParam(), "row-tag:", 5);
  const bool reached =
      cachet_test::wait_until([&] { return a.both.invalidations_received() > received; }, 10s);
  app::holding_codec::release();
  call.join();
  ASSERT_TRUE(reached);
  EXPECT_EQ(first, 1);  // read before the invalidation: the old value is its answer
  EXPECT_EQ(a_rows(5), 2) << "the refused fill was served";
}

// async() on the tiered backend: the same tiers as a call, in a coroutine on the caller's
// io_context.
template <class Awaitable>
auto run_coroutine(Awaitable op) {
  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
  io.run();
  return result.get();
}

TEST_P(TieredInvalidation, AsyncCallsReachEveryTierAndSeeAnotherReplicasInvalidation) {
  data->exec("SET", app::row_key(6), 1);
  replica a(url, prefix);
  replica b(url, prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s) && b.both.wait_coherent(10s));
  row_cache a_rows{a.both};
  row_cache b_rows{b.both};
  EXPECT_EQ(run_coroutine(a_rows.async(6)), 1);  // computed, written to Redis
  a.both.sync();
  EXPECT_EQ(run_coroutine(a_rows.async(6)), 1);  // a Redis hit, kept in memory
  a.both.sync();
  const cachet::stats before = a_rows.stats();
  EXPECT_EQ(run_coroutine(a_rows.async(6)), 1);
  EXPECT_EQ(a_rows.stats().memory_tier_hits, before.memory_tier_hits + 1);
  EXPECT_EQ(a_rows.stats().misses, before.misses) << "a memory hit asked Redis";
  EXPECT_EQ(app::loads.load(), 1);

  data->exec("SET", app::row_key(6), 2);
  invalidate_row(b_rows, GetParam(), "row-tag:", 6);
  a.both.sync();
  EXPECT_EQ(run_coroutine(a_rows.async(6)), 2) << "a served its memory's value after b's";
}

// The race of ArrivingBeforeTheFillRefusesIt, for a coroutine's fill.
TEST_P(TieredInvalidation, ArrivingBeforeAnAsyncFillRefusesIt) {
  data->exec("SET", app::row_key(7), 1);
  replica a(url, prefix);
  replica b(url, prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s) && b.both.wait_coherent(10s));
  held_row_cache a_rows{a.both};
  held_row_cache b_rows{b.both};
  EXPECT_EQ(b_rows(7), 1);  // in Redis now
  a.both.sync();

  app::holding_codec::hold();
  long first = 0;
  std::thread call([&] { first = run_coroutine(a_rows.async(7)); });
  ASSERT_TRUE(app::holding_codec::wait_held()) << "a's Redis hit was not decoded";
  data->exec("SET", app::row_key(7), 2);
  const auto received = a.both.invalidations_received();
  invalidate_row(b_rows, GetParam(), "row-tag:", 7);
  const bool reached =
      cachet_test::wait_until([&] { return a.both.invalidations_received() > received; }, 10s);
  app::holding_codec::release();
  call.join();
  ASSERT_TRUE(reached);
  EXPECT_EQ(first, 1);  // read before the invalidation: the old value is its answer
  EXPECT_EQ(run_coroutine(a_rows.async(7)), 2) << "the refused fill was served";
  EXPECT_EQ(a_rows(7), 2) << "the refused fill was served";
}

// Every memory-tier entry is capped by its Redis entry: a fill from an entry with 20 s left stays
// in memory no longer, though memory's ttl is 60 s and Redis's expiry push may come late (or, on
// this manual clock, not at all). Blocking calls, async() and async_many() fill memory alike.
TEST_F(Tiered, MemoryKeepsAFillNoLongerThanItsRedisEntryHasLeft) {
  for (int row = 40; row < 43; ++row) data->exec("SET", app::row_key(row), row);
  cachet::manual_clock clock;  // the memory tier's time; Redis keeps its own
  cachet::memory mem{clock};
  cachet::redis remote(replica::config(url, 2000ms), cachet::redis_options{.key_prefix = prefix});
  tiers both(mem, remote);
  ASSERT_TRUE(both.wait_coherent(10s));
  row_cache get_row{both};
  const std::vector<std::function<long(int)>> forms = {
      [&](int row) { return get_row(row); },
      [&](int row) { return run_coroutine(get_row.async(row)); },
      [&](int row) { return run_coroutine(get_row.async_many(std::vector{row})).at(0); }};
  for (int row = 40; row < 43; ++row) {
    const auto& call = forms[static_cast<std::size_t>(row - 40)];
    SCOPED_TRACE(row);
    EXPECT_EQ(call(row), row);  // computed; its own write's push drops memory's copy
    both.sync();
    data->exec("PEXPIRE", prefix + ":v1:row:" + std::to_string(row), 20000);
    both.sync();
    EXPECT_EQ(call(row), row);  // a Redis hit with 20 s left, kept in memory
    const cachet::stats filled = get_row.stats();
    EXPECT_EQ(call(row), row);
    ASSERT_EQ(get_row.stats().memory_tier_hits, filled.memory_tier_hits + 1);
    clock.advance(21s);
    const cachet::stats expired = get_row.stats();
    EXPECT_EQ(call(row), row);
    EXPECT_EQ(get_row.stats().memory_tier_hits, expired.memory_tier_hits)
        << "memory served a value its Redis entry no longer has";
    EXPECT_EQ(get_row.stats().hits, expired.hits + 1) << "Redis (real time) still has it";
  }
  EXPECT_EQ(app::loads.load(), 3);
}

// The read script asks for an entry's PTTL only for a memory tier in front, which caps its fill
// by it: a plain Redis hit, blocking or in a coroutine, runs no PTTL; a tiered one does.
TEST_F(Tiered, OnlyAHitForAMemoryTierAsksRedisForItsPttl) {
  // A server of its own, whose command counts only this test moves.
  cachet_test::private_redis_server server;
  data->exec("SET", app::row_key(1), 7);
  cachet::redis plain(replica::config(server.url(), 0ms),
                      cachet::redis_options{.key_prefix = prefix});
  cachet::cached<&app::read_row, cachet::ttl<60>, cachet::key<"row:{}">, cachet::tags<"row-tag:{}">,
                 cachet::backend<cachet::redis>>
      plain_rows{plain};
  EXPECT_EQ(plain_rows(1), 7);  // computed and written: a miss, which may run PTTL
  cachet_test::command(plain, "CONFIG", "RESETSTAT");
  EXPECT_EQ(plain_rows(1), 7);
  EXPECT_EQ(run_coroutine(plain_rows.async(1)), 7);
  // One read script for the key given twice: three Redis hits in all, four counted.
  EXPECT_EQ(run_coroutine(plain_rows.async_many(std::vector{1, 1})), (std::vector<long>{7, 7}));
  EXPECT_EQ(plain_rows.stats().hits, 4u);
  EXPECT_EQ(cachet_test::command_calls(plain, "pttl"), 0) << "a plain Redis hit ran PTTL";

  replica a(server.url(), prefix, 0ms);
  ASSERT_TRUE(a.both.wait_coherent(10s));
  row_cache tiered_rows{a.both};
  EXPECT_EQ(tiered_rows(1), 7);  // memory misses, Redis hits: its PTTL caps memory's copy
  EXPECT_EQ(tiered_rows(1), 7);  // memory hits
  EXPECT_EQ(tiered_rows.stats().hits, 2u);
  EXPECT_EQ(tiered_rows.stats().memory_tier_hits, 1u);
  EXPECT_EQ(cachet_test::command_calls(plain, "pttl"), 1) << "one Redis hit for a memory tier";
  EXPECT_EQ(app::loads.load(), 1);
}

TEST_F(Tiered, AsyncManyAnswersFromBothTiersInOrder) {
  for (int row = 20; row < 24; ++row) data->exec("SET", app::row_key(row), row * 10);
  replica a(url, prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s));
  row_cache get_row{a.both};
  EXPECT_EQ(get_row(21), 210);
  a.both.sync();
  EXPECT_EQ(get_row(21), 210);  // in memory now
  a.both.sync();
  const cachet::stats before = get_row.stats();
  EXPECT_EQ(run_coroutine(get_row.async_many(std::vector{23, 21, 20, 22, 21})),
            (std::vector<long>{230, 210, 200, 220, 210}));
  EXPECT_EQ(get_row.stats().memory_tier_hits - before.memory_tier_hits, 2u);
  EXPECT_EQ(app::loads.load(), 4);
  a.both.sync();
  EXPECT_EQ(run_coroutine(get_row.async_many(std::vector{20, 22, 23})),
            (std::vector<long>{200, 220, 230}));
  EXPECT_EQ(app::loads.load(), 4);
}

INSTANTIATE_TEST_SUITE_P(Invalidations, TieredInvalidation,
                         ::testing::Values(invalidation::key, invalidation::tag,
                                           invalidation::clear),
                         name_of);

// A lost tracking connection empties memory and stops it serving until tracking is on again; a
// value changed meanwhile is not served from memory afterwards. A hung server is noticed by the
// health-check PING, within twice its interval.
TEST_F(Tiered, LostChannelEmptiesMemoryUntilTrackingIsBack) {
  cachet_test::private_redis_server server;
  data->exec("SET", app::row_key(1), 1);
  replica a(server.url(), prefix, 100ms);
  ASSERT_TRUE(a.both.wait_coherent(10s));
  row_cache get_row{a.both};
  EXPECT_EQ(get_row(1), 1);
  a.both.sync();
  EXPECT_EQ(get_row(1), 1);
  EXPECT_EQ(get_row(1), 1);
  ASSERT_GT(get_row.stats().memory_tier_hits, 0u);

  const auto flushes = a.both.memory_flushes();
  server.pause();
  const auto paused_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(cachet_test::wait_until([&] { return !a.both.coherent(); }, 10s));
  const auto noticed = std::chrono::steady_clock::now() - paused_at;
  EXPECT_LE(noticed, 1s) << "a hung server was served from memory for too long";
  // Serving stops before memory is emptied (no call may read what is being dropped), so the
  // flush may still be under way on the channel's thread when coherent() turns false.
  EXPECT_TRUE(cachet_test::wait_until([&] { return a.both.memory_flushes() > flushes; }, 10s));
  data->exec("SET", app::row_key(1), 2);
  server.resume();
  server.restart();  // and its data are gone
  ASSERT_TRUE(a.both.wait_coherent(10s));
  EXPECT_EQ(get_row(1), 2) << "memory kept a value across the lost channel";
  std::printf("tiered: hung server noticed after %lld ms (health check every 100 ms)\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(noticed).count()));
}

// Kills every connection of `server` with client tracking on; returns how many.
int kill_tracking_connections(cachet_test::data_connection& server) {
  const std::string list = server.exec("CLIENT", "LIST").as_string();
  int killed = 0;
  std::size_t line = 0;
  while (line < list.size()) {
    std::size_t end = list.find('\n', line);
    if (end == std::string::npos) end = list.size();
    const std::string client = list.substr(line, end - line);
    line = end + 1;
    const std::size_t flags = client.find(" flags=");
    if (flags == std::string::npos) continue;
    const std::string flag_text = client.substr(flags + 7, client.find(' ', flags + 1) - flags - 7);
    if (flag_text.find('t') == std::string::npos) continue;
    const std::string id = client.substr(3, client.find(' ') - 3);
    server.exec("CLIENT", "KILL", "ID", id);
    ++killed;
  }
  return killed;
}

// Only the tracking connection drops (Redis and the backend's own connection stay up): memory
// is emptied, and what another replica invalidated meanwhile is not served from it afterwards.
TEST_F(Tiered, KilledTrackingConnectionIsReplaced) {
  cachet_test::private_redis_server server;
  cachet_test::data_connection looks{server.url()};
  data->exec("SET", app::row_key(1), 1);
  replica a(server.url(), prefix);
  replica b(server.url(), prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s) && b.both.wait_coherent(10s));
  row_cache a_rows{a.both};
  row_cache b_rows{b.both};
  EXPECT_EQ(a_rows(1), 1);
  a.both.sync();
  EXPECT_EQ(a_rows(1), 1);
  const auto memory_hits = a_rows.stats().memory_tier_hits;
  EXPECT_EQ(a_rows(1), 1);
  ASSERT_EQ(a_rows.stats().memory_tier_hits, memory_hits + 1);

  const auto flushes = a.both.memory_flushes();
  ASSERT_EQ(kill_tracking_connections(looks), 2);
  data->exec("SET", app::row_key(1), 2);
  b_rows.invalidate_tag("row-tag:1");
  ASSERT_TRUE(cachet_test::wait_until([&] { return a.both.memory_flushes() > flushes; }, 10s));
  EXPECT_EQ(a_rows(1), 2) << "memory served a value invalidated while its channel was down";
  ASSERT_TRUE(a.both.wait_coherent(10s));
  EXPECT_EQ(a_rows(1), 2);
}

// FLUSHALL (like an overflowing tracking table in default mode) sends a flush: memory empties.
TEST_F(Tiered, ServerFlushEmptiesMemory) {
  cachet_test::private_redis_server server;
  data->exec("SET", app::row_key(1), 1);
  replica a(server.url(), prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s));
  row_cache get_row{a.both};
  EXPECT_EQ(get_row(1), 1);
  a.both.sync();
  EXPECT_EQ(get_row(1), 1);
  const auto flushes = a.both.memory_flushes();
  data->exec("SET", app::row_key(1), 2);
  cachet_test::raw_command(server.url(), "FLUSHALL");
  a.both.sync();
  EXPECT_GT(a.both.memory_flushes(), flushes);
  EXPECT_EQ(get_row(1), 2);
}

// --- several processes ------------------------------------------------------------------------

constexpr int rows = 4;

// A reader process: notes the confirmed version C of a row, sync()s, reads the row; a value
// older than C is a stale read. Between the checked reads it reads on from memory.
int run_reader(const std::string& url, const std::string& prefix) {
  return cachet_test::run_child("tiered reader", url, app::data, [&](auto& data) {
    app::data_prefix = prefix + "-data";
    replica r(url, prefix);
    if (!r.both.wait_coherent(10s)) throw std::runtime_error("tracking never came on");
    row_cache get_row{r.both};
    data.exec("INCR", app::data_key("ready"));
    long reads = 0;
    long stale = 0;
    for (int i = 0; data.get_long(app::data_key("stop")) == 0; ++i) {
      if (i % rows == 0) data.exec("INCR", app::data_key("rounds"));
      const int row = i % rows;
      const long confirmed = data.get_long(app::confirmed_key(row));
      r.both.sync();
      for (int again = 0; again < 20; ++again) {
        ++reads;
        if (get_row(row) < confirmed) ++stale;
      }
    }
    cachet::redis::request totals;
    totals.push("INCRBY", app::data_key("reads"), reads);
    totals.push("INCRBY", app::data_key("stale"), stale);
    totals.push("INCRBY", app::data_key("memory_hits"), get_row.stats().memory_tier_hits);
    totals.push("INCR", app::data_key("finished"));
    data.exec(totals);
    return 0;
  });
}

class TieredAcrossProcesses : public Tiered, public ::testing::WithParamInterface<invalidation> {};

TEST_P(TieredAcrossProcesses, NoStaleReadAfterAnInvalidationReturned) {
  constexpr int readers = 3;
  constexpr int writes = 100;
  cachet_test::child_processes children;
  ASSERT_TRUE(children.start(reader_flag, {url, prefix}, readers)) << "fork failed";
  replica w(url, prefix);
  ASSERT_TRUE(w.both.wait_coherent(10s));
  row_cache writer_rows{w.both};
  ASSERT_TRUE(cachet_test::wait_until(
      [&] { return data->get_long(app::data_key("ready")) == readers; }, 30s));
  for (int i = 0; i < writes; ++i) {
    const int row = i % rows;
    const long version = data->exec("INCR", app::row_key(row)).as_int();
    invalidate_row(writer_rows, GetParam(), "row-tag:", row);
    data->exec("SET", app::confirmed_key(row), version);
  }
  // A few rounds over every row after the last write, so that memory answers some reads even
  // when the writes outran the readers.
  const long rounds = data->get_long(app::data_key("rounds"));
  EXPECT_TRUE(cachet_test::wait_until(
      [&] { return data->get_long(app::data_key("rounds")) >= rounds + 3 * readers; }, 30s));
  data->exec("SET", app::data_key("stop"), 1);
  EXPECT_TRUE(children.reaped_cleanly()) << "a child failed (see its stderr)";
  EXPECT_EQ(data->get_long(app::data_key("finished")), readers);
  EXPECT_GT(data->get_long(app::data_key("memory_hits")), 0) << "memory never answered";
  EXPECT_EQ(data->get_long(app::data_key("stale")), 0)
      << "stale reads of " << data->get_long(app::data_key("reads"));
}

INSTANTIATE_TEST_SUITE_P(Invalidations, TieredAcrossProcesses,
                         ::testing::Values(invalidation::key, invalidation::tag,
                                           invalidation::clear),
                         name_of);

// A follower process reads row 0 from memory until it sees the version it waits for, then
// reports when (steady clock, shared by the processes of one machine).
int run_follower(const std::string& url, const std::string& prefix) {
  return cachet_test::run_child("tiered follower", url, app::data, [&](auto& data) {
    app::data_prefix = prefix + "-data";
    replica r(url, prefix);
    if (!r.both.wait_coherent(10s)) throw std::runtime_error("tracking never came on");
    row_cache get_row{r.both};
    get_row(0);
    r.both.sync();
    data.exec("INCR", app::data_key("ready"));
    for (;;) {
      const long wanted = data.get_long(app::data_key("wanted"));
      if (wanted < 0) break;
      long seen = get_row(0);
      while (seen < wanted) {
        std::this_thread::yield();
        seen = get_row(0);
      }
      const auto at = std::chrono::steady_clock::now().time_since_epoch();
      cachet::redis::request report;
      report.push("SET", app::data_key("seen_at"),
                  std::chrono::duration_cast<std::chrono::nanoseconds>(at).count());
      report.push("SET", app::data_key("seen"), seen);
      data.exec(report);
      if (!cachet_test::wait_until([&] { return data.get_long(app::data_key("wanted")) != wanted; },
                                   30s)) {
        throw std::runtime_error("the test stopped asking");
      }
    }
    return 0;
  });
}

// How long a tag invalidation takes to reach another process's memory, from the call to the
// first read there that sees the new value.
TEST_F(Tiered, PropagationAcrossProcesses) {
  constexpr int rounds = 50;
  data->exec("SET", app::data_key("wanted"), 0);
  cachet_test::child_processes follower;
  ASSERT_TRUE(follower.start(follower_flag, {url, prefix})) << "fork failed";
  replica w(url, prefix);
  ASSERT_TRUE(w.both.wait_coherent(10s));
  row_cache writer_rows{w.both};
  ASSERT_TRUE(
      cachet_test::wait_until([&] { return data->get_long(app::data_key("ready")) == 1; }, 30s));
  std::vector<double> micros;
  for (int i = 1; i <= rounds; ++i) {
    data->exec("SET", app::row_key(0), i);
    data->exec("SET", app::data_key("wanted"), i);
    const auto start = std::chrono::steady_clock::now().time_since_epoch();
    writer_rows.invalidate_tag("row-tag:0");
    ASSERT_TRUE(
        cachet_test::wait_until([&] { return data->get_long(app::data_key("seen")) == i; }, 10s));
    const long long seen_at = data->get_long(app::data_key("seen_at"));
    micros.push_back(
        static_cast<double>(seen_at -
                            std::chrono::duration_cast<std::chrono::nanoseconds>(start).count()) /
        1000.0);
  }
  data->exec("SET", app::data_key("wanted"), -1);
  EXPECT_TRUE(follower.reaped_cleanly()) << "the follower failed (see its stderr)";
  std::sort(micros.begin(), micros.end());
  const double p50 = micros[micros.size() / 2];
  const double p99 = micros[micros.size() * 99 / 100];
  std::printf(
      "tiered: invalidation propagation across processes: p50 %.0f us, p99 %.0f us, "
      "max %.0f us (%d rounds)\n",
      p50, p99, micros.back(), rounds);
  // The goals (p50 5 ms, worst 50 ms) are judged in Release by bench/tiered_bench and this
  // output; sanitizer builds on a shared machine are several times slower, so the test bounds
  // are ten times wider: they catch an invalidation that waits for a timeout or a reconnect.
  EXPECT_LE(p50, 50'000.0);
  EXPECT_LE(p99, 500'000.0);
}

}  // namespace

// GoogleTest's own main, unless this binary was started as a child process by a test above.
int main(int argc, char** argv) {
  if (argc == 4 && std::string_view(argv[1]) == reader_flag) return run_reader(argv[2], argv[3]);
  if (argc == 4 && std::string_view(argv[1]) == follower_flag) {
    return run_follower(argv[2], argv[3]);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
