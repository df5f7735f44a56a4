// A function that is itself a coroutine, cached through cached<> on the Redis backend: its T is
// stored, and both the blocking call and async() await it, with circuit_breaker, retry and
// fail_safe around it. Time is a cachet::manual_clock wherever a count or a duration is asserted.
#include <cachet/circuit_breaker.hpp>
#include <cachet/fail_safe.hpp>
#include <cachet/redis.hpp>
#include <cachet/retry.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/quote_service.hpp"
#include "support/redis_server.hpp"

namespace app {

int loads = 0;

boost::asio::awaitable<std::string> fetch_profile(int id) {
  ++loads;
  co_return "profile-" + std::to_string(id);
}

std::string name_of(long id) { return "name-" + std::to_string(id); }

// The cache of countdown() itself, set by the tests.
std::function<boost::asio::awaitable<int>(int)> countdown_cache;

// Awaits its own cache: with n - 1 down to 0, and past 100 with n itself, which is recursion.
boost::asio::awaitable<int> countdown(int n) {
  if (n > 100) co_return co_await countdown_cache(n);
  if (n == 0) co_return 0;
  co_return 1 + co_await countdown_cache(n - 1);
}

int slow_loads = 0;

boost::asio::awaitable<std::string> slow_profile(int id) {
  ++slow_loads;
  co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
  co_return "slow-" + std::to_string(id);
}

}  // namespace app

namespace {

using namespace std::chrono_literals;

std::unique_ptr<cachet::redis> make_backend() {
  auto cfg = cachet::redis::config::from_url(cachet_test::shared_redis_url());
  cfg.request_timeout = 2000ms;
  const std::string prefix = "cachet-test-" + std::to_string(::getpid()) + "-coroutine-function";
  return std::make_unique<cachet::redis>(cfg, cachet::redis_options{.key_prefix = prefix});
}

TEST(RedisCoroutineFunction, ItsResultIsCachedForBlockingAndAsyncCalls) {
  auto backend = make_backend();
  cachet::cached<&app::fetch_profile, cachet::key<"profile:{}">, cachet::ttl<60>,
                 cachet::backend<cachet::redis>>
      profile{*backend};
  static_assert(std::is_same_v<decltype(profile(1)), std::string>);

  app::loads = 0;
  EXPECT_EQ(profile(7), "profile-7");
  EXPECT_EQ(profile(7), "profile-7");
  EXPECT_EQ(app::loads, 1);

  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<std::string> { co_return co_await profile.async(7); },
      boost::asio::use_future);
  io.run();
  EXPECT_EQ(result.get(), "profile-7");
  EXPECT_EQ(app::loads, 1);
  EXPECT_EQ(profile.peek(7), std::optional<std::string>("profile-7"));
  const cachet::stats s = profile.stats();
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.hits, 2u);
}

bool is_recursion(const cachet::error& e) {
  return std::string(e.what()).starts_with(
      "cachet::cached: the function called its own cache with the same arguments");
}

// As for a plain function, in the blocking call (whose coroutine runs on a private io_context)
// and in async() (whose load runs on an awaitable thread of its own).
TEST(RedisCoroutineFunction, AwaitingItsOwnCacheWithTheSameArgumentsIsAnError) {
  auto backend = make_backend();
  cachet::cached<&app::countdown, cachet::key<"countdown:{}">, cachet::backend<cachet::redis>>
      countdown{*backend};
  app::countdown_cache = [&](int n) { return countdown.async(n); };

  EXPECT_EQ(countdown(3), 3);  // other arguments: no recursion
  EXPECT_EQ(cachet_test::await(countdown.async(5)), 5);
  try {
    countdown(101);
    ADD_FAILURE() << "no error";
  } catch (const cachet::error& e) {
    EXPECT_TRUE(is_recursion(e)) << e.what();
  }
  try {
    cachet_test::await(countdown.async(102));
    ADD_FAILURE() << "no error";
  } catch (const cachet::error& e) {
    EXPECT_TRUE(is_recursion(e)) << e.what();
  }
  EXPECT_EQ(countdown.stats().load_errors, 2u);
  EXPECT_EQ(countdown.peek(101), std::nullopt);
  app::countdown_cache = nullptr;
}

// Two coroutines asking for one key at once: the second waits for the first's computation,
// which is no recursion.
TEST(RedisCoroutineFunction, ConcurrentAsyncCallsShareOneComputation) {
  auto backend = make_backend();
  cachet::cached<&app::slow_profile, cachet::key<"slow:{}">, cachet::backend<cachet::redis>>
      profile{*backend};
  app::slow_loads = 0;
  boost::asio::io_context io;
  std::vector<std::string> answers;
  auto ask = [&]() -> boost::asio::awaitable<void> {
    answers.push_back(co_await profile.async(9));
  };
  boost::asio::co_spawn(io, ask(), boost::asio::detached);
  boost::asio::co_spawn(io, ask(), boost::asio::detached);
  io.run();
  EXPECT_EQ(answers, (std::vector<std::string>{"slow-9", "slow-9"}));
  EXPECT_EQ(app::slow_loads, 1);
  EXPECT_EQ(profile.stats().loads, 1u);
}

