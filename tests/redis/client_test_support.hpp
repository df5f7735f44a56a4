#ifndef CACHET_TESTS_REDIS_CLIENT_TEST_SUPPORT_HPP
#define CACHET_TESTS_REDIS_CLIENT_TEST_SUPPORT_HPP

// Shared helpers of the redis client tests: run a test coroutine on an io_context, the error a
// request fails with, wait on a condition (bounded by real time), unique key names.

#include <cachet/redis/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

/// ASSERT_* for coroutines (gtest's ASSERT_* uses `return`): fails and ends the coroutine.
#define CACHET_CO_ASSERT(condition)                     \
  do {                                                  \
    if (!(condition)) {                                 \
      ADD_FAILURE() << "assertion failed: " #condition; \
      co_return;                                        \
    }                                                   \
  } while (false)

namespace cachet_test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// How long a test waits for a condition (wait_for_condition): real time far beyond the
/// operations' own timeouts (fast_config's are 5 s at most), so that on a loaded machine only a
/// condition that never comes ends a wait.
inline constexpr std::chrono::seconds condition_limit{60};

/// Runs `body(executor)` to completion on a fresh io_context. Fails the test if it throws, if it
/// has not finished within `limit`, or if the io_context still has work once it finished (a
/// client left a coroutine behind after close()/destruction). The limit is well beyond
/// condition_limit, so that a wait that times out fails the test with its own message.
inline void run_async(const std::function<asio::awaitable<void>(asio::any_io_executor)>& body,
                      std::chrono::seconds limit = 2 * condition_limit) {
  asio::io_context io;
  bool finished = false;
  std::exception_ptr failure;
  asio::co_spawn(io, body(io.get_executor()), [&](std::exception_ptr e) {
    finished = true;
    failure = e;
  });
  io.run_for(limit);
  ASSERT_TRUE(finished) << "the test coroutine did not finish within " << limit.count() << " s";
  EXPECT_TRUE(io.stopped()) << "work was left on the io_context after the test coroutine ended";
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      FAIL() << "test coroutine threw: " << e.what();
    }
  }
}

/// Awaits `op` and returns the request_error code it throws (fails the test if it does not); with
/// `what`, also the error's text.
template <class T>
asio::awaitable<std::error_code> error_of(asio::awaitable<T> op, std::string* what = nullptr) {
  try {
    co_await std::move(op);
  } catch (const cachet::resp3::request_error& e) {
    if (what) *what = e.what();
    co_return e.code();
  }
  ADD_FAILURE() << "expected a request_error";
  co_return std::error_code{};
}

/// Suspends the calling coroutine (a polling interval, never a synchronisation device).
inline asio::awaitable<void> pause_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

/// Bounded polling of a condition, by real time: awaits until `condition()` holds, checking it
/// every `interval`; whether it held within `limit` (std::chrono::steady_clock). `condition`
/// returns bool or asio::awaitable<bool> (a check that asks a server). When it returns false the
/// caller fails the test, naming what never happened.
template <class Condition>
asio::awaitable<bool> wait_for_condition(
    Condition condition, std::chrono::steady_clock::duration limit = condition_limit,
    std::chrono::milliseconds interval = 5ms) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  for (;;) {
    bool held = false;
    if constexpr (std::is_same_v<std::invoke_result_t<Condition&>, asio::awaitable<bool>>)
      held = co_await condition();
    else
      held = static_cast<bool>(condition());
    if (held) co_return true;
    if (std::chrono::steady_clock::now() >= give_up) co_return false;
    co_await pause_for(interval);
  }
}

/// The integer after "<field>:" in an INFO reply.
inline long long info_field(const std::string& info, const std::string& field) {
  auto at = info.find(field + ":");
  if (at == std::string::npos) throw std::runtime_error("INFO has no field " + field);
  return std::stoll(info.substr(at + field.size() + 1));
}

/// Waits (wait_for_condition) until the server reports exactly `n` clients blocked in a blocking
/// command such as BLPOP; throws (failing run_async's test) if it never does.
inline asio::awaitable<void> wait_blocked_clients(cachet::resp3::client& admin, long long n) {
  const bool reached = co_await wait_for_condition([&]() -> asio::awaitable<bool> {
    auto info = co_await admin.exec("INFO", "clients");
    co_return info_field(info.as_string(), "blocked_clients") == n;
  });
  if (!reached) {
    throw std::runtime_error("blocked_clients never reached " + std::to_string(n) + " within " +
                             std::to_string(condition_limit.count()) + " s");
  }
}

/// A key name unique to this process and test.
inline std::string unique_key(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "cachet:test:" + std::to_string(::getpid()) + ":" +
         (info ? std::string(info->name()) : std::string("none")) + ":" + name;
}

/// Short limits so failures surface fast.
inline cachet::resp3::config fast_config(const std::string& url) {
  auto cfg = cachet::resp3::config::from_url(url);
  cfg.resolve_timeout = 1s;
  cfg.connect_timeout = 1s;
  cfg.handshake_timeout = 1s;
  cfg.request_timeout = 5s;
  cfg.health_check_interval = 0ms;
  cfg.reconnect_min_delay = 5ms;
  cfg.reconnect_max_delay = 100ms;
  return cfg;
}

}  // namespace cachet_test

#endif
