#include <cachet.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct user {
  int id;
  std::string name;
  friend bool operator==(const user&, const user&) = default;
};

int user_loads = 0;
user load_user(int id) {
  ++user_loads;
  return {id, "user" + std::to_string(id)};
}

int order_loads = 0;
std::string orders_of(int user_id, const std::string& status) {
  ++order_loads;
  return std::to_string(user_id) + "/" + status + "/" + std::to_string(order_loads);
}

int failures_left = 0;
int flaky(int x) {
  if (failures_left > 0) {
    --failures_left;
    throw std::runtime_error("flaky failed");
  }
  return x * 10;
}

class cached_test : public ::testing::Test {
 protected:
  void SetUp() override { user_loads = order_loads = failures_left = 0; }
  cachet::manual_clock clock;
  cachet::memory backend{clock};
};

TEST_F(cached_test, a_miss_calls_the_function_and_a_hit_does_not) {
  cachet::cached<&load_user, cachet::ttl<300>> get_user{backend};
  EXPECT_EQ(get_user(42), (user{42, "user42"}));
  EXPECT_EQ(get_user(42), (user{42, "user42"}));
  EXPECT_EQ(user_loads, 1);
  EXPECT_EQ(get_user(7), (user{7, "user7"}));
  EXPECT_EQ(user_loads, 2);
  const cachet::stats s = get_user.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.loads, 2u);
  EXPECT_EQ(s.load_errors, 0u);
}

TEST_F(cached_test, entries_expire_after_their_ttl) {
  cachet::cached<&load_user, cachet::ttl<300>> get_user{backend};
  get_user(1);
  clock.advance(299s);
  get_user(1);
  EXPECT_EQ(user_loads, 1);
  clock.advance(1s);
  EXPECT_FALSE(get_user.peek(1).has_value());
  get_user(1);
  EXPECT_EQ(user_loads, 2);
  EXPECT_EQ(get_user.stats().expirations, 1u);
}

TEST_F(cached_test, a_clock_in_the_options_overrides_the_backends) {
  cachet::manual_clock own;
  cachet::cached<&load_user, cachet::ttl<300>> get_user{backend, cachet::options{.clock = &own}};
  get_user(1);
  clock.advance(1000s);  // the backend's clock: not this function's
  get_user(1);
  EXPECT_EQ(user_loads, 1);
  own.advance(300s);
  get_user(1);
  EXPECT_EQ(user_loads, 2);
}

TEST_F(cached_test, the_default_key_is_the_function_name_and_the_arguments) {
  cachet::cached<&load_user> get_user{backend};
  EXPECT_EQ(get_user.key(42), "load_user:42");
  cachet::cached<&orders_of> orders{backend};
  EXPECT_EQ(orders.key(7, "a:b"), "orders_of:7:a%3Ab");
}

TEST_F(cached_test, ttl_zero_never_expires) {
  cachet::cached<&load_user, cachet::ttl<0>> get_user{backend};
  get_user(1);
  clock.advance(24h * 365 * 100);
  get_user(1);
  EXPECT_EQ(user_loads, 1);
}

TEST_F(cached_test, options_override_the_policies_at_run_time) {
  cachet::cached<&load_user, cachet::ttl<300>, cachet::capacity<100>> get_user{
      backend, cachet::options{.ttl = 10s, .capacity = 1}};
  get_user(1);
  clock.advance(10s);
  get_user(1);
  EXPECT_EQ(user_loads, 2);
  get_user(2);  // capacity 1: evicts 1
  EXPECT_FALSE(get_user.peek(1).has_value());
  EXPECT_EQ(get_user.stats().evictions, 1u);
}

TEST_F(cached_test, a_ttl_past_max_ttl_in_the_options_never_expires) {
  cachet::cached<&load_user, cachet::ttl<300>> get_user{
      backend, cachet::options{.ttl = std::chrono::milliseconds::max()}};
  get_user(1);
  get_user(1);
  clock.advance(24h * 365 * 200);
  get_user(1);
  EXPECT_EQ(user_loads, 1);
}

