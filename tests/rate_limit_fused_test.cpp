// rate_limit fused into the in-memory store: when the limit's key names every argument (so it
// tells calls apart as the cache's key does), cached<> keeps each key's limit state in its cache
// entry, or parked in the store while the key has no entry (see detail/memory/store.hpp). These
// tests follow a key's state through everything that happens to entries, with a clock moved by
// hand: the limit must stay exact.

#include <cachet.hpp>
#include <cachet/rate_limit.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace {

using namespace std::chrono_literals;

int loads = 0;
bool failing = false;

std::string load_user(int id) {
  ++loads;
  if (failing) throw std::runtime_error("origin down");
  return "user" + std::to_string(id);
}

std::string pair_of(const std::string& a, int b) { return a + "/" + std::to_string(b); }
std::string first_of(int a, int) { return std::to_string(a); }

// A policy with a call stage of its own, which the store cannot run.
struct pass_through : cachet::detail::policy<pass_through> {
  template <class Value>
  class call_stage {
   public:
    explicit call_stage(const cachet::options&) {}
    template <class Next, class... Args>
    Value operator()(std::string_view, Next&& next, const Args&...) {
      return std::forward<Next>(next)();
    }
  };
};

template <auto F, class... Policies>
using fused = cachet::detail::fused_rate_limit_of<cachet::cached<F, Policies...>>;

// The limit under test: 3 calls a minute per key; one call comes back every 20 s.
using per_user = cachet::rate_limit<3, cachet::per<60>, cachet::by<"{}">>;
constexpr auto interval = 20s;

class rate_limit_fused : public ::testing::Test {
 protected:
  void SetUp() override {
    loads = 0;
    failing = false;
  }

  // How many of `attempts` calls with `id` were admitted (returned, or failed with the
  // function's own error): a refused call throws cachet::rate_limited.
  template <class Cache>
  int admitted(Cache& cache, int id, int attempts) {
    int n = 0;
    for (int i = 0; i < attempts; ++i) {
      try {
        cache(id);
        ++n;
      } catch (const cachet::rate_limited&) {
      } catch (const std::runtime_error&) {
        ++n;
      }
    }
    return n;
  }

  cachet::manual_clock clock;
  cachet::memory backend{clock};
  cachet::options opts{.clock = &clock};
};

TEST_F(rate_limit_fused, is_taken_when_the_limit_is_keyed_like_the_cache) {
  static_assert(fused<&load_user, cachet::ttl<300>, per_user>::value);
  static_assert(fused<&load_user, per_user, cachet::key<"user:{}">, cachet::capacity<8>,
                      cachet::tags<"u:{}">, cachet::ttl<300>, cachet::fail_safe<60>>::value);
  static_assert(
      fused<&pair_of, cachet::rate_limit<1, cachet::per<1>, cachet::by<"{1}:{0}">>>::value);
  // Not the same calls, not the only call stage, or no key at all: the limiter.
  static_assert(!fused<&first_of, cachet::rate_limit<1, cachet::per<1>, cachet::by<"{}">>>::value);
  static_assert(!fused<&load_user, cachet::rate_limit<1, cachet::per<1>>>::value);
  static_assert(!fused<&load_user, per_user, pass_through>::value);
  static_assert(!fused<&load_user, cachet::ttl<300>>::value);
}

TEST_F(rate_limit_fused, counts_hits_and_misses_and_refuses_with_retry_after) {
  cachet::cached<&load_user, cachet::ttl<300>, per_user> get{backend, opts};
  EXPECT_EQ(get(1), "user1");  // a miss
  EXPECT_EQ(get(1), "user1");  // hits, each counted
  EXPECT_EQ(get(1), "user1");
  try {
    get(1);
    ADD_FAILURE() << "a fourth call was admitted";
  } catch (const cachet::rate_limited& e) {
    EXPECT_EQ(e.retry_after(), interval);
  }
  EXPECT_EQ(admitted(get, 2, 10), 3);  // another key, its own limit
  EXPECT_EQ(loads, 2);
  // A refused call is neither a hit nor a miss.
  const cachet::stats before = get.stats();
  EXPECT_THROW(get(1), cachet::rate_limited);
  EXPECT_EQ(get.stats().hits, before.hits);
  EXPECT_EQ(get.stats().misses, before.misses);
  clock.advance(interval - 1ns);
  EXPECT_EQ(admitted(get, 1, 10), 0);
  clock.advance(1ns);
  EXPECT_EQ(admitted(get, 1, 10), 1);
  clock.advance(60s);
  EXPECT_EQ(admitted(get, 1, 10), 3);
  EXPECT_EQ(loads, 2);
}

