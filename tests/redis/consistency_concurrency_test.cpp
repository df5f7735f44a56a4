// Issue #9, point 1: a confirmed invalidation is never undone, whichever process computed the
// older result. Readers call a cached function over a few rows, on several backends of one
// process (standing in for processes) and in real separate processes (this binary run again
// with --consistency-reader); one writer bumps a row, invalidates it (invalidate(key),
// invalidate_tag or clear()) from a backend of its own and, only once that has returned,
// publishes the row's version as confirmed. A reader notes the confirmed version C before each
// call; a result older than C is a stale read, and there must be none.
//
// The writer provokes the race instead of hoping for it: it waits until some reader has started
// to load a row (read its version, not yet stored the result) and bumps and invalidates that
// very row, so most writes land inside a load. When no load starts (every row is cached, stale
// or not), it takes the next row in turn, whose invalidation makes readers load it again.

#include <cachet/redis.hpp>

#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "redis/consistency_test_support.hpp"
#include "redis/degraded_test_support.hpp"
#include "support/child_process.hpp"
#include "support/redis_server.hpp"
#include "support/run_together.hpp"

namespace {

using cachet_test::invalidation;
using cachet_test::name_of;

using namespace std::chrono_literals;

constexpr int rows = 16;
constexpr std::string_view reader_flag = "--consistency-reader";

}  // namespace

namespace app {

// In-process readers: the rows are atomics; `loading_row` and `loads_started` tell the writer
// which row a load is reading right now.
std::array<std::atomic<long>, rows> row_versions{};
std::atomic<int> loading_row{0};
std::atomic<long> loads_started{0};
std::atomic<long> raced_loads{0};  // loads whose row was bumped while they computed

long read_row(int row) {
  const long version = row_versions[row].load();
  loading_row.store(row);
  loads_started.fetch_add(1);
  // Widens the window between reading the row and storing what was computed from it, where
  // the writer's invalidation lands; nothing waits on it.
  std::this_thread::sleep_for(300us);
  if (row_versions[row].load() != version) raced_loads.fetch_add(1);
  return version;
}

// Reader processes: the rows live in Redis, under keys of the test's own.
cachet_test::data_connection* data = nullptr;
std::string data_prefix;
long remote_raced_loads = 0;

std::string data_key(std::string_view name) { return data_prefix + ":" + std::string(name); }
std::string row_key(int row) { return data_key("row:" + std::to_string(row)); }
std::string confirmed_key(int row) { return data_key("confirmed:" + std::to_string(row)); }

long read_row_from_redis(int row) {
  const long version = data->get_long(row_key(row));
  cachet::redis::request started;
  started.push("SET", data_key("loading_row"), row);
  started.push("INCR", data_key("loads_started"));
  data->exec(started);
  // As in read_row: widens the race window (longer, as the writer polls through Redis).
  std::this_thread::sleep_for(2ms);
  if (data->get_long(row_key(row)) != version) ++remote_raced_loads;
  return version;
}

}  // namespace app

