#include <cachet.hpp>
#include <cachet/async.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include "support/cache_report.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

// Every event, in order, as "kind cache key".
struct recorder {
  std::mutex m;
  std::vector<std::string> events;
  std::vector<cachet::event> loads;

  void add(const char* kind, const cachet::event& e) {
    std::lock_guard lock(m);
    events.push_back(std::string(kind) + " " + std::string(e.cache) + " " + std::string(e.key));
  }
  void on_hit(const cachet::event& e) { add("hit", e); }
  void on_miss(const cachet::event& e) { add("miss", e); }
  void on_load(const cachet::event& e) {
    add("load", e);
    std::lock_guard lock(m);
    loads.push_back(e);
  }
  void on_load_error(const cachet::event& e) {
    add("load_error", e);
    EXPECT_TRUE(e.error != nullptr);
  }
  void on_eviction(const cachet::event& e) { add("eviction", e); }
  void on_invalidation(const cachet::event& e) { add("invalidation", e); }
  void on_stale_served(const cachet::event& e) { add("stale_served", e); }
  void on_rate_limited(const cachet::event& e) {
    add("rate_limited", e);
    EXPECT_TRUE(e.error != nullptr);
  }
  void on_circuit_open(const cachet::event& e) { add("circuit_open", e); }
};

using strings = std::vector<std::string>;

std::atomic<int> loads{0};
int square(int x) {
  ++loads;
  return x * x;
}

bool fail_next = false;
int flaky(int x) {
  if (fail_next) throw std::runtime_error("flaky failed");
  return x + 1;
}

class observer_test : public ::testing::Test {
 protected:
  void SetUp() override {
    loads = 0;
    fail_next = false;
  }
  cachet::manual_clock clock;
  cachet::memory backend{clock};
};

TEST_F(observer_test, a_miss_loads_and_a_hit_does_not) {
  cachet::cached<&square, cachet::ttl<60>, cachet::key<"sq:{}">, cachet::observer<recorder>> sq{
      backend};
  EXPECT_EQ(sq(3), 9);
  EXPECT_EQ(sq(3), 9);
  EXPECT_EQ(sq(4), 16);
  EXPECT_EQ(sq.observer().events, (strings{"miss sq:{} sq:3", "load sq:{} sq:3", "hit sq:{} sq:3",
                                           "miss sq:{} sq:4", "load sq:{} sq:4"}));
  ASSERT_EQ(sq.observer().loads.size(), 2u);
  EXPECT_GE(sq.observer().loads[0].duration.count(), 0);
  EXPECT_EQ(sq.observer().loads[0].error, nullptr);
}

TEST_F(observer_test, an_expired_entry_is_a_miss) {
  cachet::cached<&square, cachet::ttl<60>, cachet::name<"squares">, cachet::observer<recorder>> sq{
      backend};
  sq(2);
  clock.advance(60s);
  sq(2);
  EXPECT_EQ(sq.observer().events, (strings{"miss squares square:2", "load squares square:2",
                                           "miss squares square:2", "load squares square:2"}));
}

TEST_F(observer_test, a_failed_load_is_reported_with_its_exception_and_not_stored) {
  cachet::cached<&flaky, cachet::ttl<60>, cachet::name<"f">, cachet::observer<recorder>> f{backend};
  fail_next = true;
  EXPECT_THROW(f(1), std::runtime_error);
  fail_next = false;
  EXPECT_EQ(f(1), 2);
  EXPECT_EQ(f.observer().events, (strings{"miss f flaky:1", "load_error f flaky:1",
                                          "miss f flaky:1", "load f flaky:1"}));
}

TEST_F(observer_test, evictions_are_reported_once_each) {
  cachet::cached<&square, cachet::capacity<2>, cachet::name<"sq">, cachet::observer<recorder>> sq{
      backend};
  for (int i = 0; i < 5; ++i) sq(i);
  int evictions = 0;
  for (const std::string& e : sq.observer().events) evictions += e == "eviction sq ";
  EXPECT_EQ(evictions, 3);
  EXPECT_EQ(sq.stats().evictions, 3u);
}

TEST_F(observer_test, invalidations_through_the_object_are_reported) {
  cachet::cached<&square, cachet::tags<"squares">, cachet::name<"sq">, cachet::observer<recorder>>
      sq{backend};
  sq(1);
  sq.invalidate(1);
  sq.invalidate_tag("squares");
  sq.clear();
  EXPECT_EQ(sq.observer().events,
            (strings{"miss sq square:1", "load sq square:1", "invalidation sq square:1",
                     "invalidation sq squares", "invalidation sq "}));
}