TEST_F(cached_test, the_longest_ttl_expires_after_it_and_not_before) {
  cachet::cached<&load_user, cachet::ttl<cachet::max_ttl.count()>> get_user{backend};
  get_user(1);
  clock.advance(cachet::max_ttl - 1s);
  get_user(1);
  EXPECT_EQ(user_loads, 1);
  clock.advance(1s);
  get_user(1);
  EXPECT_EQ(user_loads, 2);
}

int halvings = 0;
double halve(double x) {
  ++halvings;
  return x / 2;
}

TEST_F(cached_test, nans_of_different_bits_share_one_entry) {
  const double quiet = std::numeric_limits<double>::quiet_NaN();
  const double other = std::nan("7");
  const double negative = -quiet;
  std::uint64_t bits[3];
  std::memcpy(&bits[0], &quiet, sizeof quiet);
  std::memcpy(&bits[1], &other, sizeof other);
  std::memcpy(&bits[2], &negative, sizeof negative);
  ASSERT_NE(bits[0], bits[1]);
  ASSERT_NE(bits[0], bits[2]);
  halvings = 0;
  cachet::cached<&halve> half{backend};
  EXPECT_TRUE(std::isnan(half(quiet)));
  EXPECT_TRUE(std::isnan(half(other)));
  EXPECT_TRUE(std::isnan(half(negative)));
  EXPECT_EQ(halvings, 1);
  EXPECT_EQ(half.key(other), half.key(quiet));
  // A string key (the text path) agrees.
  cachet::cached<&halve, cachet::key<"h:{}">> keyed{backend};
  keyed(quiet);
  keyed(other);
  EXPECT_EQ(halvings, 2);
}

std::string describe_wait(std::chrono::seconds wait) { return std::to_string(wait.count()); }
int waits = 0;
std::string count_wait(std::chrono::milliseconds wait) {
  ++waits;
  return std::to_string(wait.count());
}

TEST_F(cached_test, duration_arguments_of_any_unit_share_a_key) {
  cachet::cached<&describe_wait> describe{backend};
  EXPECT_EQ(describe.key(std::chrono::minutes(2)), describe.key(120s));
  EXPECT_EQ(describe.key(120s),
            std::string(cachet::detail::function_name<&describe_wait>()) + ":120000000000ns");
  cachet::cached<&count_wait, cachet::key<"w:{}">> counted{backend};
  counted(2min);
  counted(120s);
  counted(120000ms);
  EXPECT_EQ(waits, 1);
}

TEST_F(cached_test, a_lambda_given_directly_has_no_name_in_its_key) {
  cachet::cached<[](int x) { return x + 1; }> next{backend};
  EXPECT_EQ(next(1), 2);
  EXPECT_EQ(next.key(1), "1");
}

TEST_F(cached_test, invalidate_drops_one_entry_and_clear_drops_all) {
  cachet::cached<&load_user> get_user{backend};
  get_user(1);
  get_user(2);
  get_user.invalidate(1);
  EXPECT_FALSE(get_user.peek(1).has_value());
  EXPECT_TRUE(get_user.peek(2).has_value());
  get_user.clear();
  EXPECT_FALSE(get_user.peek(2).has_value());
  get_user(1);
  get_user(2);
  EXPECT_EQ(user_loads, 4);
}

TEST_F(cached_test, peek_never_computes_and_is_not_counted) {
  cachet::cached<&load_user> get_user{backend};
  EXPECT_EQ(get_user.peek(5), std::nullopt);
  EXPECT_EQ(user_loads, 0);
  get_user(5);
  EXPECT_EQ(get_user.peek(5), (user{5, "user5"}));
  EXPECT_EQ(get_user.stats().hits, 0u);
  EXPECT_EQ(get_user.stats().misses, 1u);
}

