// put, refresh and warm on the in-memory backend (issue #12's write side): the value put is
// served without a call, a load under way when put or refresh runs is not stored over the new
// value, refresh always computes, warm computes only what is missing.

#include <cachet.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <list>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/held_load.hpp"

namespace {

using namespace std::chrono_literals;

struct user {
  int id;
  std::string name;
  friend bool operator==(const user&, const user&) = default;
};

// The source of truth: a version, and a count of the function's calls.
int version = 0;
int loads = 0;
bool fail_next = false;

user load_user(int id) {
  ++loads;
  if (fail_next) {
    fail_next = false;
    throw std::runtime_error("load failed");
  }
  return {id, "v" + std::to_string(version)};
}

int pair_loads = 0;
std::string load_pair(int a, const std::string& b) {
  ++pair_loads;
  return std::to_string(a) + b;
}

using cachet_test::held_load;
held_load held;
std::atomic<int> held_loads{0};

user load_held(int id) {
  held_loads.fetch_add(1);
  const int seen = version;  // read before the wait: what a slow query saw
  held.pass();
  return {id, "v" + std::to_string(seen)};
}

struct repo {
  std::string region;
  int calls = 0;
  user find(int id) {
    ++calls;
    return {id, region + std::to_string(version)};
  }
};

class put_refresh_warm : public ::testing::Test {
 protected:
  void SetUp() override {
    version = loads = pair_loads = 0;
    held_loads = 0;
    fail_next = false;
  }
  cachet::manual_clock clock;
  cachet::memory backend{clock};
};

TEST_F(put_refresh_warm, put_is_served_without_a_call) {
  cachet::cached<&load_user, cachet::ttl<60>> get_user{backend};
  get_user.put(42, user{42, "put"});
  EXPECT_EQ(get_user(42), (user{42, "put"}));
  EXPECT_EQ(loads, 0);
  EXPECT_EQ(get_user.peek(42), (user{42, "put"}));
}

TEST_F(put_refresh_warm, put_replaces_a_fresh_entry_and_keeps_the_ttl) {
  cachet::cached<&load_user, cachet::ttl<60>> get_user{backend};
  EXPECT_EQ(get_user(1).name, "v0");
  get_user.put(1, user{1, "updated"});
  EXPECT_EQ(get_user(1).name, "updated");
  EXPECT_EQ(loads, 1);
  clock.advance(61s);  // the put entry expires as a computed one does
  version = 5;
  EXPECT_EQ(get_user(1).name, "v5");
  EXPECT_EQ(loads, 2);
}

TEST_F(put_refresh_warm, a_load_under_way_does_not_overwrite_a_put) {
  cachet::cached<&load_held, cachet::ttl<60>> get_user{backend};
  held.arm();
  user first;
  std::thread call([&] { first = get_user(7); });
  EXPECT_TRUE(held.wait_inside());  // the load read version 0 and is still running
  version = 1;
  get_user.put(7, user{7, "v1"});
  held.release();
  call.join();
  EXPECT_EQ(first.name, "v0");                   // its caller gets what it computed...
  EXPECT_EQ(get_user(7).name, "v1");             // ...but the store keeps the put value
  EXPECT_EQ(get_user.peek(7), (user{7, "v1"}));  // nothing stored over it
  EXPECT_EQ(held_loads.load(), 1);
}

TEST_F(put_refresh_warm, a_load_under_way_does_not_overwrite_a_refresh) {
  cachet::cached<&load_held, cachet::ttl<60>> get_user{backend};
  held.arm();
  user first;
  std::thread call([&] { first = get_user(8); });
  EXPECT_TRUE(held.wait_inside());
  version = 2;
  EXPECT_EQ(get_user.refresh(8).name, "v2");
  held.release();
  call.join();
  EXPECT_EQ(first.name, "v0");
  EXPECT_EQ(get_user(8).name, "v2");
  EXPECT_EQ(held_loads.load(), 2);
}

TEST_F(put_refresh_warm, refresh_calls_the_function_once_even_when_fresh) {
  cachet::cached<&load_user, cachet::ttl<60>> get_user{backend};
  EXPECT_EQ(get_user(3).name, "v0");
  version = 1;
  EXPECT_EQ(get_user(3).name, "v0");  // fresh: no call
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(get_user.refresh(3).name, "v1");
  EXPECT_EQ(loads, 2);
  EXPECT_EQ(get_user(3).name, "v1");
  EXPECT_EQ(loads, 2);
  EXPECT_EQ(get_user.refresh(4).name, "v1");  // nothing stored yet: computed all the same
  EXPECT_EQ(loads, 3);
}

// The in-memory store replaces the entry in place: it answers until the new value is stored.
TEST_F(put_refresh_warm, a_failed_refresh_throws_and_keeps_the_old_value) {
  cachet::cached<&load_user, cachet::ttl<60>> get_user{backend};
  get_user(3);
  version = 1;
  fail_next = true;
  EXPECT_THROW(get_user.refresh(3), std::runtime_error);
  EXPECT_EQ(get_user.peek(3), (user{3, "v0"}));
  EXPECT_EQ(get_user(3).name, "v0");
  EXPECT_EQ(loads, 2);
}

TEST_F(put_refresh_warm, callers_get_the_old_value_while_refresh_computes) {
  cachet::cached<&load_held, cachet::ttl<60>> get_user{backend};
  EXPECT_EQ(get_user(9).name, "v0");
  version = 1;
  held.arm();
  user refreshed;
  std::thread refresh([&] { refreshed = get_user.refresh(9); });
  EXPECT_TRUE(held.wait_inside());
  EXPECT_EQ(get_user(9).name, "v0") << "a caller waited for the refresh";
  held.release();
  refresh.join();
  EXPECT_EQ(refreshed.name, "v1");
  EXPECT_EQ(get_user(9).name, "v1");
  EXPECT_EQ(held_loads.load(), 2);
}

TEST_F(put_refresh_warm, warm_computes_only_the_missing) {
  cachet::cached<&load_user, cachet::ttl<60>> get_user{backend};
  get_user(1);
  get_user(3);
  EXPECT_EQ(get_user.warm(std::vector{1, 2, 3, 4}), 2u);
  EXPECT_EQ(loads, 4);
  EXPECT_EQ(get_user.warm(std::vector{1, 2, 3, 4}), 0u);
  EXPECT_EQ(loads, 4);
  for (int id = 1; id <= 4; ++id) EXPECT_TRUE(get_user.peek(id).has_value()) << id;
  EXPECT_EQ(get_user.warm(std::list<short>{4, 5, 5}), 1u) << "a repeated argument is computed once";
  EXPECT_EQ(loads, 5);
  EXPECT_EQ(get_user.warm(std::vector<int>{}), 0u);
}

TEST_F(put_refresh_warm, warm_takes_tuples_for_several_parameters) {
  cachet::cached<&load_pair, cachet::ttl<60>> pairs{backend};
  pairs(1, "a");
  using namespace std::string_literals;
  EXPECT_EQ(pairs.warm(std::vector{std::tuple{1, "a"s}, std::tuple{2, "b"s}}), 1u);
  EXPECT_EQ(pair_loads, 2);
  EXPECT_EQ(pairs.peek(2, "b"), "2b");
}

TEST_F(put_refresh_warm, warm_stops_at_the_first_failure_and_keeps_the_rest) {
  cachet::cached<&load_user, cachet::ttl<60>> get_user{backend};
  get_user.warm(std::vector{1});
  fail_next = true;
  EXPECT_THROW(get_user.warm(std::vector{1, 2, 3}), std::runtime_error);
  EXPECT_TRUE(get_user.peek(1).has_value());
  EXPECT_FALSE(get_user.peek(2).has_value());
  EXPECT_FALSE(get_user.peek(3).has_value());
  EXPECT_EQ(get_user.warm(std::vector{1, 2, 3}), 2u);
}

TEST_F(put_refresh_warm, tags_reach_put_entries) {
  cachet::cached<&load_user, cachet::ttl<60>, cachet::tags<"user:{}">> get_user{backend};
  get_user.put(42, user{42, "put"});
  get_user.put(43, user{43, "put"});
  get_user.invalidate_tag("user:42");
  EXPECT_FALSE(get_user.peek(42).has_value());
  EXPECT_TRUE(get_user.peek(43).has_value());
  EXPECT_EQ(get_user(42).name, "v0");
  EXPECT_EQ(loads, 1);
}

TEST_F(put_refresh_warm, tags_reach_refreshed_and_warmed_entries) {
  cachet::cached<&load_user, cachet::ttl<60>, cachet::tags<"user:{}">> get_user{backend};
  get_user.refresh(1);
  get_user.warm(std::vector{2});
  get_user.invalidate_tag("user:1");
  get_user.invalidate_tag("user:2");
  EXPECT_FALSE(get_user.peek(1).has_value());
  EXPECT_FALSE(get_user.peek(2).has_value());
}

TEST_F(put_refresh_warm, member_functions_take_the_object_first) {
  cachet::cached<&repo::find, cachet::ttl<60>> find{backend};
  repo eu{"eu"};
  find.put(eu, 1, user{1, "put"});
  EXPECT_EQ(find(eu, 1).name, "put");
  EXPECT_EQ(eu.calls, 0);
  version = 1;
  EXPECT_EQ(find.refresh(eu, 1).name, "eu1");
  EXPECT_EQ(eu.calls, 1);
  EXPECT_EQ(find.warm(eu, std::vector{1, 2, 3}), 2u);
  EXPECT_EQ(eu.calls, 3);
  find.put(1, user{1, "no object"});  // the object is not part of the default key
  EXPECT_EQ(find(eu, 1).name, "no object");
}

TEST_F(put_refresh_warm, member_functions_with_an_instance_key) {
  cachet::cached<&repo::find, cachet::ttl<60>, cachet::instance_key<&repo::region>> find{backend};
  repo eu{"eu"}, us{"us"};
  find.put(eu, 1, user{1, "put"});
  EXPECT_EQ(find(eu, 1).name, "put");
  EXPECT_EQ(find(us, 1).name, "us0");
  EXPECT_EQ(find.warm(us, std::vector{1, 2}), 1u);
  EXPECT_EQ(find.refresh(eu, 1).name, "eu0");
  EXPECT_EQ(find(eu, 1).name, "eu0");
}

TEST_F(put_refresh_warm, observer_counts_are_not_broken) {
  cachet::cached<&load_user, cachet::ttl<60>> get_user{backend};
  get_user.put(1, user{1, "put"});
  get_user.refresh(2);
  get_user.warm(std::vector{2, 3});
  const cachet::stats s = get_user.stats();
  // put and refresh are each an invalidation's miss and a load; warm a hit (2) and a miss (3).
  EXPECT_EQ(s.loads, 3u);
  EXPECT_EQ(s.misses, 3u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(loads, 2);
}

// Readers running while put and refresh replace the value see each key's versions in order:
// once a reader has seen a version, no older one comes back (the store never keeps a value
// computed before a later put or refresh).
std::atomic<int> live_version{0};
std::atomic<int> live_loads{0};
int load_live(int) {
  live_loads.fetch_add(1);
  return live_version.load();
}

TEST_F(put_refresh_warm, readers_never_go_back_to_an_older_value) {
  cachet::cached<&load_live, cachet::ttl<60>> live{backend};
  live_version = 0;
  live_loads = 0;
  constexpr int writes = 400;
  std::atomic<bool> done{false};
  std::atomic<int> went_back{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      int last = 0;
      while (!done.load()) {
        const int seen = live(1);
        if (seen < last) went_back.fetch_add(1);
        last = seen;
      }
    });
  }
  for (int v = 1; v <= writes; ++v) {
    live_version = v;
    if (v % 2 == 0) {
      live.put(1, v);
    } else {
      EXPECT_GE(live.refresh(1), v);
    }
  }
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(went_back.load(), 0);
  EXPECT_EQ(live(1), writes);
  EXPECT_EQ(live.peek(1), writes);
}

