// async() and async_many() on the in-memory backend (<cachet/async.hpp>), on one io_context
// thread: hits, misses shared with blocking calls, single flight between coroutines whose load
// suspends, tags, stages, and batches of several-parameter functions.
#include <cachet.hpp>
#include <cachet/async.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Runs `body` as a coroutine on a fresh io_context until everything spawned on it is done, and
// rethrows what it threw.
template <class Body>
void run_coroutine(Body body) {
  asio::io_context io;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

int doubles = 0;
int twice(int x) {
  ++doubles;
  return 2 * x;
}

TEST(async_memory, a_miss_calls_inline_and_a_hit_is_served_from_the_same_store) {
  doubles = 0;
  cachet::memory mem;
  cachet::cached<&twice, cachet::ttl<60>> c{mem};
  run_coroutine([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await c.async(21), 42);
    EXPECT_EQ(co_await c.async(21), 42);
  });
  EXPECT_EQ(doubles, 1);
  EXPECT_EQ(c(21), 42);  // the blocking call finds what the coroutine stored
  EXPECT_EQ(doubles, 1);
  EXPECT_EQ(c.stats().loads, 1u);
}

struct repository {
  int loads = 0;
  int find(int id) {
    ++loads;
    return id * 3;
  }
};

TEST(async_memory, a_member_function_takes_its_object_first) {
  cachet::memory mem;
  cachet::cached<&repository::find> find{mem};
  repository repo;
  run_coroutine([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await find.async(repo, 5), 15);
    EXPECT_EQ(co_await find.async(repo, 5), 15);
  });
  EXPECT_EQ(repo.loads, 1);
}

// A load that suspends until the test opens the gate: the coroutines that ask for its key
// meanwhile must join its flight without blocking the one thread.
struct gate {
  explicit gate(asio::io_context& io) : timer(io, asio::steady_timer::time_point::max()) {}
  asio::awaitable<void> pass() {
    if (is_open) co_return;
    boost::system::error_code cancelled;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, cancelled));
  }
  void open() {
    is_open = true;
    timer.cancel();
  }
  bool is_open = false;
  asio::steady_timer timer;
};

gate* slow_gate = nullptr;
int slow_calls = 0;
bool slow_fails = false;

asio::awaitable<int> slow_tenfold(int x) {
  ++slow_calls;
  co_await slow_gate->pass();
  if (slow_fails) throw std::runtime_error("backend down");
  co_return x * 10;
}

using slow_cached = cachet::cached<&slow_tenfold, cachet::ttl<60>, cachet::tags<"slow">>;

struct single_flight : ::testing::Test {
  void SetUp() override {
    slow_calls = 0;
    slow_fails = false;
    slow_gate = &opened;
  }
  void TearDown() override { slow_gate = nullptr; }

  asio::io_context io;
  gate opened{io};
  cachet::memory mem;
  slow_cached c{mem};
};

TEST_F(single_flight, a_coroutine_joins_a_suspended_flight_without_blocking_the_thread) {
  std::optional<int> first;
  std::optional<int> second;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { first = co_await c.async(4); }, asio::detached);
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { second = co_await c.async(4); }, asio::detached);
  // Runs only if neither coroutine holds the thread: both are suspended by now, one leading the
  // flight inside the function, the other waiting for it.
  bool opener_ran = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        opener_ran = true;
        EXPECT_EQ(slow_calls, 1);
        EXPECT_FALSE(first.has_value());
        EXPECT_FALSE(second.has_value());
        opened.open();
        co_return;
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(opener_ran);
  EXPECT_EQ(first, 40);
  EXPECT_EQ(second, 40);
  EXPECT_EQ(slow_calls, 1);
  EXPECT_EQ(c.peek(4), 40);
}

TEST_F(single_flight, the_leaders_exception_reaches_every_waiter_and_nothing_is_stored) {
  slow_fails = true;
  int failures = 0;
  auto ask = [&]() -> asio::awaitable<void> {
    try {
      co_await c.async(4);
    } catch (const std::runtime_error&) {
      ++failures;
    }
  };
  asio::co_spawn(io, ask, asio::detached);
  asio::co_spawn(io, ask, asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        opened.open();
        co_return;
      },
      asio::detached);
  io.run();
  EXPECT_EQ(failures, 2);
  EXPECT_EQ(slow_calls, 1);
  EXPECT_EQ(c.peek(4), std::nullopt);
}

