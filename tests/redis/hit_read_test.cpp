// The read of a store whose reads keep hitting (issue #11): plain commands checked in the
// process instead of the read script, which costs Redis ten times more per read. Counted on a
// private server's command statistics, so that no other test's commands mix in.
#include <cachet/redis.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "redis/consistency_test_support.hpp"
#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {

std::atomic<int> loads{0};

long square(long x) {
  loads.fetch_add(1);
  return x * x;
}

}  // namespace app

namespace {

namespace asio = boost::asio;
using cachet_test::private_redis_server;

// The calls of `command` the server has run, from INFO commandstats.
std::int64_t calls_of(const std::string& url, std::string_view command) {
  const std::string info = cachet_test::raw_command(url, "INFO", "commandstats").as_string();
  const std::string field = "cmdstat_" + std::string(command) + ":calls=";
  const auto at = info.find(field);
  if (at == std::string::npos) return 0;
  return std::stoll(info.substr(at + field.size()));
}

using square_cache = cachet::cached<&app::square, cachet::ttl<60>, cachet::key<"square:{}">,
                                    cachet::tags<"squares">, cachet::backend<cachet::redis>>;

class HitRead : public ::testing::Test {
 protected:
  void SetUp() override { app::loads = 0; }
  private_redis_server server;
  cachet::redis backend{cachet_test::degraded_config(server.url(), std::chrono::seconds(5)),
                        cachet::redis_options{.key_prefix = "hits"}};
  square_cache f{backend};
};

// Once reads hit, a hit runs no script; what it answers is the stored value.
TEST_F(HitRead, HitsOfAWarmStoreRunNoScript) {
  EXPECT_EQ(f(7), 49);  // miss: the read script, then the write script
  EXPECT_EQ(f(7), 49);  // hit, read by the script (the last read missed)
  const std::int64_t scripts = calls_of(server.url(), "evalsha");
  const std::int64_t entry_reads = calls_of(server.url(), "hmget");
  constexpr int hits = 20;
  for (int i = 0; i < hits; ++i) EXPECT_EQ(f(7), 49);
  EXPECT_EQ(calls_of(server.url(), "evalsha"), scripts);
  EXPECT_EQ(calls_of(server.url(), "hmget") - entry_reads, hits);
  EXPECT_EQ(app::loads.load(), 1);
  EXPECT_EQ(f.stats().hits, static_cast<std::uint64_t>(hits + 1));
  EXPECT_EQ(f.stats().misses, 1u);
}

// With the script-free read in use, every kind of invalidation is still seen at once, and what
// the plain read cannot judge (a counter gone) goes to the script, which misses.
TEST_F(HitRead, InvalidationsAreSeenWhileHitsRunNoScript) {
  const auto warm = [&] {
    EXPECT_EQ(f(3), 9);
    EXPECT_EQ(f(3), 9);
  };
  warm();
  f.invalidate(3);
  EXPECT_EQ(f(3), 9);
  EXPECT_EQ(app::loads.load(), 2) << "invalidate(key)";
  warm();
  backend.invalidate_tag("squares");
  EXPECT_EQ(f(3), 9);
  EXPECT_EQ(app::loads.load(), 3) << "invalidate_tag";
  warm();
  f.clear();
  EXPECT_EQ(f(3), 9);
  EXPECT_EQ(app::loads.load(), 4) << "clear()";
  warm();
  cachet_test::raw_command(server.url(), "DEL", cachet_test::tag_counter_key("hits", "squares"));
  EXPECT_EQ(f(3), 9);
  EXPECT_EQ(app::loads.load(), 5) << "a tag counter deleted behind cachet's back";
  EXPECT_EQ(f(3), 9);
  EXPECT_EQ(app::loads.load(), 5);
  EXPECT_EQ(f.stats().backend_errors, 0u);
}

// Passes bytes between the backend and a real server, on a thread of its own. Armed, it lets the
// next write that carries an HMGET through to the server and then closes that connection instead
// of passing the server's reply back: a read written whose reply never comes, which a real
// server does not produce on demand.
class reply_cutter {
 public:
  explicit reply_cutter(unsigned short upstream_port) : upstream_port_(upstream_port) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~reply_cutter() {
    io_.stop();
    thread_.join();
  }
  reply_cutter(const reply_cutter&) = delete;
  reply_cutter& operator=(const reply_cutter&) = delete;

  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  void arm() { armed_ = true; }
  int cuts() const { return cuts_; }

 private:
  using tcp = asio::ip::tcp;

  struct session {
    explicit session(tcp::socket c) : client(std::move(c)), server(client.get_executor()) {}
    tcp::socket client;
    tcp::socket server;
    bool cut_next_reply = false;
  };

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, client] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto s = std::make_shared<session>(std::move(client));
      auto [connect_ec] = co_await s->server.async_connect(
          tcp::endpoint(asio::ip::address_v4::loopback(), upstream_port_),
          asio::as_tuple(asio::use_awaitable));
      if (connect_ec) continue;
      asio::co_spawn(io_, pump(s, true), asio::detached);
      asio::co_spawn(io_, pump(s, false), asio::detached);
    }
  }

  // Passes what arrives on one side of `s` to the other until either closes. A chunk from the
  // client that carries an HMGET while armed marks the session; the server's next chunk on it
  // then closes both sides instead.
  asio::awaitable<void> pump(std::shared_ptr<session> s, bool from_client) {
    tcp::socket& from = from_client ? s->client : s->server;
    tcp::socket& to = from_client ? s->server : s->client;
    std::array<char, 65536> buf;
    for (;;) {
      auto [ec, n] =
          co_await from.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      const std::string_view chunk(buf.data(), n);
      if (from_client && armed_ && chunk.find("HMGET") != std::string_view::npos) {
        armed_ = false;
        s->cut_next_reply = true;
      } else if (!from_client && s->cut_next_reply) {
        ++cuts_;
        break;
      }
      auto [write_ec, written] =
          co_await asio::async_write(to, asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
      if (write_ec) break;
    }
    close(*s);
  }

  static void close(session& s) {
    boost::system::error_code ignored;
    s.client.close(ignored);
    s.server.close(ignored);
  }

  unsigned short upstream_port_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  unsigned short port_ = acceptor_.local_endpoint().port();
  std::atomic<bool> armed_{false};
  std::atomic<int> cuts_{0};
  std::thread thread_;
};

// A hit's read changes nothing, so a read whose connection drops after it was written goes again
// on the next connection: the call answers from Redis, without a backend error and without
// calling the function.
TEST(HitReadAcrossADrop, AReadWhoseConnectionDropsBeforeItsReplyIsSentAgain) {
  app::loads = 0;
  private_redis_server server;
  reply_cutter cutter(server.port());
  cachet::redis backend{cachet_test::degraded_config(cutter.url(), std::chrono::seconds(5)),
                        cachet::redis_options{.key_prefix = "cut"}};
  square_cache f{backend};
  EXPECT_EQ(f(7), 49);  // miss: the read script, then the write script
  EXPECT_EQ(f(7), 49);  // hit, read by the script; the next read is HMGET
  cutter.arm();
  EXPECT_EQ(f(7), 49);
  EXPECT_EQ(cutter.cuts(), 1);
  EXPECT_EQ(app::loads.load(), 1);
  EXPECT_EQ(f.stats().backend_errors, 0u);
  EXPECT_EQ(f.stats().hits, 2u);
}

}  // namespace
