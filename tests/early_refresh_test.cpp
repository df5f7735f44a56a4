#include <cachet.hpp>
#include <cachet/early_refresh.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct refresh_failed : std::runtime_error {
  refresh_failed() : std::runtime_error("source down") {}
};

// The source of truth: key * 100 + the number of calls for that key so far, so every load gives
// a new value. Loads can be held (the test releases them) or made to throw.
struct source {
  std::mutex m;
  std::condition_variable changed;
  int calls[4] = {0, 0, 0, 0};
  bool hold = false;      // loads wait until released
  int held = 0;           // loads waiting now
  int held_key = -1;      // only loads of this key are held (-1: all)
  bool fail = false;      // loads throw
  bool finished = false;  // a held load has returned
  int started_loads = 0;

  int load(int key) {
    std::unique_lock lock(m);
    const int n = ++calls[key];
    ++started_loads;
    if (hold && (held_key < 0 || held_key == key)) {
      ++held;
      changed.notify_all();
      changed.wait(lock, [&] { return !hold; });
      --held;
    }
    if (fail) throw refresh_failed();
    finished = true;
    changed.notify_all();
    return key * 100 + n;
  }
  void hold_loads(int key = -1) {
    std::lock_guard lock(m);
    hold = true;
    held_key = key;
  }
  void wait_until_held() {
    std::unique_lock lock(m);
    changed.wait(lock, [&] { return held > 0; });
  }
  void release() {
    {
      std::lock_guard lock(m);
      hold = false;
    }
    changed.notify_all();
  }
  int calls_of(int key) {
    std::lock_guard lock(m);
    return calls[key];
  }
};

// Polls `done` until it holds: for the background refresh's store, which follows its load's
// return on another thread. Real time only bounds a broken test; it synchronises nothing.
template <class Done>
bool eventually(Done&& done) {
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

class early_refresh_test : public ::testing::Test {
 protected:
  using cache_type =
      cachet::cached_function<std::function<int(int)>, cachet::ttl<100>, cachet::early_refresh<80>>;
  std::unique_ptr<cache_type> make() {
    return std::make_unique<cache_type>(
        std::function<int(int)>([this](int k) { return src.load(k); }), backend,
        cachet::options{.clock = &clock});
  }
  cachet::manual_clock clock;
  cachet::memory backend{clock};
  source src;
};

TEST_F(early_refresh_test, before_the_share_of_the_ttl_a_hit_starts_no_refresh) {
  auto c = make();
  EXPECT_EQ((*c)(1), 101);
  EXPECT_EQ((*c)(2), 201);
  clock.advance(79s);
  for (int i = 0; i < 10; ++i) EXPECT_EQ((*c)(1), 101);
  // Refreshes run one after the other on one worker, in the order they were started: once key
  // 2's refresh (due at 80 s) is running, a refresh of key 1 started at 79 s would have run.
  src.hold_loads(2);
  clock.advance(1s);
  EXPECT_EQ((*c)(2), 201);
  src.wait_until_held();
  EXPECT_EQ(src.calls_of(1), 1);
  src.release();
  ASSERT_TRUE(eventually([&] { return c->peek(2) == 202; }));
  EXPECT_EQ(src.calls_of(1), 1);
  EXPECT_EQ((*c)(1), 101);  // key 1 is due now too: its hit answers at once
}

TEST_F(early_refresh_test, a_due_hit_answers_at_once_and_one_refresh_serves_every_later_hit) {
  auto c = make();
  EXPECT_EQ((*c)(1), 101);
  clock.advance(80s);
  src.hold_loads();
  // The load is held until the test releases it: a hit that waited for it would never return.
  EXPECT_EQ((*c)(1), 101);
  src.wait_until_held();
  for (int i = 0; i < 100; ++i) EXPECT_EQ((*c)(1), 101);
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 100; ++i) EXPECT_EQ((*c)(1), 101);
    });
  }
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(src.calls_of(1), 2);  // the first load, and one refresh for 501 due hits
  src.release();
  ASSERT_TRUE(eventually([&] { return c->peek(1) == 102; }));
  EXPECT_EQ((*c)(1), 102);
  // The new entry is fresh for a whole ttl, and due again only after 80 s of it.
  clock.advance(79s);
  EXPECT_EQ((*c)(1), 102);
  EXPECT_EQ(src.calls_of(1), 2);
  const cachet::stats s = c->stats();
  EXPECT_EQ(s.loads, 2u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 503u);
}

TEST_F(early_refresh_test, a_miss_during_the_refresh_waits_for_it_instead_of_loading_again) {
  auto c = make();
  EXPECT_EQ((*c)(1), 101);
  clock.advance(90s);
  src.hold_loads();
  EXPECT_EQ((*c)(1), 101);
  src.wait_until_held();
  clock.advance(10s);  // expired: the next call misses, and joins the refresh under way
  int missed = 0;
  std::thread caller([&] { missed = (*c)(1); });
  ASSERT_TRUE(eventually([&] { return c->stats().misses == 2; }));
  src.release();
  caller.join();
  EXPECT_EQ(missed, 102);
  EXPECT_EQ(src.calls_of(1), 2);
}