TEST(RedisAsyncMany, TakesAnyRangeOfConvertibleArguments) {
  auto backend = make_backend();
  cachet::cached<&app::name_of, cachet::key<"name:{}">, cachet::backend<cachet::redis>> names{
      *backend};
  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<std::vector<std::string>> {
        // g++ 12 rejects a braced list inside a co_await expression ("array used as
        // initializer"), so the range is named first.
        const std::vector ids{1, 2, 3};  // ints for a long parameter
        co_return co_await names.async_many(ids);
      },
      boost::asio::use_future);
  io.run();
  EXPECT_EQ(result.get(), (std::vector<std::string>{"name-1", "name-2", "name-3"}));
  EXPECT_EQ(names(2), "name-2");
  EXPECT_EQ(names.stats().loads, 3u);
}

namespace asio = boost::asio;
using cachet_test::await;

using cachet_test::outage;

// Transient for the retry_if predicate below only: it does not derive from cachet::transient.
struct busy : std::runtime_error {
  busy() : std::runtime_error("quote service busy") {}
};

bool is_busy(const std::exception& e) { return dynamic_cast<const busy*>(&e) != nullptr; }

// A quote service whose calls are coroutines that suspend before they answer, so that their
// failures come from the awaited body, not from the call.
struct coroutine_quote_service {
  int generation = 1;
  bool down = false;
  int busy_answers = 0;              // awaited runs left that fail with busy
  int calls = 0;                     // awaitables made
  int runs = 0;                      // awaitables run
  std::function<void()> on_run;      // called as each awaitable starts to run
  std::function<void()> on_failure;  // called as each failure is thrown

  asio::awaitable<std::string> quote(std::string symbol) {
    ++calls;
    return answer(std::move(symbol));
  }

 private:
  asio::awaitable<std::string> answer(std::string symbol) {
    ++runs;
    if (on_run) on_run();
    auto executor = co_await asio::this_coro::executor;
    co_await asio::post(executor, asio::use_awaitable);
    if (busy_answers > 0 || down) {
      if (on_failure) on_failure();
      if (busy_answers > 0) {
        --busy_answers;
        throw busy();
      }
      throw outage();
    }
    co_return symbol + "@" + std::to_string(generation);
  }
};

class redis_coroutine_function_stages : public ::testing::Test {
 protected:
  template <class... Policies>
  auto make() {
    return cachet::make_cached<cachet::key<"cquote:{}">, cachet::backend<cachet::redis>,
                               Policies...>(
        [this](std::string symbol) { return service.quote(std::move(symbol)); }, *backend,
        cachet::options{.clock = &clock});
  }

  // Backoffs are recorded, not waited for.
  template <class... Policies>
  auto make_recording() {
    return cachet::make_cached<cachet::key<"cquote:{}">, cachet::backend<cachet::redis>,
                               Policies...>(
        [this](std::string symbol) { return service.quote(std::move(symbol)); }, *backend,
        cachet::options{.clock = &clock, .retry_sleep = [this](std::chrono::nanoseconds d) {
                          delays.push_back(d);
                        }});
  }

  cachet::manual_clock clock;
  std::unique_ptr<cachet::redis> backend = std::make_unique<cachet::redis>(
      cachet_test::degraded_config(cachet_test::shared_redis_url(), 2000ms),
      cachet::redis_options{.key_prefix = cachet_test::test_prefix()});
  coroutine_quote_service service;
  std::vector<std::chrono::nanoseconds> delays;
};

TEST_F(redis_coroutine_function_stages, the_breaker_opens_on_its_failures_then_fails_fast) {
  auto quote = make<cachet::ttl<300>, cachet::circuit_breaker<3, cachet::cooldown<60>>>();
  service.down = true;
  EXPECT_THROW(await(quote.async("ACME")), outage);
  EXPECT_THROW(quote("ACME"), outage);  // the blocking call counts toward the same breaker
  EXPECT_THROW(await(quote.async("INIT")), outage);
  EXPECT_EQ(service.calls, 3);
  EXPECT_THROW(await(quote.async("ACME")), cachet::circuit_open);
  EXPECT_THROW(quote("INIT"), cachet::circuit_open);
  EXPECT_EQ(service.calls, 3);  // open: the function is not called
  EXPECT_EQ(service.runs, 3);
}