TEST_F(observer_test, a_stale_answer_after_a_failure_is_reported_and_is_not_a_hit) {
  cachet::cached<&flaky, cachet::ttl<10>, cachet::fail_safe<60>, cachet::name<"f">,
                 cachet::observer<recorder>>
      f{backend};
  EXPECT_EQ(f(1), 2);
  clock.advance(20s);
  fail_next = true;
  EXPECT_EQ(f(1), 2);
  EXPECT_EQ(f.observer().events, (strings{"miss f flaky:1", "load f flaky:1", "miss f flaky:1",
                                          "load_error f flaky:1", "stale_served f flaky:1"}));
  EXPECT_EQ(f.stats().stale_served, 1u);
}

TEST_F(observer_test, a_rate_limited_call_is_reported_and_counted_in_no_other_event) {
  cachet::cached<&square, cachet::rate_limit<1, cachet::per<60>>, cachet::name<"sq">,
                 cachet::observer<recorder>>
      sq{backend, cachet::options{.clock = &clock}};
  sq(5);
  EXPECT_THROW(sq(5), cachet::rate_limited);
  EXPECT_EQ(sq.observer().events,
            (strings{"miss sq square:5", "load sq square:5", "rate_limited sq square:5"}));
}

TEST_F(observer_test, a_call_refused_by_an_open_breaker_is_reported) {
  cachet::cached<&flaky, cachet::circuit_breaker<1, cachet::cooldown<30>>, cachet::name<"f">,
                 cachet::observer<recorder>>
      f{backend, cachet::options{.clock = &clock}};
  fail_next = true;
  EXPECT_THROW(f(1), std::runtime_error);
  EXPECT_THROW(f(1), cachet::circuit_open);
  EXPECT_EQ(f.observer().events, (strings{"miss f flaky:1", "load_error f flaky:1",
                                          "miss f flaky:1", "circuit_open f flaky:1"}));
}

struct hits_only {
  std::atomic<int> hits{0};
  void on_hit(const cachet::event&) { ++hits; }
};

TEST_F(observer_test, only_declared_members_are_called) {
  cachet::cached<&square, cachet::observer<hits_only>> sq{backend};
  sq(2);
  sq(2);
  sq(2);
  EXPECT_EQ(sq.observer().hits.load(), 2);
}

TEST_F(observer_test, the_name_is_the_key_template_else_the_function_name) {
  cachet::cached<&square, cachet::key<"sq:{}">> with_key{backend};
  cachet::cached<&square> without{backend};
  cachet::cached<&square, cachet::key<"other:{}">, cachet::name<"squares">> named{backend};
  auto lambda = cachet::make_cached([](int x) { return x; }, backend);
  EXPECT_EQ(with_key.name(), "sq:{}");
  EXPECT_NE(without.name().find("square"), std::string_view::npos);
  EXPECT_EQ(named.name(), "squares");
  EXPECT_EQ(lambda.name(), "anonymous");
}

std::string consume(std::string&& s) {
  std::string taken = std::move(s);
  return taken + "!";
}

TEST_F(observer_test, the_key_of_a_load_is_rendered_before_the_function_moves_its_argument) {
  cachet::cached<&consume, cachet::name<"consume">, cachet::observer<recorder>> c{backend};
  EXPECT_EQ(c(std::string("abc")), "abc!");
  const std::string key = c.key("abc");
  EXPECT_EQ(c.observer().events, (strings{"miss consume " + key, "load consume " + key}));
}

// Writes to a log of the test's: it has no default constructor, so it is given to the
// constructor.
struct logging_observer {
  explicit logging_observer(std::vector<std::string>& to) : log(&to) {}
  void on_miss(const cachet::event& e) { log->push_back("miss " + std::string(e.key)); }
  std::vector<std::string>* log;
  int generation = 0;
};

TEST_F(observer_test, an_observer_given_to_the_constructor_is_the_one_called) {
  std::vector<std::string> log;
  logging_observer given{log};
  given.generation = 1;
  cachet::cached<&square, cachet::name<"given">, cachet::observer<logging_observer>> sq{
      cachet::options{}, given};
  given.generation = 2;  // an lvalue is copied in
  cachet::cached<&flaky, cachet::name<"given_on_backend">, cachet::observer<logging_observer>> f{
      backend, cachet::options{}, logging_observer{log}};
  EXPECT_EQ(sq(3), 9);
  EXPECT_EQ(f(4), 5);
  EXPECT_EQ(log, (strings{"miss " + sq.key(3), "miss " + f.key(4)}));
  EXPECT_EQ(sq.observer().generation, 1);
  EXPECT_EQ(sq.observer().log, &log);
}

