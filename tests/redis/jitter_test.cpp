// cachet::jitter on backend<cachet::redis> and on backend<cachet::tiered<memory, redis>>: the PX
// of each write is drawn in the window, and the memory tier never keeps a write longer than the
// shortest Redis ttl.
#include <cachet/jitter.hpp>
#include <cachet/redis.hpp>
#include <cachet/tiered.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
using cachet_test::command;
using tiers = cachet::tiered<cachet::memory, cachet::redis>;

int loads = 0;
int identity(int x) {
  ++loads;
  return x;
}

std::string entry_key(cachet::redis& backend, int i) {
  return backend.key_options().key_prefix + ":v1:j:" + std::to_string(i);
}

// The PTTLs of entries 0..n-1; they were written within one test, so a few milliseconds apart.
std::multiset<long long> pttls(cachet::redis& backend, int n) {
  std::multiset<long long> out;
  for (int i = 0; i < n; ++i) out.insert(command(backend, "PTTL", entry_key(backend, i)).as_int());
  return out;
}

TEST(RedisJitter, EntriesWrittenTogetherGetPttlsSpreadOverTheWindow) {
  auto backend = cachet_test::make_test_backend(cachet_test::shared_redis_url());
  cachet::cached<&identity, cachet::ttl<100>, cachet::jitter<10>, cachet::key<"j:{}">,
                 cachet::backend<cachet::redis>>
      c{*backend};
  const int n = 100;
  for (int i = 0; i < n; ++i) EXPECT_EQ(c(i), i);
  const std::multiset<long long> ttls = pttls(*backend, n);
  // 90 s to 110 s, less the time the test has taken since the writes (well below 5 s).
  EXPECT_GE(*ttls.begin(), 85'000);
  EXPECT_LE(*ttls.rbegin(), 110'000);
  // Written within a few milliseconds, so without jitter every PTTL would be within that of
  // 100 s: spread means they cover several seconds of the window, on both sides of 100 s.
  EXPECT_LT(*ttls.begin(), 97'000);
  EXPECT_GT(*ttls.rbegin(), 103'000);
  std::set<long long> seconds;
  for (const long long t : ttls) seconds.insert(t / 1000);
  EXPECT_GE(seconds.size(), 8u);
}

TEST(RedisJitter, WithoutJitterEntriesWrittenTogetherGetOneTtl) {
  auto backend = cachet_test::make_test_backend(cachet_test::shared_redis_url());
  cachet::cached<&identity, cachet::ttl<100>, cachet::key<"j:{}">, cachet::backend<cachet::redis>>
      c{*backend};
  for (int i = 0; i < 20; ++i) c(i);
  const std::multiset<long long> ttls = pttls(*backend, 20);
  EXPECT_GT(*ttls.begin(), 95'000);
  EXPECT_LE(*ttls.rbegin(), 100'000);
  EXPECT_LT(*ttls.rbegin() - *ttls.begin(), 5'000);
}

TEST(RedisJitter, TheMemoryTierKeepsNoWriteLongerThanTheShortestRedisTtl) {
  const std::string url = cachet_test::shared_redis_url();
  cachet::manual_clock clock;  // the memory tier's time; Redis keeps its own
  cachet::memory mem{clock};
  cachet::redis remote(cachet_test::degraded_config(url, 2000ms),
                       cachet::redis_options{.key_prefix = cachet_test::test_prefix()});
  tiers both(mem, remote);
  ASSERT_TRUE(both.wait_coherent(10s));
  cachet::cached<&identity, cachet::ttl<100>, cachet::jitter<10>, cachet::key<"j:{}">,
                 cachet::backend<tiers>>
      c{both};
  const int n = 50;
  loads = 0;
  // Computed and written to both tiers; the writes' own invalidations may empty memory, so a
  // second round fills memory from Redis, and a third is answered by memory.
  for (int i = 0; i < n; ++i) EXPECT_EQ(c(i), i);
  both.sync();
  for (int i = 0; i < n; ++i) EXPECT_EQ(c(i), i);
  both.sync();
  const cachet::stats before = c.stats();
  for (int i = 0; i < n; ++i) EXPECT_EQ(c(i), i);
  EXPECT_EQ(c.stats().memory_tier_hits - before.memory_tier_hits, static_cast<unsigned>(n));
  EXPECT_EQ(loads, n);

  // Redis's entries are spread as on the plain backend.
  const std::multiset<long long> ttls = pttls(remote, n);
  EXPECT_GE(*ttls.begin(), 85'000);
  EXPECT_LE(*ttls.rbegin(), 110'000);
  EXPECT_GT(*ttls.rbegin() - *ttls.begin(), 3'000);

  // At the shortest ttl a Redis write can draw (90 s), memory has let every entry go: each call
  // is answered by Redis, which still holds them all, and nothing is computed.
  clock.advance(90s);
  const cachet::stats at_90 = c.stats();
  for (int i = 0; i < n; ++i) EXPECT_EQ(c(i), i);
  EXPECT_EQ(c.stats().memory_tier_hits, at_90.memory_tier_hits);
  EXPECT_EQ(loads, n);
}

TEST(RedisJitter, TheMemoryTierSpreadsItsOwnExpiryToo) {
  const std::string url = cachet_test::shared_redis_url();
  cachet::manual_clock clock;
  cachet::memory mem{clock};
  cachet::redis remote(cachet_test::degraded_config(url, 2000ms),
                       cachet::redis_options{.key_prefix = cachet_test::test_prefix()});
  tiers both(mem, remote);
  ASSERT_TRUE(both.wait_coherent(10s));
  cachet::cached<&identity, cachet::ttl<100>, cachet::jitter<20>, cachet::key<"j:{}">,
                 cachet::backend<tiers>>
      c{both};
  const int n = 100;
  for (int i = 0; i < n; ++i) c(i);
  both.sync();
  for (int i = 0; i < n; ++i) c(i);  // fills memory from Redis at one instant
  both.sync();
  // Memory's ttl is 100 * 80/120 = 66.6 s, spread by ±20%: 53.3 s to 80 s. Halfway through that
  // window some entries have left memory and some have not.
  clock.advance(67s);
  const cachet::stats before = c.stats();
  for (int i = 0; i < n; ++i) c(i);
  const std::uint64_t memory_hits = c.stats().memory_tier_hits - before.memory_tier_hits;
  EXPECT_GT(memory_hits, 0u);
  EXPECT_LT(memory_hits, static_cast<std::uint64_t>(n));
}

}  // namespace