TEST_F(rate_limit_fused, the_state_outlives_an_expired_entry) {
  cachet::cached<&load_user, cachet::ttl<5>, per_user> get{backend, opts};
  EXPECT_EQ(admitted(get, 1, 10), 3);
  clock.advance(6s);  // the entry has expired; the limit has 6 s of its 20 s to go
  EXPECT_EQ(admitted(get, 1, 10), 0);
  EXPECT_EQ(loads, 1);
  clock.advance(14s);
  EXPECT_EQ(admitted(get, 1, 10), 1);  // a miss: loads again
  EXPECT_EQ(loads, 2);
  EXPECT_EQ(admitted(get, 1, 10), 0);
}

TEST_F(rate_limit_fused, the_state_outlives_eviction) {
  cachet::cached<&load_user, cachet::capacity<1>, per_user> get{backend, opts};
  EXPECT_EQ(admitted(get, 1, 2), 2);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(admitted(get, 2, 1), 1) << round;  // evicts 1, then 1 evicts 2
    EXPECT_EQ(admitted(get, 1, 1), round == 0 ? 1 : 0) << round;
  }
  EXPECT_EQ(admitted(get, 2, 5), 0);
  EXPECT_EQ(admitted(get, 1, 5), 0);
  EXPECT_EQ(get.stats().evictions, 3u);
  clock.advance(interval);
  EXPECT_EQ(admitted(get, 1, 5), 1);
  EXPECT_EQ(admitted(get, 2, 5), 1);
}

TEST_F(rate_limit_fused, the_state_outlives_invalidate_clear_and_tags) {
  cachet::cached<&load_user, cachet::tags<"user:{}">, per_user> get{backend, opts};
  EXPECT_EQ(admitted(get, 1, 1), 1);
  get.invalidate(1);
  EXPECT_EQ(admitted(get, 1, 1), 1);
  get.clear();
  EXPECT_EQ(admitted(get, 1, 1), 1);
  get.invalidate_tag("user:1");
  EXPECT_EQ(admitted(get, 1, 5), 0);
  EXPECT_EQ(loads, 3);
  EXPECT_FALSE(get.peek(1));  // the tag made it stale; the refused call did not reload it
  get.clear();
  get.invalidate(1);
  EXPECT_EQ(admitted(get, 1, 5), 0);
  clock.advance(interval);
  EXPECT_EQ(admitted(get, 1, 5), 1);
  EXPECT_EQ(loads, 4);
}

TEST_F(rate_limit_fused, calls_that_throw_are_counted_and_store_nothing) {
  cachet::cached<&load_user, cachet::ttl<300>, per_user> get{backend, opts};
  failing = true;
  EXPECT_EQ(admitted(get, 1, 2), 2);
  EXPECT_EQ(loads, 2);
  failing = false;
  EXPECT_EQ(get(1), "user1");
  EXPECT_THROW(get(1), cachet::rate_limited);
  EXPECT_EQ(loads, 3);
}

TEST_F(rate_limit_fused, many_keys_keep_their_states_while_entries_come_and_go) {
  // Entries are evicted as fast as keys come, so nearly every state is parked, and the shards'
  // parked maps grow and sweep.
  cachet::cached<&load_user, cachet::capacity<16>,
                 cachet::rate_limit<2, cachet::per<10>, cachet::by<"{}">>>
      get{backend, opts};
  constexpr int keys = 3000;
  for (int id = 0; id < keys; ++id) ASSERT_EQ(admitted(get, id, 1), 1) << id;
  for (int id = 0; id < keys; ++id) ASSERT_EQ(admitted(get, id, 1), 1) << id;
  for (int id = 0; id < keys; ++id) ASSERT_EQ(admitted(get, id, 1), 0) << id;
  clock.advance(5s);
  for (int id = 0; id < keys; ++id) ASSERT_EQ(admitted(get, id, 3), 1) << id;
  clock.advance(10s);  // every bucket is full again: idle states may be dropped
  for (int id = keys; id < 2 * keys; ++id) ASSERT_EQ(admitted(get, id, 1), 1) << id;
  for (int id = 0; id < keys; ++id) ASSERT_EQ(admitted(get, id, 3), 2) << id;
}