// async() and async_many() report what a blocking call with the same outcome reports.

namespace asio = boost::asio;

// Runs `body` as a coroutine on a fresh io_context until it is done, and rethrows what it threw.
template <class Body>
void run_coroutine(Body body) {
  asio::io_context io;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

using cachet_test::report_of;
using cachet_test::timed_loads;

// This program has no unit that includes <cachet/prometheus.hpp>, so nothing in it could read a
// load's duration unless its observer asks for it: a load without such an observer is not timed.
TEST_F(observer_test, loads_are_timed_only_where_something_reads_their_duration) {
  cachet::cached<&square, cachet::ttl<60>, cachet::key<"untimed:{}">> plain{backend};
  cachet::cached<&square, cachet::ttl<60>, cachet::key<"timed:{}">, cachet::observer<recorder>>
      observed{backend};
  EXPECT_EQ(plain(3), 9);
  EXPECT_EQ(observed(3), 9);
  EXPECT_FALSE(cachet::detail::load_durations_wanted.load());
  EXPECT_EQ(report_of("untimed:{}").stats.loads, 1u);
  EXPECT_EQ(timed_loads(report_of("untimed:{}")), 0u);
  EXPECT_EQ(timed_loads(report_of("timed:{}")), 1u);
}

TEST_F(observer_test, async_reports_a_miss_its_timed_load_and_a_hit) {
  cachet::cached<&square, cachet::ttl<60>, cachet::key<"asq:{}">, cachet::observer<recorder>> sq{
      backend};
  run_coroutine([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await sq.async(3), 9);
    EXPECT_EQ(co_await sq.async(3), 9);
    EXPECT_EQ(co_await sq.async(4), 16);
  });
  EXPECT_EQ(sq.observer().events,
            (strings{"miss asq:{} asq:3", "load asq:{} asq:3", "hit asq:{} asq:3",
                     "miss asq:{} asq:4", "load asq:{} asq:4"}));
  EXPECT_EQ(timed_loads(report_of("asq:{}")), 2u);
}

TEST_F(observer_test, async_reports_a_failed_load_and_then_a_stale_answer) {
  cachet::cached<&flaky, cachet::ttl<10>, cachet::fail_safe<60>, cachet::name<"async_f">,
                 cachet::observer<recorder>>
      f{backend};
  run_coroutine([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await f.async(1), 2);
    clock.advance(20s);
    fail_next = true;
    EXPECT_EQ(co_await f.async(1), 2);
  });
  EXPECT_EQ(f.observer().events,
            (strings{"miss async_f flaky:1", "load async_f flaky:1", "miss async_f flaky:1",
                     "load_error async_f flaky:1", "stale_served async_f flaky:1"}));
  EXPECT_EQ(timed_loads(report_of("async_f")), 1u);  // the histogram counts loads that returned
}

TEST_F(observer_test, async_reports_a_rate_limited_call_and_counts_it) {
  cachet::cached<&square, cachet::rate_limit<1, cachet::per<60>>, cachet::name<"async_rl">,
                 cachet::observer<recorder>>
      sq{backend, cachet::options{.clock = &clock}};
  run_coroutine([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await sq.async(5), 25);
    bool limited = false;
    try {
      co_await sq.async(5);
    } catch (const cachet::rate_limited&) {
      limited = true;
    }
    EXPECT_TRUE(limited);
  });
  EXPECT_EQ(sq.observer().events, (strings{"miss async_rl square:5", "load async_rl square:5",
                                           "rate_limited async_rl square:5"}));
  EXPECT_EQ(report_of("async_rl").rate_limited, 1u);
}

