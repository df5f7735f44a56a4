// Issue #9, point 2: a lost or rolled-back counter never revives an entry it invalidated. The
// counters go under memory pressure (a private server whose maxmemory they nearly fill, for each
// eviction policy), by hand (deleted, set back to where it started, overwritten with a string or
// a list) and with a restart that loses everything (no persistence). A read that returns a
// value computed before a confirmed invalidation is a stale read; there must be none, nothing
// may throw to the caller, and only the entries depending on a damaged counter may miss.

#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "redis/consistency_test_support.hpp"
#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"
#include "support/run_together.hpp"

namespace eviction_app {

// The source of truth: one version per item, bumped before each invalidation.
std::vector<long> item_versions;
long versioned_item(int id) { return item_versions[static_cast<std::size_t>(id)]; }

long plain_item(int id) { return id * 10L; }

// Blocks its caller inside the load until the test releases it, so that the test can act
// between reading the source of truth and storing the result.
std::atomic<long> gated_version{0};
std::atomic<bool> gate_entered{false};
std::atomic<bool> gate_released{false};
long gated_item(int) {
  const long version = gated_version.load();
  gate_entered.store(true);
  cachet_test::wait_until([] { return gate_released.load(); });
  return version;
}

}  // namespace eviction_app

namespace {

using namespace std::chrono_literals;

using item_cache =
    cachet::cached<&eviction_app::versioned_item, cachet::ttl<3600>, cachet::key<"item:{}">,
                   cachet::tags<"item-tag:{}">, cachet::backend<cachet::redis>>;
using plain_cache = cachet::cached<&eviction_app::plain_item, cachet::ttl<3600>,
                                   cachet::key<"plain:{}">, cachet::backend<cachet::redis>>;
using gated_cache =
    cachet::cached<&eviction_app::gated_item, cachet::ttl<3600>, cachet::key<"gated:{}">,
                   cachet::tags<"gated-tag:{}">, cachet::backend<cachet::redis>>;

constexpr std::string_view item_function = "eviction_app::versioned_item";

/// One field of INFO's text, e.g. "evicted_keys".
long info_field(cachet_test::data_connection& data, std::string_view section,
                std::string_view field) {
  const std::string text = data.exec("INFO", section).as_string();
  const std::string label = std::string(field) + ":";
  const std::size_t at = text.find(label);
  if (at == std::string::npos) throw std::runtime_error("INFO has no " + label);
  return std::stol(text.substr(at + label.size()));
}

// --- memory pressure -----------------------------------------------------------------------

constexpr int items = 5'000;
constexpr int load_threads = 4;
// Room left above what the entries and counters take when maxmemory is set.
constexpr long headroom_bytes = 1L << 20;

class EvictionPolicy : public ::testing::TestWithParam<std::string> {};

TEST_P(EvictionPolicy, NoInvalidatedEntryComesBackWhenItsCounterIsEvicted) {
  cachet_test::private_redis_server server{{"--maxmemory-policy", GetParam()}};
  cachet_test::data_connection data{server.url()};
  auto backend = cachet_test::make_test_backend(server.url());
  item_cache cache{*backend};
  eviction_app::item_versions.assign(items, 0);

  cachet_test::run_together(load_threads, [&](int t) {
    for (int id = t; id < items; id += load_threads) cache(id);
  });
  ASSERT_EQ(cache.stats().loads, static_cast<std::uint64_t>(items));
  ASSERT_EQ(cache.stats().backend_errors, 0u);

  for (int id = 0; id < items; ++id) {
    eviction_app::item_versions[static_cast<std::size_t>(id)] = 1;
    cache.invalidate_tag("item-tag:" + std::to_string(id));
  }
  ASSERT_EQ(backend->pending_invalidations(), 0u);

  // maxmemory just above what cachet's keys take now, whatever their layout; then filler keys
  // until the server has evicted as many keys as there are entries (or, under a volatile
  // policy, has nothing left to evict and refuses writes), bounded by 8x maxmemory.
  const long maxmemory_bytes = info_field(data, "memory", "used_memory") + headroom_bytes;
  data.exec("CONFIG", "SET", "maxmemory", maxmemory_bytes);
  const std::string filler(1024, 'x');
  long evicted = 0;
  bool refused = false;
  for (long written = 0; evicted < items && !refused && written < 8 * maxmemory_bytes;) {
    cachet::redis::request batch;
    for (int k = 0; k < 500; ++k, written += static_cast<long>(filler.size())) {
      batch.push("SET", "filler:" + std::to_string(written), filler);
    }
    for (const cachet::redis::value& reply : data.exec(batch)) refused |= reply.is_error();
    evicted = info_field(data, "stats", "evicted_keys");
  }
  ASSERT_GT(evicted, 0) << "no memory pressure";

  std::atomic<long> stale_reads{0};
  cachet_test::run_together(load_threads, [&](int t) {
    for (int id = t; id < items; id += load_threads) {
      if (cache(id) < 1) stale_reads.fetch_add(1);
    }
  });
  EXPECT_EQ(stale_reads.load(), 0)
      << stale_reads.load() << " of " << items << " reads returned an invalidated value after "
      << evicted << " keys were evicted under " << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Policies, EvictionPolicy,
                         ::testing::Values("allkeys-lru", "allkeys-random", "allkeys-lfu",
                                           "volatile-lru"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

// --- counters damaged by hand --------------------------------------------------------------

enum class counter { tag, function };
enum class damage { deleted, rolled_back, foreign_string, list };

void PrintTo(counter which, std::ostream* out) {
  *out << (which == counter::tag ? "tag counter" : "function counter");
}
void PrintTo(damage how, std::ostream* out) {
  constexpr std::string_view names[] = {"deleted", "rolled back", "foreign string", "list"};
  *out << names[static_cast<int>(how)];
}

class DamagedCounter : public ::testing::TestWithParam<std::tuple<counter, damage>> {};

TEST_P(DamagedCounter, OnlyItsEntriesMissAndItKeepsWorking) {
  const counter which = std::get<0>(GetParam());
  const damage how = std::get<1>(GetParam());
  const std::string url = cachet_test::shared_redis_url();
  cachet_test::data_connection data{url};
  auto backend = cachet_test::make_test_backend(url);
  const std::string& prefix = backend->key_options().key_prefix;
  item_cache items_cache{*backend};
  plain_cache plain{*backend};
  eviction_app::item_versions.assign(4, 0);

  const std::string counter_key = which == counter::tag
                                      ? cachet_test::tag_counter_key(prefix, "item-tag:1")
                                      : cachet_test::function_counter_key(prefix, item_function);
  const auto invalidate_item_1 = [&] {
    if (which == counter::tag) {
      items_cache.invalidate_tag("item-tag:1");
    } else {
      items_cache.clear();
    }
  };

  // The entries are stamped while the counter has never been invalidated; the damage then
  // takes it back to that state or to nonsense. (Setting it back to exactly the value an entry
  // was stamped with is not tested: that is the state before the invalidation, which a restored
  // snapshot of both keys is too, and no O(1) counter can tell it apart.)
  EXPECT_EQ(items_cache(1), 0);
  EXPECT_EQ(items_cache(2), 0);
  EXPECT_EQ(plain(1), 10);

  eviction_app::item_versions[1] = 1;
  invalidate_item_1();
  ASSERT_EQ(data.exec("EXISTS", counter_key).as_int(), 1) << counter_key << " is not the counter";
  switch (how) {
    case damage::deleted:
      data.exec("DEL", counter_key);
      break;
    case damage::rolled_back:
      // What a counter that never moved reads as in a scheme of integer generations: a backup
      // from before the first invalidation, or a stray SET.
      data.exec("SET", counter_key, "0");
      break;
    case damage::foreign_string:
      data.exec("SET", counter_key, "not a counter");
      break;
    case damage::list:
      data.exec("DEL", counter_key);
      data.exec("RPUSH", counter_key, "not", "a", "counter");
      break;
  }

  long item_1 = -1;
  EXPECT_NO_THROW(item_1 = items_cache(1));
  EXPECT_EQ(item_1, 1) << "an entry invalidated before its counter was damaged came back";
  const cachet::stats plain_before = plain.stats();
  EXPECT_EQ(plain(1), 10);
  EXPECT_EQ(plain.stats().hits, plain_before.hits + 1) << "another function stopped using Redis";
  if (which == counter::tag) {
    const cachet::stats before = items_cache.stats();
    EXPECT_EQ(items_cache(2), 0);
    EXPECT_EQ(items_cache.stats().hits, before.hits + 1) << "an entry of another tag missed";
  }

  eviction_app::item_versions[1] = 2;
  EXPECT_NO_THROW(invalidate_item_1());
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_EQ(items_cache(1), 2);
  const cachet::stats before = items_cache.stats();
  EXPECT_EQ(items_cache(1), 2);
  EXPECT_EQ(items_cache.stats().hits, before.hits + 1) << "the damaged counter's entries stay off";
  EXPECT_EQ(plain(1), 10);
  EXPECT_EQ(plain.stats().hits, plain_before.hits + 2);
}

std::string damage_name(const ::testing::TestParamInfo<std::tuple<counter, damage>>& info) {
  constexpr std::string_view damages[] = {"Deleted", "RolledBack", "ForeignString", "List"};
  return std::string(std::get<0>(info.param) == counter::tag ? "Tag" : "Function") +
         std::string(damages[static_cast<int>(std::get<1>(info.param))]);
}

INSTANTIATE_TEST_SUITE_P(Damage, DamagedCounter,
                         ::testing::Combine(::testing::Values(counter::tag, counter::function),
                                            ::testing::Values(damage::deleted, damage::rolled_back,
                                                              damage::foreign_string,
                                                              damage::list)),
                         damage_name);

// --- restart without persistence ------------------------------------------------------------

class RestartWithoutPersistence : public ::testing::TestWithParam<counter> {};

// A reader's load is under way when another process invalidates its entry and the server
// restarts empty; the reader then stores the result it computed before the invalidation, on the
// new server. Nobody may read it.
TEST_P(RestartWithoutPersistence, AResultComputedBeforeAnInvalidationIsNeverRead) {
  cachet_test::private_redis_server server;
  const std::string prefix = cachet_test::test_prefix();
  auto reader_backend = cachet_test::make_test_backend(server.url(), 2s, prefix);
  auto writer_backend = cachet_test::make_test_backend(server.url(), 2s, prefix);
  gated_cache reader{*reader_backend};
  gated_cache writer{*writer_backend};
  eviction_app::gated_version.store(0);
  eviction_app::gate_entered.store(false);
  eviction_app::gate_released.store(false);

  long computed_before = -1;
  std::thread load([&] { computed_before = reader(1); });
  ASSERT_TRUE(cachet_test::wait_until([] { return eviction_app::gate_entered.load(); }));
  eviction_app::gated_version.store(1);
  if (GetParam() == counter::tag) {
    writer.invalidate_tag("gated-tag:1");
  } else {
    writer.clear();
  }
  server.restart();
  eviction_app::gate_released.store(true);
  load.join();
  EXPECT_EQ(computed_before, 0);

  // Its write reached the restarted server (which may refuse it), so the race really happened.
  EXPECT_EQ(reader.stats().backend_errors, 0u) << "the reader's write met no server";
  EXPECT_EQ(reader(1), 1) << "the reader read its own result from before the invalidation";
  EXPECT_EQ(writer(1), 1) << "the writer read a result from before its own invalidation";
}

INSTANTIATE_TEST_SUITE_P(Counters, RestartWithoutPersistence,
                         ::testing::Values(counter::tag, counter::function),
                         [](const ::testing::TestParamInfo<counter>& info) {
                           return std::string(info.param == counter::tag ? "InvalidateTag"
                                                                         : "Clear");
                         });

}  // namespace
