// The read of a store whose reads keep hitting (issue #11): plain commands checked in the
// process instead of the read script, which costs Redis ten times more per read. Counted on a
// private server's command statistics, so that no other test's commands mix in.
#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "redis/consistency_test_support.hpp"
#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {

std::atomic<int> loads{0};

long square(long x) {
  loads.fetch_add(1);
  return x * x;
}

}  // namespace app

namespace {

using cachet_test::private_redis_server;

// The calls of `command` the server has run, from INFO commandstats.
std::int64_t calls_of(const std::string& url, std::string_view command) {
  const std::string info = cachet_test::raw_command(url, "INFO", "commandstats").as_string();
  const std::string field = "cmdstat_" + std::string(command) + ":calls=";
  const auto at = info.find(field);
  if (at == std::string::npos) return 0;
  return std::stoll(info.substr(at + field.size()));
}

using square_cache = cachet::cached<&app::square, cachet::ttl<60>, cachet::key<"square:{}">,
                                    cachet::tags<"squares">, cachet::backend<cachet::redis>>;

class HitRead : public ::testing::Test {
 protected:
  void SetUp() override { app::loads = 0; }
  private_redis_server server;
  cachet::redis backend{cachet_test::degraded_config(server.url(), std::chrono::seconds(5)),
                        cachet::redis_options{.key_prefix = "hits"}};
  square_cache f{backend};
};

// Once reads hit, a hit runs no script; what it answers is the stored value.
TEST_F(HitRead, HitsOfAWarmStoreRunNoScript) {
  EXPECT_EQ(f(7), 49);  // miss: the read script, then the write script
  EXPECT_EQ(f(7), 49);  // hit, read by the script (the last read missed)
  const std::int64_t scripts = calls_of(server.url(), "evalsha");
  const std::int64_t entry_reads = calls_of(server.url(), "hmget");
  constexpr int hits = 20;
  for (int i = 0; i < hits; ++i) EXPECT_EQ(f(7), 49);
  EXPECT_EQ(calls_of(server.url(), "evalsha"), scripts);
  EXPECT_EQ(calls_of(server.url(), "hmget") - entry_reads, hits);
  EXPECT_EQ(app::loads.load(), 1);
  EXPECT_EQ(f.stats().hits, static_cast<std::uint64_t>(hits + 1));
  EXPECT_EQ(f.stats().misses, 1u);
}

// With the script-free read in use, every kind of invalidation is still seen at once, and what
// the plain read cannot judge (a counter gone) goes to the script, which misses.
TEST_F(HitRead, InvalidationsAreSeenWhileHitsRunNoScript) {
  const auto warm = [&] {
    EXPECT_EQ(f(3), 9);
    EXPECT_EQ(f(3), 9);
  };
  warm();
  f.invalidate(3);
  EXPECT_EQ(f(3), 9);
  EXPECT_EQ(app::loads.load(), 2) << "invalidate(key)";
  warm();
  backend.invalidate_tag("squares");
  EXPECT_EQ(f(3), 9);
  EXPECT_EQ(app::loads.load(), 3) << "invalidate_tag";
  warm();
  f.clear();
  EXPECT_EQ(f(3), 9);
  EXPECT_EQ(app::loads.load(), 4) << "clear()";
  warm();
  cachet_test::raw_command(server.url(), "DEL", cachet_test::tag_counter_key("hits", "squares"));
  EXPECT_EQ(f(3), 9);
  EXPECT_EQ(app::loads.load(), 5) << "a tag counter deleted behind cachet's back";
  EXPECT_EQ(f(3), 9);
  EXPECT_EQ(app::loads.load(), 5);
  EXPECT_EQ(f.stats().backend_errors, 0u);
}

}  // namespace