namespace {

using row_cache = cachet::cached<&app::read_row, cachet::ttl<60>, cachet::key<"row:{}">,
                                 cachet::tags<"row-tag:{}">, cachet::backend<cachet::redis>>;
using remote_row_cache =
    cachet::cached<&app::read_row_from_redis, cachet::ttl<60>, cachet::key<"remote-row:{}">,
                   cachet::tags<"remote-row-tag:{}">, cachet::backend<cachet::redis>>;

// How long the writer waits for a load to start before it takes the next row in turn.
constexpr auto load_start_patience = 20ms;

class ConsistencyAcrossBackends : public ::testing::TestWithParam<invalidation> {};

TEST_P(ConsistencyAcrossBackends, NoReadIsOlderThanAConfirmedInvalidation) {
  constexpr int reader_backends = 3;
  constexpr int readers = 4;
  constexpr int writes = 300;
  const std::string url = cachet_test::shared_redis_url();
  const std::string prefix = cachet_test::test_prefix();

  std::vector<std::unique_ptr<cachet::redis>> backends;
  std::vector<std::unique_ptr<row_cache>> reader_caches;
  for (int b = 0; b < reader_backends; ++b) {
    backends.push_back(cachet_test::make_patient_backend(url, prefix));
    reader_caches.push_back(std::make_unique<row_cache>(*backends.back()));
  }
  auto writer_backend = cachet_test::make_patient_backend(url, prefix);
  row_cache writer_cache{*writer_backend};

  for (auto& version : app::row_versions) version.store(0);
  app::loads_started.store(0);
  app::raced_loads.store(0);
  std::array<std::atomic<long>, rows> confirmed{};
  std::atomic<long> reads{0};
  std::atomic<long> stale_reads{0};
  std::atomic<bool> writer_done{false};

  cachet_test::run_together(readers + 1, [&](int t) {
    if (t == readers) {
      for (int w = 0; w < writes; ++w) {
        const long seen = app::loads_started.load();
        const bool loading = cachet_test::wait_until(
            [&] { return app::loads_started.load() > seen; }, load_start_patience);
        const int row = loading ? app::loading_row.load() : w % rows;
        const long version = app::row_versions[row].fetch_add(1) + 1;
        invalidate_row(writer_cache, GetParam(), "row-tag:", row);
        confirmed[row].store(version);
      }
      writer_done.store(true);
      return;
    }
    row_cache& cache = *reader_caches[t % reader_backends];
    for (int i = t; !writer_done.load(); ++i) {
      const int row = i % rows;
      const long floor = confirmed[row].load();
      if (cache(row) < floor) stale_reads.fetch_add(1);
      reads.fetch_add(1);
    }
  });

  long loads = 0;
  for (const auto& cache : reader_caches) loads += static_cast<long>(cache->stats().loads);
  EXPECT_GT(app::raced_loads.load(), 0) << "no invalidation landed inside a load";
  EXPECT_EQ(stale_reads.load(), 0)
      << "stale reads: " << stale_reads.load() << " of " << reads.load() << " reads, " << loads
      << " loads (" << app::raced_loads.load() << " raced by " << writes << " invalidations)";
}

INSTANTIATE_TEST_SUITE_P(Invalidations, ConsistencyAcrossBackends,
                         ::testing::Values(invalidation::key, invalidation::tag,
                                           invalidation::clear),
                         name_of);

// A reader process: reads rows through its own backend until the writer sets the stop key (or
// 60 s pass), then adds its counts to the totals in Redis. Exit code 0 unless something threw.
int run_reader_process(const std::string& url, const std::string& prefix,
                       const std::string& data_prefix) {
  return cachet_test::run_child(
      "consistency reader", url, app::data, [&](cachet_test::data_connection& data) {
        app::data_prefix = data_prefix;
        auto backend = cachet_test::make_patient_backend(url, prefix);
        remote_row_cache cache{*backend};
        data.exec("INCR", app::data_key("ready"));
        long reads = 0;
        long stale_reads = 0;
        const auto give_up = std::chrono::steady_clock::now() + 60s;
        for (int i = static_cast<int>(::getpid()); data.get_long(app::data_key("stop")) == 0 &&
                                                   std::chrono::steady_clock::now() < give_up;
             ++i) {
          const int row = i % rows;
          const long floor = data.get_long(app::confirmed_key(row));
          if (cache(row) < floor) ++stale_reads;
          ++reads;
        }
        cachet::redis::request totals;
        totals.push("INCRBY", app::data_key("reads"), reads);
        totals.push("INCRBY", app::data_key("stale_reads"), stale_reads);
        totals.push("INCRBY", app::data_key("loads"), cache.stats().loads);
        totals.push("INCRBY", app::data_key("raced_loads"), app::remote_raced_loads);
        totals.push("INCR", app::data_key("finished"));
        data.exec(totals);
        return 0;
      });
}

class ConsistencyAcrossProcesses : public ::testing::TestWithParam<invalidation> {};

TEST_P(ConsistencyAcrossProcesses, NoReadIsOlderThanAConfirmedInvalidation) {
  constexpr int reader_processes = 3;
  constexpr int writes = 150;
  const std::string url = cachet_test::shared_redis_url();
  const std::string prefix = cachet_test::test_prefix();
  app::data_prefix = prefix + "-data";
  cachet_test::data_connection data{url};

  cachet_test::child_processes readers;
  ASSERT_TRUE(readers.start(reader_flag, {url, prefix, app::data_prefix}, reader_processes))
      << "fork failed";
  auto writer_backend = cachet_test::make_patient_backend(url, prefix);
  remote_row_cache writer_cache{*writer_backend};

  ASSERT_TRUE(cachet_test::wait_until(
      [&] { return data.get_long(app::data_key("ready")) == reader_processes; }, 30s))
      << "the reader processes did not start";
  for (int w = 0; w < writes; ++w) {
    const long seen = data.get_long(app::data_key("loads_started"));
    const bool loading = cachet_test::wait_until(
        [&] { return data.get_long(app::data_key("loads_started")) > seen; }, load_start_patience);
    const int row =
        loading ? static_cast<int>(data.get_long(app::data_key("loading_row"))) : w % rows;
    const long version = data.exec("INCR", app::row_key(row)).as_int();
    invalidate_row(writer_cache, GetParam(), "remote-row-tag:", row);
    data.exec("SET", app::confirmed_key(row), version);
  }
  data.exec("SET", app::data_key("stop"), 1);

  EXPECT_TRUE(readers.reaped_cleanly()) << "a reader process failed (its stderr says why)";
  const long stale_reads = data.get_long(app::data_key("stale_reads"));
  EXPECT_EQ(data.get_long(app::data_key("finished")), reader_processes);
  EXPECT_GT(data.get_long(app::data_key("raced_loads")), 0) << "no invalidation landed in a load";
  EXPECT_EQ(stale_reads, 0) << "stale reads: " << stale_reads << " of "
                            << data.get_long(app::data_key("reads")) << " reads, "
                            << data.get_long(app::data_key("loads")) << " loads ("
                            << data.get_long(app::data_key("raced_loads")) << " raced by " << writes
                            << " invalidations)";
}

INSTANTIATE_TEST_SUITE_P(Invalidations, ConsistencyAcrossProcesses,
                         ::testing::Values(invalidation::key, invalidation::tag,
                                           invalidation::clear),
                         name_of);

}  // namespace

// GoogleTest's own main, unless this binary was started as a reader process by the test above.
int main(int argc, char** argv) {
  if (argc == 5 && std::string_view(argv[1]) == reader_flag) {
    return run_reader_process(argv[2], argv[3], argv[4]);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
