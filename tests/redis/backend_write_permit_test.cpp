// The Redis store's write permit and counter tokens, with each ordering forced by hand: two
// backend objects on one prefix stand for two processes. A result computed before an
// invalidation that lands between its read and its write is returned to its caller, never
// stored; a counter that is lost or rolled back never revives an entry.
#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {

int version = 1;
int loads = 0;
std::function<void()> while_computing;  // what "another process" does during the computation

int row(int id) {
  ++loads;
  const int seen = version;
  if (while_computing) while_computing();
  return id * 100 + seen;
}

}  // namespace app

namespace {

using cachet_test::raw_command;
using rows = cachet::cached<&app::row, cachet::key<"row:{}">, cachet::tags<"rows">,
                            cachet::backend<cachet::redis>>;

class write_permit : public ::testing::Test {
 protected:
  void SetUp() override {
    app::version = 1;
    app::loads = 0;
    app::while_computing = nullptr;
  }
  void TearDown() override { app::while_computing = nullptr; }

  std::unique_ptr<cachet::redis> make_process() {
    auto cfg = cachet::redis::config::from_url(server.url());
    return std::make_unique<cachet::redis>(cfg, cachet::redis_options{.key_prefix = "wp"});
  }

  // The value another process reads now.
  int read_elsewhere(int id) { return other_rows(id); }

  cachet_test::private_redis_server server;
  std::unique_ptr<cachet::redis> process_a = make_process();
  std::unique_ptr<cachet::redis> process_b = make_process();
  rows a_rows{*process_a};
  rows other_rows{*process_b};
};

TEST_F(write_permit, AnInvalidateBetweenReadAndWriteRefusesTheWrite) {
  app::while_computing = [&] {
    app::version = 2;
    other_rows.invalidate(7);
  };
  EXPECT_EQ(a_rows(7), 701);  // its caller gets its own computation
  app::while_computing = nullptr;
  EXPECT_EQ(read_elsewhere(7), 702);  // not the older result
  EXPECT_EQ(a_rows(7), 702);
  EXPECT_EQ(app::loads, 2);
}

// A caller of the computing process that comes after the other process's invalidate must not
// join the computation that started before it.
TEST_F(write_permit, ACallerAfterAnotherProcesssInvalidateDoesNotJoinAnOlderComputation) {
  app::while_computing = [&] {
    app::while_computing = nullptr;
    app::version = 2;
    other_rows.invalidate(7);
    int later = 0;
    std::thread caller([&] { later = a_rows(7); });
    caller.join();
    EXPECT_EQ(later, 702);
  };
  EXPECT_EQ(a_rows(7), 701);
  EXPECT_EQ(a_rows(7), 702);
  EXPECT_EQ(read_elsewhere(7), 702);
  EXPECT_EQ(app::loads, 2);
}

TEST_F(write_permit, AnInvalidateTagBetweenReadAndWriteRefusesTheWrite) {
  app::while_computing = [&] {
    app::version = 2;
    process_b->invalidate_tag("rows");
  };
  EXPECT_EQ(a_rows(7), 701);
  app::while_computing = nullptr;
  EXPECT_EQ(read_elsewhere(7), 702);
  EXPECT_EQ(app::loads, 2);
}

TEST_F(write_permit, AClearBetweenReadAndWriteRefusesTheWrite) {
  app::while_computing = [&] {
    app::version = 2;
    other_rows.clear();
  };
  EXPECT_EQ(a_rows(7), 701);
  app::while_computing = nullptr;
  EXPECT_EQ(read_elsewhere(7), 702);
  EXPECT_EQ(app::loads, 2);
}

// Two processes missing on one key at once share the permit, so the second does not refuse the
// first: whichever writes first stores its result (here the inner one), the other's write finds
// the permit spent.
TEST_F(write_permit, ConcurrentMissesOfTwoProcessesDoNotRefuseEachOther) {
  app::while_computing = [&] {
    app::while_computing = nullptr;
    EXPECT_EQ(read_elsewhere(7), 701);  // misses too, computes and writes
  };
  EXPECT_EQ(a_rows(7), 701);
  EXPECT_EQ(a_rows(7), 701);
  EXPECT_EQ(read_elsewhere(7), 701);
  EXPECT_EQ(app::loads, 2);
  EXPECT_EQ(a_rows.stats().hits + other_rows.stats().hits, 2u);
}

// Eviction of a counter (allkeys-* policies) or its loss in a restore: the entries that
// recorded its token miss, they are never served as current.
TEST_F(write_permit, ALostCounterNeverRevivesAnInvalidatedEntry) {
  EXPECT_EQ(a_rows(7), 701);
  const auto before = raw_command(server.url(), "GET", "wp:v1#tag:rows");
  ASSERT_FALSE(before.is_null());
  app::version = 2;
  process_b->invalidate_tag("rows");
  raw_command(server.url(), "DEL", "wp:v1#tag:rows");  // evicted
  EXPECT_EQ(a_rows(7), 702);
  EXPECT_EQ(read_elsewhere(7), 702);

  // Rolled back to the token the old entry was written under: the old entry is gone (replaced by
  // the write above), so it cannot come back either.
  raw_command(server.url(), "SET", "wp:v1#tag:rows", before.as_string());
  EXPECT_EQ(a_rows(7), 702);
  EXPECT_EQ(app::loads, 3);
}

// An evicted permit (or entry) between read and write: the write is refused, the caller answered.
TEST_F(write_permit, AnEvictedPermitRefusesTheWrite) {
  app::while_computing = [&] { raw_command(server.url(), "DEL", "wp:v1:row:7"); };
  EXPECT_EQ(a_rows(7), 701);
  app::while_computing = nullptr;
  EXPECT_EQ(raw_command(server.url(), "HEXISTS", "wp:v1:row:7", "v").as_int(), 0);
  EXPECT_EQ(a_rows(7), 701);
  EXPECT_EQ(a_rows(7), 701);
  EXPECT_EQ(a_rows.stats().hits, 1u);
}

// Under allkeys-lru everything may go; what a call reads is never older than an invalidation.
TEST_F(write_permit, UnderMemoryPressureNoInvalidatedValueIsRead) {
  constexpr int keys = 300;
  for (int id = 0; id < keys; ++id) EXPECT_EQ(a_rows(id), id * 100 + 1);
  app::version = 2;
  process_b->invalidate_tag("rows");
  raw_command(server.url(), "CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
  const std::string junk(20'000, 'j');
  for (int i = 0; i < 100; ++i) raw_command(server.url(), "SET", "junk:" + std::to_string(i), junk);
  const long long used = std::stoll([&] {
    const std::string info = raw_command(server.url(), "INFO", "memory").as_string();
    const auto at = info.find("used_memory:") + std::string("used_memory:").size();
    return info.substr(at, info.find('\r', at) - at);
  }());
  raw_command(server.url(), "CONFIG", "SET", "maxmemory", std::to_string(used * 3 / 4));
  int stale = 0;
  for (int round = 0; round < 3; ++round) {
    for (int id = 0; id < keys; ++id) {
      if (read_elsewhere(id) != id * 100 + 2) ++stale;
      if (a_rows(id) != id * 100 + 2) ++stale;
    }
  }
  raw_command(server.url(), "CONFIG", "SET", "maxmemory", "0");
  EXPECT_EQ(stale, 0);
  EXPECT_GT(std::stoll([&] {
              const std::string info = raw_command(server.url(), "INFO", "stats").as_string();
              const auto at = info.find("evicted_keys:") + std::string("evicted_keys:").size();
              return info.substr(at, info.find('\r', at) - at);
            }()),
            0);
}

}  // namespace
