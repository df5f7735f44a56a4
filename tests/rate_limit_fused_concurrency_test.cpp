// rate_limit fused into the in-memory store (see rate_limit_fused_test.cpp), under threads: with
// the clock held still, each key admits exactly its limit, however entries come and go
// meanwhile (misses in single flight, eviction, invalidation, clearing, tags, failed loads).

#include <cachet.hpp>
#include <cachet/rate_limit.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/run_together.hpp"

namespace {

using cachet_test::run_together;
using namespace std::chrono_literals;

std::atomic<int> loads{0};
std::atomic<bool> failing{false};

int load(int id) {
  loads.fetch_add(1);
  if (failing.load()) throw std::runtime_error("origin down");
  return id;
}

// Whether one call was admitted: a refused call throws cachet::rate_limited; an admitted one
// returns, or throws the function's own error.
template <class Cache>
bool admitted(Cache& cache, int id) {
  try {
    EXPECT_EQ(cache(id), id);
    return true;
  } catch (const cachet::rate_limited&) {
    return false;
  } catch (const std::runtime_error&) {
    return true;
  }
}

class rate_limit_fused_concurrency : public ::testing::Test {
 protected:
  void SetUp() override {
    loads = 0;
    failing = false;
  }
  cachet::manual_clock clock;
  cachet::memory backend{clock};
  cachet::options opts{.clock = &clock};
};

TEST_F(rate_limit_fused_concurrency, threads_on_one_key_get_exactly_the_limit) {
  constexpr std::uint64_t limit = 1000;
  cachet::cached<&load, cachet::ttl<300>,
                 cachet::rate_limit<limit, cachet::per<60>, cachet::by<"{}">>>
      get{backend, opts};
  static_assert(cachet::detail::fused_rate_limit_of<decltype(get)>::value);
  std::atomic<std::uint64_t> passed{0};
  run_together(8, [&](int) {
    for (int i = 0; i < 1000; ++i) passed.fetch_add(admitted(get, 7) ? 1 : 0);
  });
  EXPECT_EQ(passed.load(), limit);
  EXPECT_EQ(loads.load(), 1);
}

// More threads than reader slots (32): the threads without one check under the shard's lock.
TEST_F(rate_limit_fused_concurrency, threads_beyond_the_reader_slots_count_too) {
  constexpr std::uint64_t limit = 500;
  cachet::cached<&load, cachet::ttl<300>,
                 cachet::rate_limit<limit, cachet::per<60>, cachet::by<"{}">>>
      get{backend, opts};
  std::atomic<std::uint64_t> passed{0};
  run_together(cachet::detail::reader_slot_count + 8, [&](int) {
    for (int i = 0; i < 50; ++i) passed.fetch_add(admitted(get, 3) ? 1 : 0);
  });
  EXPECT_EQ(passed.load(), limit);
}

// Every call misses and the loads fail: the states never reach an entry, and concurrent
// callers of one key meet in single flight.
TEST_F(rate_limit_fused_concurrency, exact_when_nothing_is_ever_stored) {
  constexpr std::uint64_t limit = 200;
  cachet::cached<&load, cachet::ttl<300>,
                 cachet::rate_limit<limit, cachet::per<60>, cachet::by<"{}">>>
      get{backend, opts};
  failing = true;
  std::array<std::atomic<std::uint64_t>, 4> passed{};
  run_together(8, [&](int) {
    for (int i = 0; i < 400; ++i) passed[i % 4].fetch_add(admitted(get, i % 4) ? 1 : 0);
  });
  for (int id = 0; id < 4; ++id) EXPECT_EQ(passed[id].load(), limit) << id;
}

// Keys churn through a small cache while other threads invalidate, clear and tag-invalidate,
// and some loads fail: each key's state moves between its entry and the store again and again.
// Time moves between rounds, and each round admits exactly the limit per key again.
TEST_F(rate_limit_fused_concurrency, exact_per_key_while_entries_come_and_go) {
  constexpr std::uint64_t limit = 100;
  constexpr int keys = 24;
  constexpr int callers = 6;
  cachet::cached<&load, cachet::ttl<5>, cachet::capacity<4>, cachet::tags<"k:{}">,
                 cachet::rate_limit<limit, cachet::per<60>, cachet::by<"{}">>>
      get{backend, opts};
  static_assert(cachet::detail::fused_rate_limit_of<decltype(get)>::value);
  for (int round = 0; round < 3; ++round) {
    std::array<std::atomic<std::uint64_t>, keys> passed{};
    std::atomic<int> callers_done{0};
    run_together(callers + 1, [&](int t) {
      if (t == callers) {
        // Disturbs the entries until the callers are done.
        for (int i = 0; callers_done.load() < callers; ++i) {
          switch (i % 4) {
            case 0:
              get.invalidate(i % keys);
              break;
            case 1:
              get.invalidate_tag("k:" + std::to_string(i % keys));
              break;
            case 2:
              get.clear();
              break;
            default:
              failing = !failing.load();
              break;
          }
          std::this_thread::yield();
        }
        return;
      }
      for (int i = 0; i < 1500; ++i) {
        const int id = (i * 7 + t) % keys;
        passed[id].fetch_add(admitted(get, id) ? 1 : 0);
      }
      callers_done.fetch_add(1);
    });
    for (int id = 0; id < keys; ++id) {
      EXPECT_EQ(passed[id].load(), limit) << "round " << round << ", key " << id;
    }
    clock.advance(60s);  // every bucket refills, and every entry expires
  }
}

}  // namespace
