// Protocol faults a real redis-server cannot produce, injected by a scripted fake server (the
// only place a fake is used): malformed bytes and a reply nobody asked for must close the
// connection (never desynchronise it), and the client must recover on a new connection. Both
// ways a client reads: its reader coroutine on the io_context, and its caller waiting on the
// socket (client::caller_reads, what a blocking caller's lane uses), for which nothing watches
// an idle connection.

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
#include <string>
#include <string_view>
#include <thread>

#include "redis/client_test_support.hpp"

namespace {

namespace asio = boost::asio;
namespace redis = cachet::resp3;
using asio::ip::tcp;
using namespace std::chrono_literals;

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

// The parameter: whether the client's caller reads its replies (client::caller_reads).
class RedisClientProtocolFaults : public ::testing::TestWithParam<bool> {};

TEST_P(RedisClientProtocolFaults, MalformedAndUnaskedRepliesCloseTheConnectionAndItRecovers) {
  fake_server server;
  cachet_test::run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    redis::client c(ex, cachet_test::fast_config(server.url()));
    c.write_when_idle(GetParam());
    c.caller_reads(GetParam());
    try {
      co_await c.exec("PING");
      ADD_FAILURE() << "garbage was accepted as a reply";
    } catch (const redis::request_error& e) {
      EXPECT_EQ(e.code(), redis::error::outcome_unknown) << e.what();
      EXPECT_NE(std::string(e.what()).find("RESP3"), std::string::npos) << e.what();
    }
    EXPECT_EQ((co_await c.exec(redis::request_options{.timeout = 5s}, "PING")).text, "PONG");
    // Sent while nothing is in flight, it closes the second connection instead of passing for
    // the next request's reply: the reader sees it when it arrives (the next request then waits
    // until it has: a reply that arrives after a request was written cannot be told from that
    // request's), a caller-reading client before its next write.
    server.send_unasked();
    const auto limit = cachet_test::condition_limit;
    const bool sent = co_await cachet_test::wait_for_condition(
        [&] { return server.unasked_sent.load(); }, limit, 1ms);
    if (!sent) {
      ADD_FAILURE() << "the fake server never sent the unasked reply";
      co_return;
    }
    const bool caller_reads = GetParam();
    if (!caller_reads) {
      // The reader closes the connection when the reply arrives: awaited before the next request.
      const bool closed_by_reader = co_await cachet_test::wait_for_condition(
          [&] { return server.second_closed_by_client.load(); }, limit, 1ms);
      if (!closed_by_reader) {
        ADD_FAILURE() << "the reader never closed the connection the unasked reply came on";
        co_return;
      }
    }
    EXPECT_EQ((co_await c.exec(redis::request_options{.timeout = 5s}, "PING")).text, "PONG");
    const bool closed = co_await cachet_test::wait_for_condition(
        [&] { return server.second_closed_by_client.load(); });
    EXPECT_TRUE(closed) << "the client never closed the connection the unasked reply came on";
    EXPECT_EQ(server.connections, 3);
  });
}

INSTANTIATE_TEST_SUITE_P(ReadBy, RedisClientProtocolFaults, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Caller" : "Reader";
                         });

}  // namespace
