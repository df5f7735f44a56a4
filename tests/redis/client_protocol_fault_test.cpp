// Protocol faults a real redis-server cannot produce, injected by a scripted fake server (the
// only place a fake is used): malformed bytes and a reply nobody asked for must close the
// connection (never desynchronise it), and the client must recover on a new connection.

#include <cachet/redis/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <string>

#include "redis/client_test_support.hpp"

namespace {

namespace asio = boost::asio;
namespace redis = cachet::resp3;
using asio::ip::tcp;
using namespace std::chrono_literals;

struct fake_state {
  int connections = 0;
  bool second_closed_by_client = false;
};

constexpr std::string_view hello_reply = "%1\r\n+server\r\n+fake\r\n";

// Reads one client write (the client sends each batch in one write; loopback delivers it whole
// for these few bytes). Returns false at EOF or error.
asio::awaitable<bool> read_some(tcp::socket& s) {
  char buf[4096];
  auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
  co_return !ec && n > 0;
}

asio::awaitable<void> reply(tcp::socket& s, std::string_view bytes) {
  co_await asio::async_write(s, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
}

// (No co_await inside if/while conditions: g++ 12 miscompiles some of those forms.)
asio::awaitable<void> session(tcp::socket s, int number, fake_state& state) {
  bool open = co_await read_some(s);  // HELLO
  if (!open) co_return;
  co_await reply(s, hello_reply);
  open = co_await read_some(s);  // PING
  if (!open) co_return;
  if (number == 1) {
    co_await reply(s, "?garbage\r\n");  // no RESP3 type starts with '?'
  } else if (number == 2) {
    co_await reply(s, "+PONG\r\n+UNASKED\r\n");  // one reply too many
  } else {
    co_await reply(s, "+PONG\r\n");
  }
  for (;;) {
    open = co_await read_some(s);
    if (!open) break;
    co_await reply(s, "+PONG\r\n");
  }
  if (number == 2) state.second_closed_by_client = true;
}

asio::awaitable<void> serve(tcp::acceptor& acceptor, fake_state& state) {
  for (;;) {
    auto [ec, s] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    int number = ++state.connections;
    asio::co_spawn(acceptor.get_executor(), session(std::move(s), number, state), asio::detached);
  }
}

TEST(RedisClientProtocolFaults, MalformedAndUnaskedRepliesCloseTheConnectionAndItRecovers) {
  cachet_test::run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    fake_state state;
    asio::co_spawn(ex, serve(acceptor, state), asio::detached);
    {
      auto cfg = cachet_test::fast_config("redis://127.0.0.1:" +
                                          std::to_string(acceptor.local_endpoint().port()));
      redis::client c(ex, cfg);

      // Connection 1 answers with bytes that are not RESP3.
      try {
        co_await c.exec("PING");
        ADD_FAILURE() << "garbage was accepted as a reply";
      } catch (const redis::request_error& e) {
        EXPECT_EQ(e.code(), redis::error::outcome_unknown) << e.what();
        EXPECT_NE(std::string(e.what()).find("RESP3"), std::string::npos) << e.what();
      }

      // Connection 2 answers, then sends a reply nobody asked for: the client must drop it.
      EXPECT_EQ((co_await c.exec(redis::request_options{.timeout = 5s}, "PING")).text, "PONG");
      for (int i = 0; i < 2000 && !state.second_closed_by_client; ++i)
        co_await cachet_test::pause_for(5ms);
      EXPECT_TRUE(state.second_closed_by_client);

      // Connection 3 is well behaved.
      EXPECT_EQ((co_await c.exec(redis::request_options{.timeout = 5s}, "PING")).text, "PONG");
      EXPECT_EQ(state.connections, 3);
    }
    acceptor.close();
  });
}

}  // namespace