// A rate limit keyed by every argument is checked inside the store's entries (fused): put,
// refresh and warm are not calls, so they neither count against it nor are refused by it.
TEST_F(put_refresh_warm, rate_limits_do_not_count_writes) {
  cachet::cached<&load_user, cachet::ttl<60>,
                 cachet::rate_limit<1, cachet::per<60>, cachet::by<"{}">>>
      limited{backend};
  static_assert(cachet::detail::fused_rate_limit_of<decltype(limited)>::value);
  limited.put(1, user{1, "put"});
  EXPECT_EQ(limited.refresh(1).name, "v0");
  EXPECT_EQ(limited.warm(std::vector{1, 2}), 1u);
  EXPECT_EQ(limited.warm(std::vector{1, 2}), 0u);
  EXPECT_EQ(limited(1).name, "v0");  // the limit's one call
  EXPECT_THROW(limited(1), cachet::rate_limited);
  EXPECT_EQ(limited(2).name, "v0");
  EXPECT_EQ(loads, 2);

  cachet::cached<&load_user, cachet::ttl<60>, cachet::rate_limit<1, cachet::per<60>>> global{
      backend};
  static_assert(!cachet::detail::fused_rate_limit_of<decltype(global)>::value);
  global.put(5, user{5, "put"});
  global.refresh(6);
  EXPECT_EQ(global.warm(std::vector{5, 6, 7}), 1u);
  EXPECT_EQ(global(5).name, "put");
  EXPECT_THROW(global(6), cachet::rate_limited);
}

}  // namespace