TEST_F(cached_test, exceptions_reach_the_caller_and_are_not_cached) {
  cachet::cached<&flaky> f{backend};
  failures_left = 1;
  EXPECT_THROW(f(1), std::runtime_error);
  EXPECT_FALSE(f.peek(1).has_value());
  EXPECT_EQ(f(1), 10);
  EXPECT_EQ(f.stats().load_errors, 1u);
  EXPECT_EQ(f.stats().loads, 1u);
}

TEST_F(cached_test, key_template_and_tags) {
  cachet::cached<&orders_of, cachet::key<"orders:{}:{}">, cachet::tags<"orders", "user:{}">> orders{
      backend};
  EXPECT_EQ(orders.key(42, "open"), "orders:42:open");
  const std::string first = orders(42, "open");
  const std::string other = orders(7, "open");
  EXPECT_EQ(orders(42, "open"), first);
  orders.invalidate_tag("user:42");
  EXPECT_NE(orders(42, "open"), first);  // recomputed
  EXPECT_EQ(orders(7, "open"), other);   // untouched
  EXPECT_EQ(orders.stats().invalidations, 1u);
  orders.invalidate_tag("orders");
  EXPECT_NE(orders(7, "open"), other);
}

TEST_F(cached_test, a_tag_reaches_every_cached_function_on_the_backend) {
  cachet::cached<&load_user, cachet::tags<"user:{}">> get_user{backend};
  cachet::cached<&orders_of, cachet::tags<"user:{}">> orders{backend};
  get_user(42);
  orders(42, "open");
  get_user.invalidate_tag("user:42");
  EXPECT_FALSE(get_user.peek(42).has_value());
  EXPECT_FALSE(orders.peek(42, "open").has_value());

  cachet::memory other_backend{clock};
  cachet::cached<&load_user, cachet::tags<"user:{}">> elsewhere{other_backend};
  elsewhere(42);
  get_user.invalidate_tag("user:42");
  EXPECT_TRUE(elsewhere.peek(42).has_value());
}

TEST_F(cached_test, an_invalidation_during_a_load_is_not_lost) {
  cachet::cached<&load_user, cachet::tags<"users">> get_user{backend};
  auto loader = cachet::make_cached<cachet::tags<"users">>(
      [&](int id) {
        // The data changes and is invalidated while this load is running.
        backend.invalidate_tag("users");
        return id;
      },
      backend);
  EXPECT_EQ(loader(3), 3);
  EXPECT_FALSE(loader.peek(3).has_value());
}

TEST_F(cached_test, invalidate_during_a_load_keeps_the_stale_result_out) {
  std::function<void()> during_load;
  auto f = cachet::make_cached(
      [&](int x) {
        if (during_load) during_load();
        return x + user_loads++;
      },
      backend);
  during_load = [&] { f.invalidate(1); };
  f(1);
  EXPECT_FALSE(f.peek(1).has_value());
  during_load = nullptr;
  f(1);
  EXPECT_TRUE(f.peek(1).has_value());
}

TEST_F(cached_test, least_recently_used_entries_are_evicted_first) {
  cachet::cached<&load_user, cachet::capacity<3>> get_user{backend};
  get_user(1);
  get_user(2);
  get_user(3);
  get_user(1);  // 2 is now the least recently used
  get_user(4);
  EXPECT_FALSE(get_user.peek(2).has_value());
  EXPECT_TRUE(get_user.peek(1).has_value());
  EXPECT_TRUE(get_user.peek(3).has_value());
  EXPECT_TRUE(get_user.peek(4).has_value());
  get_user(3);
  get_user(5);  // 1 is the least recently used now
  EXPECT_FALSE(get_user.peek(1).has_value());
  EXPECT_EQ(get_user.stats().evictions, 2u);
}

