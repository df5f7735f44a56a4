// client::exec awaited from a coroutine on another io_context (another thread) than the client's:
// every completion (a reply, an error reply, a refused command, a cancellation) resumes the
// caller on its own executor and thread, and a cancellation emitted there reaches the request
// on the connection's strand. exec() is an operation of its own, not a co_spawn onto the strand,
// so nothing else checks where it completes. Run under TSan too.

#include <cachet/redis/client.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "redis/client_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

namespace asio = boost::asio;
namespace redis = cachet::resp3;
using namespace std::chrono_literals;

TEST(RedisClientExecutor, CompletionsResumeTheCallerOnItsOwnExecutorAndThread) {
  cachet_test::private_redis_server server;
  asio::io_context client_io;  // the connection's strand runs here, on its own thread
  auto guard = asio::make_work_guard(client_io);
  std::thread client_thread([&] { client_io.run_for(60s); });

  asio::io_context caller_io;  // the awaiting coroutine, on this thread
  const auto caller_thread = std::this_thread::get_id();
  int checked = 0;
  int on_caller = 0;
  auto check = [&] {
    ++checked;
    if (caller_io.get_executor().running_in_this_thread() &&
        std::this_thread::get_id() == caller_thread)
      ++on_caller;
  };
  std::optional<std::error_code> cancelled_outcome;
  bool finished = false;
  std::exception_ptr failure;
  asio::co_spawn(
      caller_io,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto cfg = cachet_test::fast_config(server.url());
        cfg.request_timeout = 0ms;
        redis::client c(client_io.get_executor(), cfg);
        redis::client admin(client_io.get_executor(), cachet_test::fast_config(server.url()));
        const auto key = cachet_test::unique_key("k");

        EXPECT_EQ((co_await c.exec("SET", key, "v", "PX", 10000)).text, "OK");
        check();
        EXPECT_EQ((co_await c.exec("GET", key)).as_string(), "v");
        check();
        redis::request pipeline;
        pipeline.push("ECHO", "a");
        pipeline.push("ECHO", "b");
        EXPECT_EQ((co_await c.exec(pipeline)).size(), 2u);
        check();
        EXPECT_TRUE((co_await c.exec(redis::request{})).empty());  // completes without a reply
        check();
        try {
          co_await c.exec("NO-SUCH-COMMAND");
          ADD_FAILURE() << "an error reply must throw server_error";
        } catch (const redis::server_error&) {
        }
        check();
        try {
          co_await c.exec("SUBSCRIBE", "ch");  // refused before it is queued
          ADD_FAILURE() << "SUBSCRIBE must be refused";
        } catch (const redis::request_error& e) {
          EXPECT_EQ(e.code(), redis::error::unexpected_reply);
        }
        check();

        // A cancellation emitted on the caller's thread, while the request waits on the
        // connection's thread for a reply that does not come.
        asio::cancellation_signal signal;
        asio::steady_timer done(ex, std::chrono::steady_clock::time_point::max());
        asio::co_spawn(ex, c.exec("BLPOP", key + ":q", 0),
                       asio::bind_cancellation_slot(
                           signal.slot(), [&](std::exception_ptr e, const redis::value&) {
                             check();
                             try {
                               if (e) std::rethrow_exception(e);
                               cancelled_outcome = std::error_code{};
                             } catch (const redis::request_error& err) {
                               cancelled_outcome = err.code();
                             } catch (...) {
                               cancelled_outcome = std::make_error_code(std::errc::io_error);
                             }
                             done.cancel();
                           }));
        co_await cachet_test::wait_blocked_clients(admin, 1);
        check();
        signal.emit(asio::cancellation_type::terminal);
        boost::system::error_code ignored;
        if (!cancelled_outcome)
          co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        // The abandoned BLPOP's reply is read and dropped: the next reply is this request's own.
        co_await admin.exec("RPUSH", key + ":q", "x");
        EXPECT_EQ(
            (co_await c.exec(redis::request_options{.timeout = 2s}, "ECHO", "own")).as_string(),
            "own");
        check();
      },
      [&](std::exception_ptr e) {
        finished = true;
        failure = e;
      });
  caller_io.run_for(60s);
  guard.reset();
  client_thread.join();

  ASSERT_TRUE(finished);
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      FAIL() << "test coroutine threw: " << e.what();
    }
  }
  ASSERT_TRUE(cancelled_outcome.has_value());
  EXPECT_EQ(*cancelled_outcome, redis::error::cancelled);
  EXPECT_EQ(checked, 9);
  EXPECT_EQ(on_caller, checked) << "a completion ran off the caller's executor";
  EXPECT_TRUE(client_io.stopped()) << "the destroyed clients left work behind";
}

}  // namespace