TEST_F(single_flight, a_tag_invalidated_during_the_load_keeps_its_result_out_of_the_store) {
  std::optional<int> result;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { result = co_await c.async(4); }, asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        c.invalidate_tag("slow");
        opened.open();
        co_return;
      },
      asio::detached);
  io.run();
  EXPECT_EQ(result, 40);               // the caller gets it,
  EXPECT_EQ(c.peek(4), std::nullopt);  // later callers do not
}

TEST_F(single_flight, an_invalidate_during_the_load_keeps_its_result_out_of_the_store) {
  std::optional<int> result;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { result = co_await c.async(4); }, asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        c.invalidate(4);
        opened.open();
        co_return;
      },
      asio::detached);
  io.run();
  EXPECT_EQ(result, 40);
  EXPECT_EQ(c.peek(4), std::nullopt);
}

TEST_F(single_flight, a_finished_flight_is_a_hit_for_the_next_coroutine) {
  opened.open();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        EXPECT_EQ(co_await c.async(1), 10);
        EXPECT_EQ(co_await c.async(1), 10);
      },
      asio::detached);
  io.run();
  EXPECT_EQ(slow_calls, 1);
}

int sums = 0;
int add(int a, int b) {
  ++sums;
  return a + b;
}

TEST(async_memory, async_many_takes_tuples_for_several_parameters_and_computes_misses_once) {
  sums = 0;
  cachet::memory mem;
  cachet::cached<&add, cachet::ttl<60>> c{mem};
  EXPECT_EQ(c(1, 2), 3);
  const std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}, {3, 4}, {5, 6}};
  run_coroutine([&]() -> asio::awaitable<void> {
    const std::vector<int> sums_of = co_await c.async_many(pairs);
    const std::vector<int> expected{3, 7, 7, 11};
    EXPECT_EQ(sums_of, expected);
  });
  EXPECT_EQ(sums, 3);  // (1, 2) was stored by the blocking call; (3, 4) is computed once
}

TEST(async_memory, async_many_of_one_parameter_takes_the_values) {
  doubles = 0;
  cachet::memory mem;
  cachet::cached<&twice> c{mem};
  const std::vector<int> xs{1, 2, 1};
  run_coroutine([&]() -> asio::awaitable<void> {
    const std::vector<int> doubled = co_await c.async_many(xs);
    const std::vector<int> expected{2, 4, 2};
    EXPECT_EQ(doubled, expected);
  });
  EXPECT_EQ(doubles, 2);
}

struct timeout : std::runtime_error, cachet::transient {
  using runtime_error::runtime_error;
};

int flaky_calls = 0;
int flaky_failures_left = 0;
int flaky(int x) {
  ++flaky_calls;
  if (flaky_failures_left > 0) {
    --flaky_failures_left;
    throw timeout("timed out");
  }
  return x + 100;
}

TEST(async_memory, retry_waits_on_a_timer_of_the_coroutines_executor) {
  flaky_calls = 0;
  flaky_failures_left = 2;
  cachet::memory mem;
  cachet::cached<&flaky, cachet::retry<2>> c{mem, cachet::options{.retry_base_delay = 0ms}};
  run_coroutine([&]() -> asio::awaitable<void> { EXPECT_EQ(co_await c.async(1), 101); });
  EXPECT_EQ(flaky_calls, 3);
}

TEST(async_memory, fail_safe_answers_a_failed_call_with_the_stale_value) {
  flaky_calls = 0;
  flaky_failures_left = 0;
  cachet::manual_clock clock;
  cachet::memory mem{clock};
  cachet::cached<&flaky, cachet::ttl<10>, cachet::fail_safe<60>> c{mem};
  run_coroutine([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await c.async(1), 101);
    clock.advance(20s);
    flaky_failures_left = 1;
    EXPECT_EQ(co_await c.async(1), 101);
  });
  EXPECT_EQ(flaky_calls, 2);
  EXPECT_EQ(c.stats().stale_served, 1u);
}

TEST(async_memory, rate_limit_throws_from_the_co_await) {
  doubles = 0;
  cachet::manual_clock clock;
  cachet::memory mem{clock};
  cachet::cached<&twice, cachet::rate_limit<2, cachet::per<60>>> c{mem};
  int limited = 0;
  run_coroutine([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      try {
        co_await c.async(7);
      } catch (const cachet::rate_limited&) {
        ++limited;
      }
    }
  });
  EXPECT_EQ(limited, 1);
  EXPECT_EQ(doubles, 1);
}

}  // namespace