TEST_F(cached_test, a_large_cache_stays_within_its_capacity) {
  constexpr int capacity = 10000;
  cachet::cached<&load_user, cachet::capacity<capacity>> get_user{backend};
  for (int i = 0; i < 3 * capacity; ++i) get_user(i);
  int kept = 0;
  for (int i = 0; i < 3 * capacity; ++i) kept += get_user.peek(i).has_value();
  EXPECT_LE(kept, capacity + 64);  // shards round their share up
  EXPECT_GE(kept, capacity * 9 / 10);
  // The most recent entries are kept.
  for (int i = 3 * capacity - 100; i < 3 * capacity; ++i) EXPECT_TRUE(get_user.peek(i)) << i;
}

struct repo {
  std::string region;
  int calls = 0;
  user find(int id) {
    ++calls;
    return {id, region};
  }
  user find_const(int id) const { return {id, region + "-const"}; }
};

TEST_F(cached_test, methods_take_the_object_first_and_share_one_cache) {
  cachet::cached<&repo::find, cachet::ttl<60>> find{backend};
  repo eu{"eu"}, us{"us"};
  EXPECT_EQ(find(eu, 1), (user{1, "eu"}));
  EXPECT_EQ(find(us, 1), (user{1, "eu"}));  // the object is not part of the default key
  EXPECT_EQ(eu.calls + us.calls, 1);
  EXPECT_TRUE(find.peek(1).has_value());
  find.invalidate(1);
  EXPECT_FALSE(find.peek(eu, 1).has_value());

  cachet::cached<&repo::find_const> find_const{backend};
  const repo cr{"c"};
  EXPECT_EQ(find_const(cr, 2).name, "c-const");
}

TEST_F(cached_test, instance_key_gives_each_object_its_own_entries) {
  cachet::cached<&repo::find, cachet::instance_key<&repo::region>> find{backend};
  repo eu{"eu"}, us{"us"};
  EXPECT_EQ(find(eu, 1).name, "eu");
  EXPECT_EQ(find(us, 1).name, "us");
  EXPECT_EQ(find(eu, 1).name, "eu");
  EXPECT_EQ(eu.calls, 1);
  EXPECT_EQ(us.calls, 1);
  find.invalidate(eu, 1);
  EXPECT_FALSE(find.peek(eu, 1).has_value());
  EXPECT_TRUE(find.peek(us, 1).has_value());
}

TEST_F(cached_test, no_reference_to_the_object_outlives_the_call) {
  cachet::cached<&repo::find, cachet::instance_key<&repo::region>> find{backend};
  {
    auto temporary = std::make_unique<repo>(repo{"tmp"});
    find(*temporary, 9);
  }  // destroyed; the entry must still be readable (run under ASan)
  repo again{"tmp"};
  EXPECT_EQ(find(again, 9).name, "tmp");
  EXPECT_EQ(again.calls, 0);
}

TEST_F(cached_test, make_cached_wraps_lambdas_with_captures) {
  int factor = 3;
  int calls = 0;
  auto times = cachet::make_cached<cachet::ttl<10>, cachet::capacity<1024>>(
      [&](int x) {
        ++calls;
        return x * factor;
      },
      backend);
  EXPECT_EQ(times(4), 12);
  factor = 5;
  EXPECT_EQ(times(4), 12);  // cached
  EXPECT_EQ(calls, 1);
  clock.advance(10s);
  EXPECT_EQ(times(4), 20);
}

TEST_F(cached_test, arguments_that_render_alike_in_text_do_not_share_an_entry) {
  auto join = cachet::make_cached(
      [](const std::string& a, const std::string& b) { return a + "|" + b; }, backend);
  EXPECT_EQ(join("a:b", "c"), "a:b|c");
  EXPECT_EQ(join("a", "b:c"), "a|b:c");
}

TEST_F(cached_test, the_default_backend_is_a_shared_memory_backend) {
  cachet::cached<&load_user, cachet::ttl<300>> get_user;
  EXPECT_EQ(&get_user.backend(), &cachet::memory::shared());
  get_user(1000);
  get_user(1000);
  EXPECT_EQ(get_user.stats().loads, 1u);
}

