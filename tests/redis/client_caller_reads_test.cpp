// A client whose caller reads its own replies (client::caller_reads, what a blocking caller's
// lane uses): the thread that made a request waits on the socket itself. Replies must stay in
// step with requests whatever happens around that wait: replies larger than one read, a deadline
// that passes first (the late reply then belongs to the reader), a connection the server closed
// while the client was idle, a server that stops answering. (Malformed bytes and replies nobody
// asked for: client_protocol_fault_test.cpp, for both ways of reading.)

#include <cachet/redis/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "redis/client_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

namespace asio = boost::asio;
namespace redis = cachet::resp3;
using namespace std::chrono_literals;
using cachet_test::error_of;
using cachet_test::fast_config;
using cachet_test::run_async;
using cachet_test::unique_key;

// The client as a lane makes it: written and read in its caller's turn.
redis::client caller_reading_client(const asio::any_io_executor& ex, const std::string& url) {
  redis::client c(ex, fast_config(url));
  c.write_when_idle(true);
  c.caller_reads(true);
  return c;
}

TEST(CallerReads, RepliesStayInStepAcrossLargeRepliesPipelinesAndLongRuns) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto c = caller_reading_client(ex, cachet_test::shared_redis_url());
    const std::string key = unique_key("big");
    // Larger than many reads of the connection's read chunk: the caller reads it in pieces.
    std::string big(3 * 1024 * 1024 + 7, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) % 251);
    EXPECT_EQ((co_await c.exec("SET", key, big, "PX", 10000)).text, "OK");
    EXPECT_TRUE((co_await c.exec("GET", key)).as_string() == big);

    redis::request pipeline;
    pipeline.push("SET", unique_key("a"), "1", "PX", 10000);
    pipeline.push("INCR", unique_key("a"));
    pipeline.push("GET", unique_key("a"));
    const auto replies = co_await c.exec(pipeline);
    CACHET_CO_ASSERT(replies.size() == 3);
    EXPECT_EQ(replies[0].text, "OK");
    EXPECT_EQ(replies[1].as_int(), 2);
    EXPECT_EQ(replies[2].as_string(), "2");

    // Each answered in its caller's turn, one after the other in one coroutine: more than the
    // resumptions a turn may nest, so later ones go back through the io_context.
    const std::string counter = unique_key("counter");
    co_await c.exec("DEL", counter);
    std::int64_t last = 0;
    for (int i = 0; i < 1000; ++i) last = (co_await c.exec("INCR", counter)).as_int();
    EXPECT_EQ(last, 1000);
    co_await c.exec("DEL", counter);
  });
}

// The reply of a request whose deadline passed arrives later: it must be read and dropped, not
// handed to the next request.
TEST(CallerReads, AReplyPastItsDeadlineIsDroppedNotGivenToTheNextRequest) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto c = caller_reading_client(ex, cachet_test::shared_redis_url());
    EXPECT_EQ((co_await c.exec("PING")).text, "PONG");
    const std::string list = unique_key("never-pushed");
    EXPECT_EQ(
        co_await error_of(c.exec(redis::request_options{.timeout = 50ms}, "BLPOP", list, "0.3")),
        redis::error::request_timeout);
    // Queued behind the BLPOP on the same connection, answered once the server gives up on it.
    EXPECT_EQ((co_await c.exec("ECHO", "after")).as_string(), "after");
    EXPECT_EQ((co_await c.exec("ECHO", "and again")).as_string(), "and again");
  });
}

// Nothing reads an idle connection: a close that came meanwhile is found before the next write,
// so a request that must not run twice is sent on a new connection instead of being written to
// the closed one and failing with outcome_unknown. (The server has closed it once CLIENT LIST no
// longer shows it.)
TEST(CallerReadsPrivate, AConnectionClosedWhileIdleIsFoundBeforeTheNextWrite) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto c = caller_reading_client(ex, server.url());
    redis::client admin(ex, fast_config(server.url()));
    const auto first = (co_await c.exec("CLIENT", "ID")).as_int();
    EXPECT_EQ((co_await admin.exec("CLIENT", "KILL", "ID", first)).as_int(), 1);
    const std::string id_field = "id=" + std::to_string(first) + " ";
    const bool gone = co_await cachet_test::wait_for_condition([&]() -> asio::awaitable<bool> {
      const auto list = (co_await admin.exec("CLIENT", "LIST")).as_string();
      co_return list.find(id_field) == std::string::npos;
    });
    if (!gone) {
      ADD_FAILURE() << "the killed connection " << first << " never left CLIENT LIST";
      co_return;
    }
    const auto second = (co_await c.exec("CLIENT", "ID")).as_int();
    EXPECT_NE(second, first);
  });
}

// The health check still watches a request its caller reads: a server that stops answering (here
// paused far longer than the check's interval) fails the request when the check's PING goes
// unanswered, rather than leaving its caller blocked until the server answers again.
TEST(CallerReadsPrivate, AServerThatStopsAnsweringIsFoundByTheHealthCheck) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = fast_config(server.url());
    cfg.health_check_interval = 100ms;
    cfg.request_timeout = 0ms;  // only the health check can end the request
    redis::client c(ex, cfg);
    c.write_when_idle(true);
    c.caller_reads(true);
    redis::client admin(ex, fast_config(server.url()));
    EXPECT_EQ((co_await c.exec("PING")).text, "PONG");
    EXPECT_EQ((co_await admin.exec("CLIENT", "PAUSE", "20000", "ALL")).text, "OK");
    try {
      co_await c.exec("ECHO", "unanswered");
      ADD_FAILURE() << "a paused server answered";
    } catch (const redis::request_error& e) {
      EXPECT_EQ(e.code(), redis::error::outcome_unknown) << e.what();
      EXPECT_NE(std::string(e.what()).find("health-check"), std::string::npos) << e.what();
    }
  });
}

}  // namespace