TEST_F(rate_limit_fused, serve_cached_answers_with_the_fresh_entry) {
  cachet::cached<&load_user, cachet::ttl<30>,
                 cachet::rate_limit<1, cachet::per<3600>, cachet::by<"{}">, cachet::serve_cached>>
      get{backend, opts};
  static_assert(cachet::detail::fused_rate_limit_of<decltype(get)>::value);
  EXPECT_EQ(get(1), "user1");
  EXPECT_EQ(get(1), "user1");  // refused, answered from the cache
  EXPECT_EQ(get(2), "user2");
  EXPECT_EQ(loads, 2);
  clock.advance(31s);
  EXPECT_THROW(get(1), cachet::rate_limited);  // nothing fresh to serve
  EXPECT_EQ(loads, 2);
}

TEST_F(rate_limit_fused, fail_safe_serves_the_stale_entry_when_refused) {
  cachet::cached<&load_user, cachet::fail_safe<600>, cachet::ttl<30>,
                 cachet::rate_limit<1, cachet::per<3600>, cachet::by<"{}">>>
      get{backend, opts};
  static_assert(cachet::detail::fused_rate_limit_of<decltype(get)>::value);
  EXPECT_EQ(get(1), "user1");
  clock.advance(31s);
  EXPECT_EQ(get(1), "user1");  // refused; the stale entry answers
  EXPECT_EQ(get.stats().stale_served, 1u);
  failing = true;
  EXPECT_THROW(get(2), std::runtime_error);  // admitted; nothing stored
  failing = false;
  EXPECT_THROW(get(2), cachet::rate_limited);  // refused, and nothing to serve
  EXPECT_EQ(loads, 2);
}

TEST_F(rate_limit_fused, options_override_the_numbers) {
  cachet::cached<&load_user, cachet::ttl<300>, per_user> get{
      backend, cachet::options{.clock = &clock, .rate_limit = 4, .rate_limit_period = 8s}};
  EXPECT_EQ(admitted(get, 1, 10), 4);
  try {
    get(1);
    ADD_FAILURE() << "over the limit from options";
  } catch (const cachet::rate_limited& e) {
    EXPECT_EQ(e.retry_after(), 2s);
  }
}

TEST_F(rate_limit_fused, keys_of_several_arguments_in_any_order) {
  cachet::cached<&pair_of, cachet::ttl<300>,
                 cachet::rate_limit<2, cachet::per<60>, cachet::by<"{1}:{0}">>>
      get{backend, opts};
  static_assert(cachet::detail::fused_rate_limit_of<decltype(get)>::value);
  EXPECT_EQ(get("a", 1), "a/1");
  EXPECT_EQ(get("a", 1), "a/1");
  EXPECT_THROW(get("a", 1), cachet::rate_limited);
  EXPECT_EQ(get("a", 2), "a/2");
  EXPECT_EQ(get("b", 1), "b/1");
}

// Without options::clock, the limit reads the cache's time: the backend's clock, by default the
// steady clock at tick resolution, and retry_after then covers a tick, as the limiter's does.
TEST_F(rate_limit_fused, the_default_clock_covers_a_tick) {
  cachet::memory steady;
  cachet::cached<&load_user, cachet::ttl<300>,
                 cachet::rate_limit<1, cachet::per<3600>, cachet::by<"{}">>>
      get{steady};
  EXPECT_EQ(get(1), "user1");
  try {
    get(1);
    ADD_FAILURE() << "a second call was admitted";
  } catch (const cachet::rate_limited& e) {
    EXPECT_GT(e.retry_after(), 59min);
    EXPECT_LE(e.retry_after(), 1h + cachet::detail::coarse_resolution());
  }
}

TEST_F(rate_limit_fused, without_options_clock_the_limit_follows_the_backends_clock) {
  cachet::cached<&load_user, cachet::ttl<300>, per_user> get{backend};
  EXPECT_EQ(admitted(get, 1, 10), 3);
  clock.advance(interval);
  EXPECT_EQ(admitted(get, 1, 10), 1);
}

}  // namespace
