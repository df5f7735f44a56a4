#ifndef CACHET_TESTS_REDIS_DEGRADED_TEST_SUPPORT_HPP
#define CACHET_TESTS_REDIS_DEGRADED_TEST_SUPPORT_HPP

// Helpers of the Redis backend tests, above all those whose server fails: backends with short
// limits (and an injectable breaker), a raw client of its own to look at the server, and bounded
// waits on conditions (never a sleep standing in for synchronisation).

#include <cachet/redis.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace cachet_test {

using namespace std::chrono_literals;

/// A key prefix of this process, test and run, so that tests sharing a server never meet: some
/// state outlives a test in Redis (a rate limit's keys, for their period of the server's time),
/// and each run of a test, even with --gtest_repeat, must start without it.
inline std::string test_prefix() {
  static int runs = 0;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "cachet-test-" + std::to_string(::getpid()) + "-" + std::to_string(++runs) + "-" +
         info->test_suite_name() + "." + info->name();
}

/// Short connection limits: a dead server is noticed fast, a restarted one found again fast.
inline cachet::redis::config degraded_config(const std::string& url,
                                             std::chrono::milliseconds request_timeout) {
  auto cfg = cachet::redis::config::from_url(url);
  cfg.connect_timeout = 500ms;
  cfg.handshake_timeout = 500ms;
  cfg.request_timeout = request_timeout;
  cfg.health_check_interval = 0ms;
  cfg.reconnect_min_delay = 5ms;
  cfg.reconnect_max_delay = 50ms;
  return cfg;
}

/// Limits for tests that are not about failures: far above what a request or a handshake takes
/// on a loaded machine running a sanitizer build, so that a slow run is not met as an outage
/// (the call answered by the function instead of Redis), which such a test would count as a
/// stale read or an extra load.
inline cachet::redis::config patient_config(const std::string& url) {
  auto cfg = degraded_config(url, 30s);
  cfg.connect_timeout = 10s;
  cfg.handshake_timeout = 10s;
  return cfg;
}

/// A backend of its own for one test, with the short limits above.
inline std::unique_ptr<cachet::redis> make_test_backend(
    const std::string& url, std::chrono::milliseconds request_timeout = 2s,
    const std::string& prefix = test_prefix()) {
  return std::make_unique<cachet::redis>(degraded_config(url, request_timeout),
                                         cachet::redis_options{.key_prefix = prefix});
}

/// A backend of its own for a test that is not about failures, with patient_config's limits.
inline std::unique_ptr<cachet::redis> make_patient_backend(
    const std::string& url, const std::string& prefix = test_prefix()) {
  return std::make_unique<cachet::redis>(patient_config(url),
                                         cachet::redis_options{.key_prefix = prefix});
}

inline std::unique_ptr<cachet::redis> make_degradable_backend(
    const std::string& url, std::chrono::milliseconds request_timeout,
    cachet::redis_options::breaker_options breaker) {
  return std::make_unique<cachet::redis>(
      degraded_config(url, request_timeout),
      cachet::redis_options{.key_prefix = test_prefix(), .breaker = std::move(breaker)});
}

/// One command on a connection of its own, apart from the backend under test (whose breaker
/// and connection state must not be disturbed by the test's own looks).
template <class... Args>
cachet::redis::value raw_command(const std::string& url, std::string_view name,
                                 const Args&... args) {
  boost::asio::io_context io;
  auto cfg = degraded_config(url, 5000ms);
  // A paused server (CLIENT PAUSE) holds the handshake too: wait for it, as for the command.
  cfg.connect_timeout = 5000ms;
  cfg.handshake_timeout = 5000ms;
  cfg.client_name = "cachet-test-raw";
  cachet::redis::client c(io.get_executor(), cfg);
  std::exception_ptr failure;
  std::optional<cachet::redis::value> reply;
  boost::asio::co_spawn(io, c.exec(name, args...),
                        [&](std::exception_ptr e, cachet::redis::value v) {
                          failure = e;
                          if (!e) reply = std::move(v);
                          c.close();
                        });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*reply);
}

/// Polls `done` until it holds or `limit` passes; returns whether it held.
template <class Condition>
bool wait_until(Condition done, std::chrono::steady_clock::duration limit = 20s) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

/// How long `f()` takes.
template <class F>
std::chrono::steady_clock::duration time_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::steady_clock::now() - start;
}

/// Runs one awaitable to completion on `io`, with whatever else is posted there; rethrows what it
/// threw.
template <class T>
T await(boost::asio::io_context& io, boost::asio::awaitable<T> op) {
  std::optional<T> value;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T v) {
    if (e) {
      failure = e;
    } else {
      value = std::move(v);
    }
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*value);
}

/// Runs one awaitable to completion on an io_context of its own; rethrows what it threw.
template <class T>
T await(boost::asio::awaitable<T> op) {
  boost::asio::io_context io;
  return await(io, std::move(op));
}

/// A command through the backend's own connection, for a test's looks at what the backend wrote.
template <class... Args>
cachet::redis::value command(cachet::redis& backend, std::string_view name, const Args&... args) {
  return backend.runtime().run(backend.connection().exec(name, args...));
}

/// How many times the server has run `command_name` (INFO commandstats; 0 before the first).
inline long long command_calls(cachet::redis& backend, const std::string& command_name) {
  const std::string info = command(backend, "INFO", "commandstats").as_string();
  const std::string field = "cmdstat_" + command_name + ":calls=";
  const auto at = info.find(field);
  if (at == std::string::npos) return 0;
  return std::stoll(info.substr(at + field.size()));
}

}  // namespace cachet_test

#endif