TEST_F(early_refresh_test, the_destructor_waits_for_the_refresh_under_way) {
  auto c = make();
  EXPECT_EQ((*c)(1), 101);
  clock.advance(85s);
  src.hold_loads();
  EXPECT_EQ((*c)(1), 101);
  src.wait_until_held();
  std::thread releaser([&] { src.release(); });
  c.reset();  // joins the worker: the refresh it was running has returned and been stored
  {
    std::lock_guard lock(src.m);
    EXPECT_TRUE(src.finished);
  }
  releaser.join();
  EXPECT_EQ(src.calls_of(1), 2);
}

TEST_F(early_refresh_test, an_object_destroyed_without_a_refresh_never_started_one) {
  auto c = make();
  EXPECT_EQ((*c)(1), 101);
  c.reset();
  EXPECT_EQ(src.calls_of(1), 1);
}

TEST_F(early_refresh_test, a_refresh_that_throws_leaves_the_old_value_served) {
  auto c = make();
  EXPECT_EQ((*c)(1), 101);
  clock.advance(80s);
  {
    std::lock_guard lock(src.m);
    src.fail = true;
  }
  EXPECT_EQ((*c)(1), 101);  // no exception reaches the caller
  ASSERT_TRUE(eventually([&] { return c->stats().load_errors == 1; }));
  EXPECT_EQ(c->peek(1), 101);
  {
    std::lock_guard lock(src.m);
    src.fail = false;
  }
  // A later due hit tries again (once the failed refresh has left the worker).
  ASSERT_TRUE(eventually([&] {
    const int v = (*c)(1);
    EXPECT_TRUE(v == 101 || v == 103) << v;
    return c->peek(1) == 103;
  }));
  EXPECT_EQ(src.calls_of(1), 3);
  EXPECT_EQ(c->stats().load_errors, 1u);
}

TEST_F(early_refresh_test, an_invalidation_during_the_refresh_keeps_its_result_out) {
  auto c = make();
  EXPECT_EQ((*c)(1), 101);
  clock.advance(80s);
  src.hold_loads();
  EXPECT_EQ((*c)(1), 101);
  src.wait_until_held();
  c->invalidate(1);
  src.release();
  ASSERT_TRUE(eventually([&] { return c->stats().loads == 2; }));
  EXPECT_EQ(c->peek(1), std::nullopt);
  EXPECT_EQ((*c)(1), 103);  // a miss: computed again
}

TEST_F(early_refresh_test, a_tag_invalidation_during_the_refresh_keeps_its_result_out) {
  auto c =
      std::make_unique<cachet::cached_function<std::function<int(int)>, cachet::ttl<100>,
                                               cachet::early_refresh<80>, cachet::tags<"k:{}">>>(
          std::function<int(int)>([this](int k) { return src.load(k); }), backend,
          cachet::options{.clock = &clock});
  EXPECT_EQ((*c)(1), 101);
  clock.advance(80s);
  src.hold_loads();
  EXPECT_EQ((*c)(1), 101);
  src.wait_until_held();
  c->invalidate_tag("k:1");
  src.release();
  ASSERT_TRUE(eventually([&] { return c->stats().loads == 2; }));
  EXPECT_EQ(c->peek(1), std::nullopt);
}

TEST_F(early_refresh_test, with_jitter_an_entry_is_due_by_the_end_of_its_window) {
  auto c = cachet::make_cached<cachet::ttl<100>, cachet::early_refresh<80>, cachet::jitter<10>>(
      [this](int k) { return src.load(k); }, backend, cachet::options{.clock = &clock});
  EXPECT_EQ(c(1), 101);
  // Written at 0, expiring between 90 and 110 s: due 20 s before, between 70 and 90 s.
  clock.advance(90s);
  EXPECT_EQ(c(1), 101);
  ASSERT_TRUE(eventually([&] { return c.peek(1) == 102; }));
  EXPECT_EQ(src.calls_of(1), 2);
}

TEST_F(early_refresh_test, a_bounded_cache_refreshes_hits_that_reorder_its_entries_too) {
  // Below 8 entries a shard keeps an exact LRU order: each hit on an entry that is not the most
  // recent takes the path that moves it, which reports due entries as the plain hit does.
  auto c = cachet::make_cached<cachet::ttl<100>, cachet::early_refresh<80>, cachet::capacity<4>>(
      [this](int k) { return src.load(k); }, backend, cachet::options{.clock = &clock});
  EXPECT_EQ(c(1), 101);
  EXPECT_EQ(c(2), 201);
  EXPECT_EQ(c(3), 301);
  clock.advance(80s);
  EXPECT_EQ(c(1), 101);
  EXPECT_EQ(c(2), 201);
  ASSERT_TRUE(eventually([&] { return c.peek(1) == 102 && c.peek(2) == 202; }));
  EXPECT_EQ(c(3), 301);
  ASSERT_TRUE(eventually([&] { return c.peek(3) == 302; }));
  EXPECT_EQ(src.calls_of(1) + src.calls_of(2) + src.calls_of(3), 6);
}

}  // namespace
