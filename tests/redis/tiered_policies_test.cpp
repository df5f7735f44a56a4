// Issue #12's declaration as its users write it: two tiers with capacity, early refresh, jitter
// and a lease together, and the write side (put, refresh, warm) between two replicas.

#include <cachet/tiered.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
using tiers = cachet::tiered<cachet::memory, cachet::redis>;

// The users' table, which the test updates as a service would before it writes through.
std::mutex table_mutex;
std::map<int, std::string> table;
std::atomic<int> loads{0};

std::string load_user(int id) {
  ++loads;
  std::lock_guard lock(table_mutex);
  return table[id];
}

void update(int id, std::string name) {
  std::lock_guard lock(table_mutex);
  table[id] = std::move(name);
}

using user_cache =
    cachet::cached<&load_user, cachet::ttl<300>, cachet::key<"user:{}">, cachet::tags<"user:{}">,
                   cachet::capacity<10000>, cachet::backend<tiers>, cachet::early_refresh<80>,
                   cachet::jitter<10>, cachet::lease<30>>;

struct replica {
  explicit replica(const std::string& url, const std::string& prefix)
      : remote(cachet_test::make_patient_backend(url, prefix)), both(mem, *remote) {}
  cachet::memory mem;
  std::unique_ptr<cachet::redis> remote;
  tiers both;
};

TEST(TieredPolicies, TheIssuesDeclarationServesWritesAndInvalidatesAcrossReplicas) {
  const std::string url = cachet_test::shared_redis_url();
  const std::string prefix = cachet_test::test_prefix();
  loads = 0;
  update(42, "ada");
  update(43, "bob");
  update(44, "cyd");
  replica a(url, prefix);
  replica b(url, prefix);
  ASSERT_TRUE(a.both.wait_coherent(10s) && b.both.wait_coherent(10s));
  user_cache a_users{a.both};
  user_cache b_users{b.both};

  EXPECT_EQ(a_users.warm(std::vector{42, 43}), 2u);
  EXPECT_EQ(b_users(42), "ada");  // from Redis: b computes nothing
  EXPECT_EQ(loads.load(), 2);

  // An update written through on a: b's memory drops the old value.
  update(42, "ada lovelace");
  a_users.put(42, "ada lovelace");
  b.both.sync();
  EXPECT_EQ(b_users(42), "ada lovelace");
  EXPECT_EQ(b_users.peek(42), "ada lovelace");

  // An update recomputed on b: a sees it.
  update(43, "bob kahn");
  EXPECT_EQ(b_users.refresh(43), "bob kahn");
  a.both.sync();
  EXPECT_EQ(a_users(43), "bob kahn");

  // A tag invalidation on a reaches b.
  EXPECT_EQ(b_users(44), "cyd");
  b.both.sync();
  EXPECT_EQ(b_users(44), "cyd");
  update(44, "cyd charisse");
  a_users.invalidate_tag("user:44");
  b.both.sync();
  EXPECT_EQ(b_users(44), "cyd charisse");
}

}  // namespace
