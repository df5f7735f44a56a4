// Degraded blocking calls (the backend's breaker open, Redis skipped) against a real
// redis-server that the tests pause to open the breaker, with a manual clock that keeps it open:
// single flight still holds while Redis is down (the computing caller enters only a claim, which
// becomes a flight when a second caller joins it), and a degraded call sends Redis nothing.

#include <cachet/cached.hpp>
#include <cachet/clock.hpp>
#include <cachet/error.hpp>
#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../support/redis_server.hpp"
#include "degraded_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using cachet::circuit_state;
using cachet_test::make_degradable_backend;
using cachet_test::private_redis_server;
using cachet_test::raw_command;
using cachet_test::wait_until;

constexpr auto deadline = 400ms;  // config::request_timeout of the backends below
constexpr auto cooldown = 10s;    // on a manual clock that the tests never move: stays open

// A backend of a private server whose breaker is open (one call timed out on the paused
// server), and the server running again: whatever reaches it afterwards can be counted there.
struct open_breaker {
  private_redis_server server;
  cachet::manual_clock clock;
  std::unique_ptr<cachet::redis> backend = make_degradable_backend(
      server.url(), deadline, {.consecutive_failures = 1, .cooldown = cooldown, .clock = &clock});

  template <class Cached>
  void open_with(Cached& c) {
    server.pause();
    (void)c(-1);
    server.resume();
    ASSERT_EQ(backend->backend_state(), circuit_state::open);
  }
};

constexpr int callers = 8;

TEST(RedisDegradedConcurrency, CallersOfOneKeyShareOneComputationWhileTheBreakerIsOpen) {
  open_breaker rig;
  std::atomic<int> computed{0};
  std::unique_ptr<cachet::cached_function<std::function<int(int)>, cachet::key<"sf:{}">,
                                          cachet::tags<"sf">, cachet::backend<cachet::redis>>>
      f;
  f = std::make_unique<std::remove_reference_t<decltype(*f)>>(
      std::function<int(int)>([&](int x) {
        if (x < 0) return x;
        ++computed;
        // Every caller has entered the table (misses are counted there, under its lock) before
        // the computation ends, so each either leads it or joins it.
        EXPECT_TRUE(wait_until([&] { return f->stats().misses == 1u + callers; }, 10s));
        return x * 100;
      }),
      *rig.backend);
  rig.open_with(*f);
  const cachet::stats before = f->stats();

  std::vector<int> got(callers, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i) threads.emplace_back([&, i] { got[i] = (*f)(7); });
  for (auto& t : threads) t.join();

  for (int v : got) EXPECT_EQ(v, 700);
  EXPECT_EQ(computed.load(), 1);
  const cachet::stats after = f->stats();
  EXPECT_EQ(after.misses - before.misses, static_cast<std::uint64_t>(callers));
  EXPECT_EQ(after.loads - before.loads, 1u);
  EXPECT_EQ(after.backend_skipped - before.backend_skipped, static_cast<std::uint64_t>(callers));
  EXPECT_EQ(after.backend_errors, before.backend_errors);
}