TEST_F(cached_test, a_recursive_call_for_the_same_key_fails_instead_of_hanging) {
  std::function<int(int)> body;
  auto f = cachet::make_cached([&](int x) { return body(x); }, backend);
  body = [&](int x) { return x == 0 ? 0 : f(x); };
  EXPECT_THROW(f(1), cachet::error);
  body = [&](int x) { return x == 0 ? 0 : 1 + f(x - 1); };
  EXPECT_EQ(f(3), 3);
}

// A policy written outside cached<>: it counts every call through a call stage. This is how
// later policies (rate limits, breakers) attach without an edit of cached<>.
struct counting_policy : cachet::detail::policy<struct counting_kind> {
  static inline int calls = 0;
  static inline int loads = 0;
  static inline std::string last_call_key;
  template <class Value>
  struct call_stage {
    explicit call_stage(const cachet::options&) {}
    template <class Next>
    Value operator()(std::string_view key, Next&& next, int id) {
      EXPECT_GE(id, 7);  // the call's arguments reach the stage
      ++calls;
      last_call_key = key;
      return next();
    }
  };
  template <class Value>
  struct load_stage {
    explicit load_stage(const cachet::options&) {}
    template <class Next, class... Args>
    Value operator()(std::string_view key, Next&& next, const Args&...) {
      EXPECT_EQ(key, last_call_key);  // the same call, seen from both stages
      ++loads;
      return next();
    }
  };
};

TEST_F(cached_test, policies_can_wrap_calls_and_loads) {
  cachet::cached<&load_user, counting_policy, cachet::ttl<5>> get_user{backend};
  get_user(7);
  const std::string key_of_7 = counting_policy::last_call_key;
  get_user(7);
  EXPECT_EQ(counting_policy::last_call_key, key_of_7);
  get_user(8);
  EXPECT_NE(counting_policy::last_call_key, key_of_7);
  EXPECT_EQ(counting_policy::calls, 3);
  EXPECT_EQ(counting_policy::loads, 2);
}

// A value whose copies throw while `copies_fail` is set: the copy into the store then fails.
bool copies_fail = false;
struct fragile {
  int value = 0;
  explicit fragile(int v) : value(v) {}
  fragile(const fragile& other) : value(other.value) {
    if (copies_fail) throw std::runtime_error("copy failed");
  }
  fragile(fragile&&) noexcept = default;
  fragile& operator=(const fragile&) = default;
};
int fragile_loads = 0;
fragile make_fragile(int v) {
  ++fragile_loads;
  return fragile(v);
}

TEST_F(cached_test, a_result_that_cannot_be_stored_is_still_returned) {
  cachet::cached<&make_fragile, cachet::ttl<60>> f{backend};
  fragile_loads = 0;
  copies_fail = true;
  EXPECT_EQ(f(3).value, 3);
  EXPECT_EQ(f.stats().loads, 1u);
  copies_fail = false;
  EXPECT_EQ(f(3).value, 3);  // not kept: computed again, and kept this time
  EXPECT_EQ(f(3).value, 3);
  EXPECT_EQ(fragile_loads, 2);
}

TEST_F(cached_test, expired_entries_are_reclaimed_as_new_ones_are_stored) {
  // Below 128 entries of capacity a cache has one shard, so every insert sees every entry.
  cachet::cached<&load_user, cachet::ttl<10>, cachet::capacity<100>> get_user{backend};
  for (int id = 1; id <= 3; ++id) get_user(id);
  clock.advance(11s);
  EXPECT_EQ(get_user.stats().expirations, 0u);
  get_user(4);  // reclaims two of the three expired entries
  EXPECT_EQ(get_user.stats().expirations, 2u);
  get_user(5);
  EXPECT_EQ(get_user.stats().expirations, 3u);
  EXPECT_EQ(get_user.stats().evictions, 0u);
}

}  // namespace
