// A client whose caller reads its own replies (client::caller_reads, what a blocking caller's
// lane uses): the thread that made a request waits on the socket itself. Replies must stay in
// step with requests whatever happens around that wait: replies larger than one read, a deadline
// that passes first (the late reply then belongs to the reader), a connection the server closed
// while the client was idle, malformed bytes and replies nobody asked for.

#include <cachet/redis/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "redis/client_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

namespace asio = boost::asio;
namespace redis = cachet::resp3;
using asio::ip::tcp;
using namespace std::chrono_literals;
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

asio::awaitable<std::error_code> error_of(asio::awaitable<redis::value> call) {
  try {
    co_await std::move(call);
  } catch (const redis::request_error& e) {
    co_return e.code();
  }
  co_return std::error_code{};
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
    for (int i = 0; i < 2000; ++i) {
      const auto list = (co_await admin.exec("CLIENT", "LIST")).as_string();
      if (list.find(id_field) == std::string::npos) break;
      co_await cachet_test::pause_for(5ms);
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

// A fake server on its own thread (the caller blocks the client's): its first connection answers
// with bytes that are not RESP3; its second answers, then sends a reply nobody asked for once the
// test says so (send_unasked()), while the client is idle; the third behaves.
struct fake_server {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  asio::steady_timer unasked_release{io, asio::steady_timer::time_point::max()};
  bool unasked_released = false;  // on the server's thread
  std::atomic<int> connections{0};
  std::atomic<bool> unasked_sent{false};
  std::atomic<bool> second_closed_by_client{false};
  std::thread thread;

  fake_server() {
    asio::co_spawn(io, serve(), asio::detached);
    thread = std::thread([this] { io.run(); });
  }
  fake_server(const fake_server&) = delete;
  fake_server& operator=(const fake_server&) = delete;
  ~fake_server() {
    asio::post(io, [this] { acceptor.close(); });
    thread.join();
  }

  void send_unasked() {
    asio::post(io, [this] {
      unasked_released = true;
      unasked_release.cancel();
    });
  }

  std::string url() const {
    return "redis://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  }

  // One client write per read (each batch leaves in one write; loopback delivers these few
  // bytes whole). (No co_await inside conditions: g++ 12 miscompiles some of those forms.)
  static asio::awaitable<bool> read_some(tcp::socket& s) {
    char buf[4096];
    auto [ec, n] =
        co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    co_return !ec && n > 0;
  }

  static asio::awaitable<void> reply(tcp::socket& s, std::string_view bytes) {
    co_await asio::async_write(s, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
  }

  asio::awaitable<void> session(tcp::socket s, int number) {
    bool open = co_await read_some(s);  // HELLO
    if (!open) co_return;
    co_await reply(s, "%1\r\n+server\r\n+fake\r\n");
    open = co_await read_some(s);  // PING
    if (!open) co_return;
    if (number == 1) {
      co_await reply(s, "?garbage\r\n");
    } else if (number == 2) {
      co_await reply(s, "+PONG\r\n");
      if (!unasked_released) {
        boost::system::error_code ignored;
        co_await unasked_release.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      }
      co_await reply(s, "+UNASKED\r\n");
      unasked_sent = true;
    } else {
      co_await reply(s, "+PONG\r\n");
    }
    for (;;) {
      open = co_await read_some(s);
      if (!open) break;
      co_await reply(s, "+PONG\r\n");
    }
    if (number == 2) second_closed_by_client = true;
  }

  asio::awaitable<void> serve() {
    for (;;) {
      auto [ec, s] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      // Without it, Nagle would hold the unasked reply back until the client acknowledged the
      // PONG before it (a delayed ACK: up to 40 ms).
      s.set_option(tcp::no_delay(true));
      const int number = ++connections;
      asio::co_spawn(io, session(std::move(s), number), asio::detached);
    }
  }
};

TEST(CallerReadsFaults, MalformedAndUnaskedRepliesCloseTheConnectionAndItRecovers) {
  fake_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto c = caller_reading_client(ex, server.url());
    try {
      co_await c.exec("PING");
      ADD_FAILURE() << "garbage was accepted as a reply";
    } catch (const redis::request_error& e) {
      EXPECT_EQ(e.code(), redis::error::outcome_unknown) << e.what();
      EXPECT_NE(std::string(e.what()).find("RESP3"), std::string::npos) << e.what();
    }
    EXPECT_EQ((co_await c.exec(redis::request_options{.timeout = 5s}, "PING")).text, "PONG");
    // Sent while nothing is in flight and nothing reads the socket: found before the next
    // write, it closes the second connection instead of passing for that request's reply.
    server.send_unasked();
    for (int i = 0; i < 2000 && !server.unasked_sent; ++i) co_await cachet_test::pause_for(1ms);
    CACHET_CO_ASSERT(server.unasked_sent);
    EXPECT_EQ((co_await c.exec(redis::request_options{.timeout = 5s}, "PING")).text, "PONG");
    for (int i = 0; i < 2000 && !server.second_closed_by_client; ++i)
      co_await cachet_test::pause_for(5ms);
    EXPECT_TRUE(server.second_closed_by_client);
    EXPECT_EQ(server.connections, 3);
  });
}

}  // namespace