TEST_F(observer_test, async_reports_a_call_refused_by_an_open_breaker_and_counts_it) {
  cachet::cached<&flaky, cachet::circuit_breaker<1, cachet::cooldown<30>>, cachet::name<"async_cb">,
                 cachet::observer<recorder>>
      f{backend, cachet::options{.clock = &clock}};
  fail_next = true;
  run_coroutine([&]() -> asio::awaitable<void> {
    std::vector<std::string> thrown;
    for (int i = 0; i < 2; ++i) {
      try {
        co_await f.async(1);
      } catch (const cachet::circuit_open&) {
        thrown.push_back("circuit_open");
      } catch (const std::runtime_error&) {
        thrown.push_back("runtime_error");
      }
    }
    EXPECT_EQ(thrown, (strings{"runtime_error", "circuit_open"}));
  });
  EXPECT_EQ(f.observer().events,
            (strings{"miss async_cb flaky:1", "load_error async_cb flaky:1",
                     "miss async_cb flaky:1", "circuit_open async_cb flaky:1"}));
  EXPECT_EQ(report_of("async_cb").circuit_open, 1u);
}

// A coroutine function whose load suspends on a timer of its executor.
asio::awaitable<int> slow_square(int x) {
  asio::steady_timer timer(co_await asio::this_coro::executor, 20ms);
  co_await timer.async_wait(asio::use_awaitable);
  co_return x* x;
}

TEST_F(observer_test, a_suspending_loads_duration_covers_its_suspension) {
  cachet::cached<&slow_square, cachet::ttl<60>, cachet::name<"async_slow">,
                 cachet::observer<recorder>>
      s{backend};
  run_coroutine([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await s.async(2), 4);
    EXPECT_EQ(co_await s.async(2), 4);
  });
  const std::string key = s.key(2);
  EXPECT_EQ(s.observer().events,
            (strings{"miss async_slow " + key, "load async_slow " + key, "hit async_slow " + key}));
  ASSERT_EQ(s.observer().loads.size(), 1u);
  EXPECT_GE(s.observer().loads[0].duration, 20ms);
  const cachet::detail::cache_report r = report_of("async_slow");
  EXPECT_EQ(timed_loads(r), 1u);
  EXPECT_GE(r.load_durations.sum_seconds, 0.020);
}

TEST_F(observer_test, async_many_reports_each_argument_as_a_call) {
  cachet::cached<&square, cachet::ttl<60>, cachet::name<"many">, cachet::observer<recorder>> sq{
      backend};
  EXPECT_EQ(sq(2), 4);
  const std::vector<int> xs{1, 2};
  run_coroutine([&]() -> asio::awaitable<void> {
    const std::vector<int> squares = co_await sq.async_many(xs);
    const std::vector<int> expected{1, 4};
    EXPECT_EQ(squares, expected);
  });
  EXPECT_EQ(sq.observer().events,
            (strings{"miss many square:2", "load many square:2", "miss many square:1",
                     "load many square:1", "hit many square:2"}));
  EXPECT_EQ(timed_loads(report_of("many")), 2u);
}

TEST_F(observer_test, async_many_reports_stale_answers_and_refusals_of_each_argument) {
  cachet::cached<&flaky, cachet::ttl<10>, cachet::fail_safe<60>, cachet::name<"many_fs">,
                 cachet::observer<recorder>>
      f{backend};
  cachet::cached<&square, cachet::rate_limit<1, cachet::per<60>>, cachet::name<"many_rl">,
                 cachet::observer<recorder>>
      sq{backend, cachet::options{.clock = &clock}};
  const std::vector<int> ones{1};
  const std::vector<int> sevens{7, 7};
  run_coroutine([&]() -> asio::awaitable<void> {
    const std::vector<int> fresh = co_await f.async_many(ones);
    clock.advance(20s);
    fail_next = true;
    const std::vector<int> stale = co_await f.async_many(ones);
    EXPECT_EQ(fresh, stale);
    EXPECT_EQ(stale.size(), 1u);
    EXPECT_EQ(stale.at(0), 2);
    bool limited = false;
    try {
      co_await sq.async_many(sevens);
    } catch (const cachet::rate_limited&) {
      limited = true;
    }
    EXPECT_TRUE(limited);
  });
  EXPECT_EQ(f.observer().events,
            (strings{"miss many_fs flaky:1", "load many_fs flaky:1", "miss many_fs flaky:1",
                     "load_error many_fs flaky:1", "stale_served many_fs flaky:1"}));
  EXPECT_EQ(sq.observer().events, (strings{"miss many_rl square:7", "load many_rl square:7",
                                           "rate_limited many_rl square:7"}));
  EXPECT_EQ(report_of("many_rl").rate_limited, 1u);
}

TEST(memory_health, is_always_ready) {
  cachet::memory backend;
  const cachet::health h = backend.health();
  EXPECT_TRUE(h.ready());
  EXPECT_TRUE(h.connected);
  EXPECT_TRUE(h.last_error.empty());
}

}  // namespace