TEST(RedisDegradedConcurrency, TheComputingCallersExceptionReachesEveryCallerThatJoined) {
  open_breaker rig;
  std::atomic<int> computed{0};
  std::unique_ptr<cachet::cached_function<std::function<int(int)>, cachet::key<"fails:{}">,
                                          cachet::backend<cachet::redis>>>
      f;
  f = std::make_unique<std::remove_reference_t<decltype(*f)>>(
      std::function<int(int)>([&](int x) -> int {
        if (x < 0) return x;
        ++computed;
        EXPECT_TRUE(wait_until([&] { return f->stats().misses == 1u + callers; }, 10s));
        throw std::runtime_error("origin down too");
      }),
      *rig.backend);
  rig.open_with(*f);
  const cachet::stats before = f->stats();

  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i) {
    threads.emplace_back([&] {
      try {
        (void)(*f)(3);
      } catch (const std::runtime_error& e) {
        if (std::string(e.what()) == "origin down too") ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(failed.load(), callers);
  EXPECT_EQ(computed.load(), 1);
  const cachet::stats after = f->stats();
  EXPECT_EQ(after.load_errors - before.load_errors, 1u);
  EXPECT_EQ(after.loads, before.loads);
}

TEST(RedisDegradedConcurrency, ACallAfterInvalidateDoesNotJoinAnOlderDegradedComputation) {
  open_breaker rig;
  std::atomic<int> started{0};
  std::atomic<bool> second_done{false};
  auto load = [&](int x) {
    if (x < 0) return x;
    if (started.fetch_add(1) == 0) {
      // Lasts until the second call is answered (bounded: a second call that wrongly joined
      // this computation would wait for it, and the test would fail).
      EXPECT_TRUE(wait_until([&] { return second_done.load(); }, 5s));
      return 1;
    }
    return 2;
  };
  auto f = cachet::make_cached<cachet::key<"inv:{}">, cachet::backend<cachet::redis>>(load,
                                                                                      *rig.backend);
  rig.open_with(f);

  int first = 0;
  std::thread older([&] { first = f(5); });
  ASSERT_TRUE(wait_until([&] { return started.load() == 1; }));
  f.invalidate(5);  // reaches Redis (invalidations ignore the breaker) and dooms the claim
  EXPECT_EQ(f(5), 2);
  second_done = true;
  older.join();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(f.stats().loads, 3u);  // the call that opened the breaker, and both computations
}

// The function calling its own cache with the same argument would wait for itself: while
// degraded, as when Redis is up, it gets an error instead of a deadlock.
TEST(RedisDegradedConcurrency, ARecursiveCallWithTheSameKeyFailsInsteadOfWaitingForItself) {
  open_breaker rig;
  std::function<int(int)> body;
  auto f = cachet::make_cached<cachet::key<"rec:{}">, cachet::backend<cachet::redis>>(
      [&](int x) { return body(x); }, *rig.backend);
  body = [&](int x) {
    if (x < 0) return x;
    try {
      return f(x) + 1;
    } catch (const cachet::error&) {
      return -100;
    }
  };
  rig.open_with(f);
  EXPECT_EQ(f(4), -100);
}

// A degraded call sends nothing: the server, running again while the breaker stays open, sees no
// read or write of the backend (its connection's own handshake, whenever it reconnects, may
// still come, so only the commands of cached calls are counted).
TEST(RedisDegradedConcurrency, DegradedCallsSendRedisNothing) {
  open_breaker rig;
  auto f = cachet::make_cached<cachet::key<"quiet:{}">, cachet::tags<"quiet-{}">,
                               cachet::backend<cachet::redis>>([](int x) { return x + 1; },
                                                               *rig.backend);
  rig.open_with(f);
  auto calls_of = [&](const std::string& command) -> std::uint64_t {
    const std::string info = raw_command(rig.server.url(), "INFO", "commandstats").as_string();
    const std::string field = "cmdstat_" + command + ":calls=";
    const auto at = info.find(field);
    return at == std::string::npos ? 0 : std::stoull(info.substr(at + field.size()));
  };
  // The read of the call that opened the breaker reaches the server once it runs again.
  (void)wait_until([&] { return calls_of("evalsha") > 0; }, 2s);
  const std::uint64_t scripts_before = calls_of("evalsha") + calls_of("eval");
  const std::uint64_t mget_before = calls_of("mget");
  const cachet::stats stats_before = f.stats();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(f(i), i + 1);
  EXPECT_EQ(calls_of("evalsha") + calls_of("eval"), scripts_before);
  EXPECT_EQ(calls_of("mget"), mget_before);
  EXPECT_EQ(f.stats().backend_skipped - stats_before.backend_skipped, 100u);
  EXPECT_EQ(f.stats().loads - stats_before.loads, 100u);
  // The count sees an MGET when one is sent.
  (void)raw_command(rig.server.url(), "MGET", "cachet-test-degraded-probe");
  EXPECT_EQ(calls_of("mget"), mget_before + 1);
}

}  // namespace
