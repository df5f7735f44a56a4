#include <cachet/redis/client.hpp>
#include <cachet/redis/subscriber.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/redirect_error.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "redis/client_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

namespace asio = boost::asio;
namespace redis = cachet::resp3;
using namespace std::chrono_literals;
using cachet_test::run_async;
using cachet_test::unique_key;

TEST(RedisSubscriber, ReceivesChannelAndPatternMessagesInOrder) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = cachet_test::fast_config(cachet_test::shared_redis_url());
    redis::client pub(ex, cfg);
    redis::subscriber sub(ex, cfg);
    const std::string ch = unique_key("ch");
    const std::string pattern = unique_key("news") + ".*";
    co_await sub.subscribe(ch);
    co_await sub.psubscribe(pattern);
    EXPECT_EQ((co_await pub.exec("PUBLISH", ch, "one")).as_int(), 1);
    EXPECT_EQ((co_await pub.exec("PUBLISH", ch, "two")).as_int(), 1);
    EXPECT_EQ((co_await pub.exec("PUBLISH", unique_key("news") + ".x", "three")).as_int(), 1);
    auto m1 = co_await sub.receive();
    EXPECT_EQ(m1.channel, ch);
    EXPECT_EQ(m1.payload, "one");
    EXPECT_EQ(m1.pattern, "");
    EXPECT_EQ((co_await sub.receive()).payload, "two");
    auto m3 = co_await sub.receive();
    EXPECT_EQ(m3.pattern, pattern);
    EXPECT_EQ(m3.channel, unique_key("news") + ".x");
    EXPECT_EQ(m3.payload, "three");

    co_await sub.unsubscribe(ch);
    EXPECT_EQ((co_await pub.exec("PUBLISH", ch, "nobody")).as_int(), 0);
    co_await sub.punsubscribe(pattern);
    EXPECT_EQ((co_await pub.exec("PUBLISH", unique_key("news") + ".x", "nobody")).as_int(), 0);
  });
}

TEST(RedisSubscriber, OverflowDropsTheOldestAndReportsQueueFull) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = cachet_test::fast_config(cachet_test::shared_redis_url());
    redis::client pub(ex, cfg);
    redis::subscriber sub(ex, cfg, 3);
    const std::string ch = unique_key("ch");
    co_await sub.subscribe(ch);
    for (int i = 1; i <= 5; ++i) co_await pub.exec("PUBLISH", ch, i);
    // Confirmed after the five messages on the same connection: all of them were delivered.
    co_await sub.subscribe(unique_key("barrier"));
    try {
      co_await sub.receive();
      ADD_FAILURE() << "no queue_full report";
    } catch (const redis::request_error& e) {
      EXPECT_EQ(e.code(), redis::error::queue_full);
      EXPECT_NE(std::string(e.what()).find(" 2 oldest"), std::string::npos) << e.what();
    }
    EXPECT_EQ((co_await sub.receive()).payload, "3");
    EXPECT_EQ((co_await sub.receive()).payload, "4");
    EXPECT_EQ((co_await sub.receive()).payload, "5");
  });
}

TEST(RedisSubscriber, SubscriptionsAreReplayedAfterReconnect) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = cachet_test::fast_config(server.url());
    redis::client pub(ex, cfg);
    redis::subscriber sub(ex, cfg);
    co_await sub.subscribe("alerts");
    co_await sub.psubscribe("metrics.*");
    EXPECT_EQ((co_await pub.exec("CLIENT", "KILL", "TYPE", "pubsub")).as_int(), 1);
    // Wait (bounded polling) until the subscriber is back: PUBLISH reports one receiver.
    const bool back = co_await cachet_test::wait_for_condition([&]() -> asio::awaitable<bool> {
      co_return (co_await pub.exec("PUBLISH", "alerts", "after")).as_int() == 1;
    });
    if (!back) {
      ADD_FAILURE() << "the subscriber never resubscribed after its connection was killed";
      co_return;
    }
    EXPECT_EQ((co_await pub.exec("PUBLISH", "metrics.cpu", "42")).as_int(), 1);
    auto m = co_await sub.receive();
    EXPECT_EQ(m.channel, "alerts");
    EXPECT_EQ(m.payload, "after");
    auto p = co_await sub.receive();
    EXPECT_EQ(p.pattern, "metrics.*");
    EXPECT_EQ(p.payload, "42");
  });
}

TEST(RedisSubscriber, ReceiveCanBeCancelledAndCloseEndsIt) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = cachet_test::fast_config(cachet_test::shared_redis_url());
    redis::subscriber sub(ex, cfg);
    co_await sub.subscribe(unique_key("quiet"));
    asio::cancellation_signal signal;
    std::optional<std::error_code> outcome;
    asio::steady_timer done(ex, std::chrono::steady_clock::time_point::max());
    auto record = [&](std::exception_ptr e, redis::message) {
      try {
        if (e) std::rethrow_exception(e);
        outcome = std::error_code{};
      } catch (const redis::request_error& err) {
        outcome = err.code();
      } catch (...) {
        outcome = std::make_error_code(std::errc::io_error);
      }
      done.cancel();
    };
    asio::co_spawn(ex, sub.receive(), asio::bind_cancellation_slot(signal.slot(), record));
    signal.emit(asio::cancellation_type::terminal);
    boost::system::error_code ignored;
    if (!outcome) co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    CACHET_CO_ASSERT(outcome.has_value());
    EXPECT_TRUE(*outcome == redis::error::cancelled ||
                *outcome == std::make_error_code(std::errc::io_error))
        << outcome->message();

    outcome.reset();
    asio::co_spawn(ex, sub.receive(), record);
    sub.close();
    if (!outcome) co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    CACHET_CO_ASSERT(outcome.has_value());
    EXPECT_EQ(*outcome, redis::error::not_connected);
  });
}

}  // namespace