TEST_F(redis_coroutine_function_stages, after_the_cooldown_a_probe_closes_or_reopens_it) {
  auto quote = make<cachet::ttl<300>, cachet::circuit_breaker<2, cachet::cooldown<60>>>();
  service.down = true;
  EXPECT_THROW(await(quote.async("ACME")), outage);
  EXPECT_THROW(await(quote.async("ACME")), outage);
  clock.advance(59s);
  EXPECT_THROW(await(quote.async("ACME")), cachet::circuit_open);
  EXPECT_EQ(service.calls, 2);
  clock.advance(1s);
  EXPECT_THROW(await(quote.async("ACME")), outage);  // the probe fails: open again
  EXPECT_EQ(service.calls, 3);
  EXPECT_THROW(quote("ACME"), cachet::circuit_open);
  EXPECT_EQ(service.calls, 3);
  clock.advance(60s);
  service.down = false;
  EXPECT_EQ(quote("ACME"), "ACME@1");  // a blocking probe closes it
  EXPECT_EQ(await(quote.async("INIT")), "INIT@1");
  EXPECT_EQ(service.calls, 5);
}

TEST_F(redis_coroutine_function_stages, retry_awaits_a_new_call_per_attempt_in_async_calls) {
  auto quote = make_recording<cachet::ttl<300>, cachet::retry<3, cachet::retry_if<&is_busy>>>();
  service.busy_answers = 2;
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  EXPECT_EQ(service.calls, 3);
  EXPECT_EQ(service.runs, 3);
  EXPECT_EQ(delays.size(), 2u);
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");  // stored: a hit
  EXPECT_EQ(service.calls, 3);
}

TEST_F(redis_coroutine_function_stages, retry_awaits_a_new_call_per_attempt_in_blocking_calls) {
  auto quote = make_recording<cachet::retry<3, cachet::retry_if<&is_busy>>>();
  service.busy_answers = 3;
  EXPECT_EQ(quote("ACME"), "ACME@1");
  EXPECT_EQ(service.calls, 4);
  EXPECT_EQ(service.runs, 4);
  EXPECT_EQ(delays.size(), 3u);
}

TEST_F(redis_coroutine_function_stages, retry_gives_up_after_its_retries_with_the_last_failure) {
  auto quote = make_recording<cachet::retry<2, cachet::retry_if<&is_busy>>>();
  service.busy_answers = 10;
  EXPECT_THROW(await(quote.async("ACME")), busy);
  EXPECT_EQ(service.calls, 3);
  EXPECT_THROW(quote("ACME"), busy);
  EXPECT_EQ(service.calls, 6);
  EXPECT_EQ(delays.size(), 4u);
}

TEST_F(redis_coroutine_function_stages, retry_leaves_failures_the_predicate_rejects_alone) {
  auto quote = make_recording<cachet::retry<3, cachet::retry_if<&is_busy>>>();
  service.down = true;
  EXPECT_THROW(await(quote.async("ACME")), outage);
  EXPECT_EQ(service.calls, 1);
  EXPECT_THROW(quote("ACME"), outage);
  EXPECT_EQ(service.calls, 2);
  EXPECT_TRUE(delays.empty());
}

TEST_F(redis_coroutine_function_stages, the_blocking_retry_waits_its_backoff_on_a_timer) {
  auto quote = make<cachet::retry<2, cachet::retry_if<&is_busy>, cachet::backoff<1, 1>>>();
  service.busy_answers = 2;
  EXPECT_EQ(quote("ACME"), "ACME@1");
  EXPECT_EQ(service.calls, 3);
}

// With one thread, work posted as the first attempt fails (after its own suspension) can only
// run before the second attempt starts if the backoff gave the thread back to the executor.
TEST_F(redis_coroutine_function_stages, the_backoff_leaves_the_executors_thread_free) {
  auto quote = make<cachet::retry<1, cachet::retry_if<&is_busy>, cachet::backoff<1, 1>>>();
  asio::io_context io;
  bool posted_ran = false;
  std::vector<bool> posted_ran_at_run;
  service.busy_answers = 1;
  service.on_run = [&] { posted_ran_at_run.push_back(posted_ran); };
  service.on_failure = [&] { asio::post(io, [&] { posted_ran = true; }); };
  EXPECT_EQ(cachet_test::await(io, quote.async("ACME")), "ACME@1");
  EXPECT_EQ(posted_ran_at_run, (std::vector<bool>{false, true}));
  EXPECT_EQ(service.calls, 2);
}

TEST_F(redis_coroutine_function_stages, fail_safe_serves_the_stale_value_when_retries_run_out) {
  auto quote = make_recording<cachet::ttl<30>, cachet::fail_safe<3600>,
                              cachet::retry<2, cachet::retry_if<&is_busy>>,
                              cachet::circuit_breaker<2, cachet::cooldown<600>>>();
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  clock.advance(31s);
  service.generation = 2;  // a call that got through would show it
  service.busy_answers = 100;
  // Two attempts open the circuit; the third meets circuit_open, which is never retried.
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  EXPECT_EQ(service.calls, 3);
  EXPECT_EQ(quote("ACME"), "ACME@1");  // open: stale at once
  EXPECT_EQ(await(quote.async("ACME")), "ACME@1");
  EXPECT_EQ(service.calls, 3);
  EXPECT_EQ(delays.size(), 2u);
  EXPECT_EQ(quote.stats().stale_served, 3u);
  EXPECT_THROW(await(quote.async("INIT")), cachet::circuit_open);  // nothing stored for it
}

}  // namespace
