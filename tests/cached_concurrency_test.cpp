#include <cachet.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

// Lets a test hold every caller of a function inside it until all of them have arrived, so
// concurrency is forced by a condition, not hoped for with sleeps.
class gate {
 public:
  void open() {
    {
      std::lock_guard lock(m_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Waits until a cached function has seen `n` misses: every caller has looked and is now either
// computing or waiting for the one computation.
template <class Cached>
void wait_for_misses(const Cached& c, std::uint64_t n) {
  while (c.stats().misses < n) std::this_thread::yield();
}

TEST(cached_concurrency, concurrent_misses_on_one_key_compute_once) {
  constexpr int threads = 16;
  cachet::memory backend;
  gate release;
  std::atomic<int> calls{0};
  auto slow = cachet::make_cached(
      [&](int x) {
        ++calls;
        release.wait();
        return std::to_string(x);
      },
      backend);

  std::vector<std::string> results(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back([&, i] { results[i] = slow(7); });
  wait_for_misses(slow, threads);
  release.open();
  for (auto& t : pool) t.join();

  EXPECT_EQ(calls.load(), 1);
  for (const auto& r : results) EXPECT_EQ(r, "7");
  const cachet::stats s = slow.stats();
  EXPECT_EQ(s.misses, static_cast<std::uint64_t>(threads));
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.hits, 0u);
}

TEST(cached_concurrency, every_waiter_gets_the_same_exception_and_it_is_not_cached) {
  constexpr int threads = 8;
  cachet::memory backend;
  gate release;
  std::atomic<int> calls{0};
  auto failing = cachet::make_cached(
      [&](int) -> int {
        ++calls;
        release.wait();
        throw std::runtime_error("backend down");
      },
      backend);

  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      try {
        failing(1);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  wait_for_misses(failing, threads);
  release.open();
  for (auto& t : pool) t.join();

  EXPECT_EQ(calls.load(), 1);
  for (const auto& e : errors) {
    ASSERT_TRUE(e);
    EXPECT_EQ(e, errors[0]);  // the very same exception object
  }
  EXPECT_EQ(failing.stats().load_errors, 1u);
  EXPECT_FALSE(failing.peek(1).has_value());
}

// A load's waiters share its result only once a second caller arrives (the first load of a key
// allocates nothing for them). A load invalidated while it runs is left to its own waiters, and
// callers after the invalidation start a second load: each group gets its own load's result.
TEST(cached_concurrency, waiters_of_a_load_replaced_during_it_get_that_loads_result) {
  constexpr int first_group = 6;
  constexpr int second_group = 5;
  cachet::memory backend;
  gate releases[2];
  std::atomic<int> calls{0};
  auto numbered = cachet::make_cached(
      [&](int) {
        const int n = ++calls;
        releases[n - 1].wait();
        return n;
      },
      backend);

  std::vector<int> results(first_group + second_group);
  std::vector<std::thread> pool;
  for (int i = 0; i < first_group; ++i) pool.emplace_back([&, i] { results[i] = numbered(1); });
  wait_for_misses(numbered, first_group);
  numbered.invalidate(1);  // the running load's result must not be stored
  for (int i = first_group; i < first_group + second_group; ++i) {
    pool.emplace_back([&, i] { results[i] = numbered(1); });
  }
  wait_for_misses(numbered, first_group + second_group);
  releases[0].open();
  releases[1].open();
  for (auto& t : pool) t.join();

  EXPECT_EQ(calls.load(), 2);
  for (int i = 0; i < first_group; ++i) EXPECT_EQ(results[i], 1) << i;
  for (int i = first_group; i < first_group + second_group; ++i) EXPECT_EQ(results[i], 2) << i;
  EXPECT_EQ(numbered.peek(1), 2);
  const cachet::stats s = numbered.stats();
  EXPECT_EQ(s.loads, 2u);
  EXPECT_EQ(s.misses, static_cast<std::uint64_t>(first_group + second_group));
}

// A bounded cache this small keeps one shard, so all these loads are under way in it at once,
// more than its table of loads keeps in its own slots: each key still computes once for all its
// callers, and an invalidation during the loads keeps exactly its own key's result out.
TEST(cached_concurrency, many_loads_under_way_in_one_shard_each_compute_once) {
  constexpr int keys = 10;
  constexpr int callers_per_key = 3;
  cachet::memory backend;
  gate release;
  std::vector<std::atomic<int>> calls(keys);
  auto slow = cachet::make_cached<cachet::capacity<100>>(
      [&](int x) {
        ++calls[static_cast<std::size_t>(x)];
        release.wait();
        return x * 10;
      },
      backend);

  std::vector<int> results(keys * callers_per_key);
  std::vector<std::thread> pool;
  for (int i = 0; i < keys * callers_per_key; ++i) {
    pool.emplace_back([&, i] { results[static_cast<std::size_t>(i)] = slow(i % keys); });
  }
  wait_for_misses(slow, keys * callers_per_key);
  for (int k = 0; k < keys; k += 3) slow.invalidate(k);
  release.open();
  for (auto& t : pool) t.join();

  for (int k = 0; k < keys; ++k) EXPECT_EQ(calls[static_cast<std::size_t>(k)].load(), 1) << k;
  for (int i = 0; i < keys * callers_per_key; ++i) {
    EXPECT_EQ(results[static_cast<std::size_t>(i)], i % keys * 10) << i;
  }
  for (int k = 0; k < keys; ++k) {
    if (k % 3 == 0) {
      EXPECT_FALSE(slow.peek(k).has_value()) << k;
    } else {
      EXPECT_EQ(slow.peek(k), k * 10) << k;
    }
  }
  const cachet::stats s = slow.stats();
  EXPECT_EQ(s.loads, static_cast<std::uint64_t>(keys));
  EXPECT_EQ(s.misses, static_cast<std::uint64_t>(keys * callers_per_key));
}

// Many rounds of one leader and a changing number of waiters (none in the first round): every
// round computes once, and every caller of a round gets that round's result.
TEST(cached_concurrency, rounds_of_waiters_each_share_exactly_one_load) {
  constexpr int rounds = 8;
  cachet::memory backend;
  std::atomic<int> calls{0};
  std::vector<gate> releases(rounds);
  auto numbered = cachet::make_cached(
      [&](int round) {
        ++calls;
        releases[static_cast<std::size_t>(round)].wait();
        return round * 100;
      },
      backend);

  std::uint64_t misses = 0;
  for (int round = 0; round < rounds; ++round) {
    const int callers = 1 + round;
    std::vector<int> results(static_cast<std::size_t>(callers));
    std::vector<std::thread> pool;
    for (int i = 0; i < callers; ++i) {
      pool.emplace_back([&, i] { results[static_cast<std::size_t>(i)] = numbered(round); });
    }
    misses += static_cast<std::uint64_t>(callers);
    wait_for_misses(numbered, misses);
    releases[static_cast<std::size_t>(round)].open();
    for (auto& t : pool) t.join();
    EXPECT_EQ(calls.load(), round + 1);
    for (int r : results) EXPECT_EQ(r, round * 100);
  }
  EXPECT_EQ(numbered.stats().loads, static_cast<std::uint64_t>(rounds));
  EXPECT_EQ(numbered.stats().hits, 0u);
}

TEST(cached_concurrency, many_threads_on_many_keys_get_exact_results_and_counts) {
  constexpr int threads = 4;
  constexpr int keys = 500;
  constexpr int rounds = 20;
  cachet::memory backend;
  std::atomic<int> calls{0};
  auto square = cachet::make_cached(
      [&](int x) {
        ++calls;
        return static_cast<long>(x) * x;
      },
      backend);

  std::atomic<int> wrong{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        for (int k = 0; k < keys; ++k) {
          const int x = (k * 7 + t * 13 + r) % keys;
          if (square(x) != static_cast<long>(x) * x) ++wrong;
        }
      }
    });
  }
  for (auto& t : pool) t.join();

  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(calls.load(), keys);  // unbounded, no ttl: each key computed exactly once
  const cachet::stats s = square.stats();
  EXPECT_EQ(s.loads, static_cast<std::uint64_t>(keys));
  EXPECT_EQ(s.hits + s.misses, static_cast<std::uint64_t>(threads) * rounds * keys);
}

TEST(cached_concurrency, eviction_and_invalidation_under_load_never_serve_a_wrong_value) {
  constexpr int threads = 4;
  constexpr int iterations = 20000;
  cachet::memory backend;
  std::atomic<int> generation{0};
  std::atomic<int> invalidated{0};  // the newest generation whose invalidation has completed
  auto versioned = cachet::make_cached<cachet::capacity<64>, cachet::tags<"all">>(
      [&](int x) { return std::to_string(x) + "@" + std::to_string(generation.load()); }, backend);

  std::atomic<int> wrong{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < iterations; ++i) {
        const int x = (i * 31 + t) % 200;
        const int before = invalidated.load();
        const std::string v = versioned(x);
        const auto at = v.find('@');
        // A value computed from data older than the last completed invalidation is stale.
        if (v.substr(0, at) != std::to_string(x) || std::stoi(v.substr(at + 1)) < before) ++wrong;
        if (t == 0 && i % 500 == 0) {
          const int changed = generation.fetch_add(1) + 1;
          versioned.invalidate_tag("all");
          invalidated.store(changed);
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(versioned.stats().evictions, 0u);
}

// The reader-slot protocol of the in-memory store (detail/memory/reader_slots.hpp) on its own:
// a writer changes two plain fields together and switches the shard between fenced and light
// entry (the latter only after readers have entered it light), while readers check the fields
// inside. A reader that overlapped a writer would see them differ (and TSan reports the race).
TEST(cached_concurrency, readers_of_a_light_shard_never_overlap_a_writer) {
  namespace detail = cachet::detail;
  if (!detail::heavy_barrier_available()) GTEST_SKIP() << "no membarrier: shards stay fenced";
  struct {
    detail::spinlock lock;
    std::uint32_t number = 1;
  } shard;
  detail::reader_bias bias;
  std::vector<detail::reader_state> readers(detail::reader_slot_count);
  long first = 0;
  long second = 0;
  constexpr int reader_threads = 2;
  constexpr long writes = 100;
  std::atomic<bool> done{false};
  std::atomic<long> torn{0};
  std::atomic<long> light_reads{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < reader_threads; ++t) {
    pool.emplace_back([&] {
      detail::reader_state& r = readers[static_cast<std::size_t>(detail::reader_slot())];
      while (!done.load()) {
        while (!detail::try_enter(r, shard, bias)) std::this_thread::yield();
        if (first != second) ++torn;
        // Light can only be cleared while a reader is inside, not set: true here means that
        // the reader entered light.
        if (bias.light.load(std::memory_order_relaxed)) ++light_reads;
        r.reading.store(0, std::memory_order_release);
      }
    });
  }
  ASSERT_GE(detail::reader_slot(), 0);
  for (long i = 1; i <= writes; ++i) {
    const long light_before = light_reads.load();
    {
      detail::exclusive_shard<decltype(shard)> lock(readers.data(), shard, &bias);
      first = i;
      second = i;
      if (i % 2 == 0) lock.admit_light_readers();
    }
    if (i % 2 == 0) {
      while (light_reads.load() == light_before) std::this_thread::yield();
    }
  }
  done = true;
  for (auto& t : pool) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(first, writes);
  EXPECT_EQ(second, writes);
  EXPECT_GE(light_reads.load(), writes / 2);
  EXPECT_EQ(bias.writes.load(), static_cast<std::uint32_t>(writes));
}

}  // namespace
