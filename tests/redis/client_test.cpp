#include <cachet/redis/client.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
using redis::client;
using redis::request;
using redis::request_options;
using redis::type;
using redis::value;
using clock_type = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Basics on the shared server

TEST(RedisClient, IssueExampleCompilesAndWorks) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = fast_config(cachet_test::shared_redis_url());
    auto c = cachet::resp3::client(ex, cfg);
    auto r = co_await c.exec("SET", unique_key("k"), "v", "PX", 5000);
    EXPECT_EQ(r.type, type::simple_string);
    EXPECT_EQ(r.text, "OK");
    auto g = co_await c.exec("GET", unique_key("k"));
    EXPECT_EQ(g.as_string(), "v");
    auto ttl = co_await c.exec("PTTL", unique_key("k"));
    EXPECT_GT(ttl.as_int(), 0);
    EXPECT_LE(ttl.as_int(), 5000);
  });
}

TEST(RedisClient, ServerErrorKeepsTheServersText) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(cachet_test::shared_redis_url()));
    co_await c.exec("SET", unique_key("s"), "text");
    try {
      co_await c.exec("LPUSH", unique_key("s"), "x");
      ADD_FAILURE() << "LPUSH on a string did not throw";
    } catch (const redis::server_error& e) {
      EXPECT_EQ(e.code(), redis::error::server_error);
      EXPECT_EQ(e.server_message(),
                "WRONGTYPE Operation against a key holding the wrong kind of value");
    }
    try {
      co_await c.exec("NOSUCHCOMMAND", 1);
      ADD_FAILURE() << "an unknown command did not throw";
    } catch (const redis::server_error& e) {
      EXPECT_EQ(e.server_message().substr(0, 20), "ERR unknown command ");
    }
    // The connection is still in step after error replies.
    EXPECT_EQ((co_await c.exec("ECHO", "after")).as_string(), "after");
  });
}

TEST(RedisClient, ArgumentsOfManyKinds) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(cachet_test::shared_redis_url()));
    std::vector<std::string> keys{unique_key("a"), unique_key("b")};
    co_await c.exec("MSET", keys[0], 1.5, keys[1], -42);
    auto both = co_await c.exec("MGET", keys);
    CACHET_CO_ASSERT((both.as_array().size()) == (2u));
    EXPECT_EQ(both.as_array()[0].as_string(), "1.5");
    EXPECT_EQ(both.as_array()[1].as_string(), "-42");
    std::string binary("a\0b\r\n", 5);
    co_await c.exec("SET", keys[0], binary);
    EXPECT_EQ((co_await c.exec("GET", keys[0])).as_string(), binary);
    EXPECT_EQ((co_await c.exec("DEL", keys)).as_int(), 2);
  });
}

TEST(RedisClient, LargeValuesCrossManyReads) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(cachet_test::shared_redis_url()));
    std::string big(5 * 1024 * 1024 + 7, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) % 251);
    co_await c.exec("SET", unique_key("big"), big, "PX", 10000);
    auto got = co_await c.exec("GET", unique_key("big"));
    EXPECT_TRUE(got.as_string() == big) << "size " << got.as_string().size();
    EXPECT_EQ((co_await c.exec("ECHO", "after")).as_string(), "after");
  });
}

TEST(RedisClient, PipelineReturnsErrorRepliesAsValues) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(cachet_test::shared_redis_url()));
    request r;
    r.push("SET", unique_key("p"), "abc");
    r.push("GET", unique_key("p"));
    r.push("INCR", unique_key("p"));
    r.push("GET", unique_key("missing"));
    r.push("APPEND", unique_key("p"), "de");
    auto replies = co_await c.exec(r);
    CACHET_CO_ASSERT((replies.size()) == (5u));
    EXPECT_EQ(replies[0].text, "OK");
    EXPECT_EQ(replies[1].as_string(), "abc");
    EXPECT_TRUE(replies[2].is_error());
    EXPECT_EQ(replies[2].text, "ERR value is not an integer or out of range");
    EXPECT_TRUE(replies[3].is_null());
    EXPECT_EQ(replies[4].as_int(), 5);
    auto none = co_await c.exec(request{});
    EXPECT_TRUE(none.empty());
  });
}

TEST(RedisClient, ManyConcurrentCoroutinesGetTheirOwnReplies) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(cachet_test::shared_redis_url()));
    constexpr int n = 200;
    int finished = 0;
    int correct = 0;
    asio::steady_timer all_done(ex, clock_type::time_point::max());
    // Captureless: a coroutine lambda's captures die with the lambda object, its parameters
    // live in the coroutine frame.
    auto worker = [](client& c, int i) -> asio::awaitable<bool> {
      const auto key = unique_key(std::to_string(i));
      const auto val = "value-" + std::to_string(i * 7919);
      auto set = co_await c.exec("SET", key, val);
      auto get = co_await c.exec("GET", key);
      auto len = co_await c.exec("STRLEN", key);
      co_return set.text == "OK" &&
          get.as_string() == val&& len.as_int() == static_cast<std::int64_t>(val.size());
    };
    for (int i = 0; i < n; ++i) {
      asio::co_spawn(ex, worker(c, i), [&](std::exception_ptr e, bool ok) {
        if (!e && ok) ++correct;
        if (++finished == n) all_done.cancel();
      });
    }
    boost::system::error_code ignored;
    if (finished < n)  // it may have completed while we were busy elsewhere
      co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    EXPECT_EQ(finished, n);
    EXPECT_EQ(correct, n);
  });
}

// A client that writes in its caller's turn when idle (what a blocking caller's lane uses): a
// request larger than the socket takes at once goes out whole (its tail through the writer), and
// requests made together, which the writer then sends, keep their replies in step.
TEST(RedisClient, WritingWhenIdleKeepsRequestsWholeAndRepliesInStep) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(cachet_test::shared_redis_url()));
    c.write_when_idle(true);
    EXPECT_EQ((co_await c.exec("PING")).text, "PONG");  // connected: later requests write at once
    std::string big(8 * 1024 * 1024 + 3, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 167) % 253);
    EXPECT_EQ((co_await c.exec("SET", unique_key("idle-big"), big, "PX", 10000)).text, "OK");
    EXPECT_EQ((co_await c.exec("STRLEN", unique_key("idle-big"))).as_int(),
              static_cast<std::int64_t>(big.size()));
    EXPECT_TRUE((co_await c.exec("GET", unique_key("idle-big"))).as_string() == big);
    constexpr int n = 100;
    int finished = 0;
    int correct = 0;
    asio::steady_timer all_done(ex, clock_type::time_point::max());
    auto worker = [](client& c, int i) -> asio::awaitable<bool> {
      const auto key = unique_key("idle-" + std::to_string(i));
      const auto val = std::string(static_cast<std::size_t>(i) * 997, 'v');
      auto set = co_await c.exec("SET", key, val, "PX", 10000);
      auto len = co_await c.exec("STRLEN", key);
      co_return set.text == "OK" && len.as_int() == static_cast<std::int64_t>(val.size());
    };
    for (int i = 0; i < n; ++i) {
      asio::co_spawn(ex, worker(c, i), [&](std::exception_ptr e, bool ok) {
        if (!e && ok) ++correct;
        if (++finished == n) all_done.cancel();
      });
    }
    boost::system::error_code ignored;
    if (finished < n)
      co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    EXPECT_EQ(correct, n);
    EXPECT_EQ((co_await c.exec("ECHO", "after")).as_string(), "after");
  });
}

TEST(RedisClient, SubscribeThroughExecIsRefused) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(cachet_test::shared_redis_url()));
    std::string what;
    EXPECT_EQ(co_await error_of(c.exec("subscribe", "ch"), &what), redis::error::unexpected_reply);
    EXPECT_NE(what.find("subscriber"), std::string::npos) << what;
    request r;
    r.push("PING");
    r.push("PSUBSCRIBE", "p*");
    EXPECT_EQ(co_await error_of(c.exec(r)), redis::error::unexpected_reply);
    EXPECT_EQ((co_await c.exec("PING")).text, "PONG");
  });
}

TEST(RedisClient, ExecAfterCloseIsNotConnected) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(cachet_test::shared_redis_url()));
    EXPECT_EQ((co_await c.exec("PING")).text, "PONG");
    c.close();
    EXPECT_EQ(co_await error_of(c.exec("PING")), redis::error::not_connected);
  });
}

TEST(RedisClient, MovedToClientWorksMovedFromClientRefuses) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    client a(ex, fast_config(cachet_test::shared_redis_url()));
    EXPECT_EQ((co_await a.exec("PING")).text, "PONG");
    client b(std::move(a));
    EXPECT_EQ((co_await b.exec("ECHO", "moved")).as_string(), "moved");
    EXPECT_THROW((void)a.exec("PING"), redis::request_error);  // NOLINT(bugprone-use-after-move)
  });
}

TEST(RedisClient, SelectsTheConfiguredDatabase) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg3 = fast_config(cachet_test::shared_redis_url());
    cfg3.database = 3;
    client db3(ex, cfg3);
    client db0(ex, fast_config(cachet_test::shared_redis_url()));
    co_await db3.exec("SET", unique_key("db"), "three", "PX", 10000);
    EXPECT_TRUE((co_await db0.exec("GET", unique_key("db"))).is_null());
    EXPECT_EQ((co_await db3.exec("GET", unique_key("db"))).as_string(), "three");
    auto info = (co_await db3.exec("CLIENT", "INFO")).as_string();
    EXPECT_NE(info.find(" db=3 "), std::string::npos) << info;
    EXPECT_NE(info.find(" name=cachet "), std::string::npos) << info;
    EXPECT_NE(info.find(" resp=3"), std::string::npos) << info;
  });
}

TEST(RedisClient, UnreachableServerFailsFastWithTheReason) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    // A port nobody listens on: each request fails with the refused attempt it waited for (or
    // started, cutting the backoff short), not at its deadline.
    auto cfg = fast_config("redis://127.0.0.1:" +
                           std::to_string(cachet_test::detail::free_loopback_port()));
    client c(ex, cfg);
    EXPECT_EQ(c.last_error(), "");
    const auto start = clock_type::now();
    for (int i = 0; i < 5; ++i) {
      std::string what;
      EXPECT_EQ(co_await error_of(c.exec("PING"), &what), redis::error::not_connected);
      EXPECT_NE(what.find("Connection refused"), std::string::npos) << what;
    }
    EXPECT_LT(clock_type::now() - start, cfg.request_timeout / 2);
    EXPECT_NE(c.last_error().find("Connection refused"), std::string::npos) << c.last_error();
  });
}

// ---------------------------------------------------------------------------------------------
// Private servers: types, auth, faults

TEST(RedisClientPrivate, EveryResp3TypeFromARealServer) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(server.url()));
    auto hello = co_await c.exec("HELLO", 3);
    EXPECT_EQ(hello.type, type::map);

    auto proto = [&](const char* t) { return c.exec("DEBUG", "PROTOCOL", t); };
    auto s = co_await proto("string");
    EXPECT_EQ(s.type, type::blob_string);
    EXPECT_EQ(s.text, "Hello World");
    auto i = co_await proto("integer");
    EXPECT_EQ(i.type, type::number);
    EXPECT_EQ(i.integer, 12345);
    auto d = co_await proto("double");
    EXPECT_EQ(d.type, type::double_type);
    EXPECT_DOUBLE_EQ(d.real, 3.141);
    auto b = co_await proto("bignum");
    EXPECT_EQ(b.type, type::big_number);
    EXPECT_EQ(b.text, "1234567999999999999999999999999999999");
    auto n = co_await proto("null");
    EXPECT_TRUE(n.is_null());
    auto a = co_await proto("array");
    EXPECT_EQ(a.type, type::array);
    CACHET_CO_ASSERT((a.elements.size()) == (3u));
    EXPECT_EQ(a.elements[2].integer, 2);
    auto set = co_await proto("set");
    EXPECT_EQ(set.type, type::set);
    EXPECT_EQ(set.elements.size(), 3u);
    auto m = co_await proto("map");
    EXPECT_EQ(m.type, type::map);
    CACHET_CO_ASSERT((m.elements.size()) == (6u));
    EXPECT_EQ(m.elements[0].integer, 0);
    EXPECT_EQ(m.elements[1].type, type::boolean);
    EXPECT_FALSE(m.elements[1].boolean);
    EXPECT_TRUE(m.elements[3].boolean);
    auto attr = co_await proto("attrib");
    EXPECT_EQ(attr.type, type::blob_string);
    EXPECT_EQ(attr.text, "Some real reply following the attribute");
    CACHET_CO_ASSERT((attr.attributes.size()) == (2u));
    EXPECT_EQ(attr.attributes[0].text, "key-popularity");
    // The push that precedes the reply is routed away from the request (dropped here).
    auto after_push = co_await proto("push");
    EXPECT_EQ(after_push.type, type::blob_string);
    EXPECT_EQ(after_push.text, "Some real reply following the push reply");
    auto v = co_await proto("verbatim");
    EXPECT_EQ(v.type, type::verbatim_string);
    EXPECT_EQ(v.verbatim_format, "txt");
    EXPECT_EQ(v.text, "This is a verbatim\nstring");
    auto t = co_await proto("true");
    EXPECT_EQ(t.type, type::boolean);
    EXPECT_TRUE(t.boolean);
    auto f = co_await proto("false");
    EXPECT_EQ(f.type, type::boolean);
    EXPECT_FALSE(f.boolean);
    // Still in step after all of that.
    EXPECT_EQ((co_await c.exec("ECHO", "end")).as_string(), "end");
  });
}

TEST(RedisClientPrivate, AuthenticatesAsAnAclUser) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    client admin(ex, fast_config(server.url()));
    co_await admin.exec("ACL", "SETUSER", "cachet_user", "on", ">p@ss word", "~*", "+@all");
    // Percent-encoded in the URL: '@' -> %40, ' ' -> %20.
    auto cfg =
        fast_config("redis://cachet_user:p%40ss%20word@127.0.0.1:" + std::to_string(server.port()));
    client user(ex, cfg);
    EXPECT_EQ((co_await user.exec("ACL", "WHOAMI")).as_string(), "cachet_user");
  });
}

TEST(RedisClientPrivate, WrongPasswordIsHandshakeFailedWithTheServersText) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    client admin(ex, fast_config(server.url()));
    co_await admin.exec("ACL", "SETUSER", "cachet_user", "on", ">right", "~*", "+@all");
    auto cfg = fast_config(server.url());
    cfg.username = "cachet_user";
    cfg.password = "wrong";
    client user(ex, cfg);
    const auto start = clock_type::now();
    std::string what;
    EXPECT_EQ(co_await error_of(user.exec("PING"), &what), redis::error::handshake_failed);
    EXPECT_NE(what.find("WRONGPASS"), std::string::npos) << what;
    // Refused at once, not after the request deadline.
    EXPECT_LT(clock_type::now() - start, cfg.request_timeout);
    EXPECT_NE(user.last_error().find("WRONGPASS"), std::string::npos) << user.last_error();
  });
}

TEST(RedisClientPrivate, RefusedHandshakeRecoversOnceTheServerAcceptsUs) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    client admin(ex, fast_config(server.url()));
    auto cfg = fast_config(server.url());
    cfg.username = "late_user";
    cfg.password = "pw";
    client user(ex, cfg);
    EXPECT_EQ(co_await error_of(user.exec("PING")), redis::error::handshake_failed);
    // While refused, requests fail fast too.
    EXPECT_EQ(co_await error_of(user.exec("PING")), redis::error::handshake_failed);
    co_await admin.exec("ACL", "SETUSER", "late_user", "on", ">pw", "~*", "+@all");
    // The background retries (backoff) eventually succeed; poll the condition, bounded.
    const bool accepted = co_await cachet_test::wait_for_condition([&]() -> asio::awaitable<bool> {
      try {
        co_return (co_await user.exec("ACL", "WHOAMI")).as_string() == "late_user";
      } catch (const redis::request_error& e) {
        EXPECT_EQ(e.code(), redis::error::handshake_failed);
      }
      co_return false;
    });
    EXPECT_TRUE(accepted) << "the client's handshake as late_user never succeeded";
  });
}

TEST(RedisClientPrivate, HandshakeTimeoutOnAStoppedServer) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    server.pause();  // the kernel still accepts the TCP connection; HELLO is never answered
    auto cfg = fast_config(server.url());
    cfg.handshake_timeout = 100ms;
    client c(ex, cfg);
    std::string what;
    const auto start = clock_type::now();
    // The request fails with the attempt it waited for, before its own deadline.
    EXPECT_EQ(co_await error_of(c.exec(request_options{.timeout = 2s}, "PING"), &what),
              redis::error::not_connected);
    EXPECT_LT(clock_type::now() - start, 1s);
    EXPECT_NE(what.find("handshake"), std::string::npos) << what;
    EXPECT_NE(c.last_error().find("handshake"), std::string::npos) << c.last_error();
    server.resume();
    EXPECT_EQ((co_await c.exec(request_options{.timeout = 5s}, "PING")).text, "PONG");
  });
}

TEST(RedisClientPrivate, ReconnectsAfterClientKill) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(server.url()));
    client admin(ex, fast_config(server.url()));
    auto id1 = (co_await c.exec("CLIENT", "ID")).as_int();
    EXPECT_EQ((co_await admin.exec("CLIENT", "KILL", "ID", id1)).as_int(), 1);
    // Whether or not the drop was noticed before this is written, an idempotent request
    // is answered on the new connection.
    auto id2 = (co_await c.exec(request_options{.idempotent = true}, "CLIENT", "ID")).as_int();
    EXPECT_NE(id1, id2);
    EXPECT_EQ((co_await c.exec("ECHO", "again")).as_string(), "again");
  });
}

TEST(RedisClientPrivate, ReconnectsAfterServerRestart) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(server.url()));
    co_await c.exec("SET", "before", "1");
    server.restart();
    auto r = co_await c.exec(request_options{.idempotent = true}, "GET", "before");
    EXPECT_TRUE(r.is_null());  // a fresh server without persistence
    EXPECT_EQ((co_await c.exec("SET", "after", "2")).text, "OK");
    EXPECT_EQ((co_await c.exec("GET", "after")).as_string(), "2");
  });
}

// The same when the client writes in its caller's turn: a request written at once to a
// connection the server has dropped is either re-sent (idempotent) or reported, never matched
// with another request's reply.
TEST(RedisClientPrivate, WritingWhenIdleReconnectsAfterClientKill) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(server.url()));
    c.write_when_idle(true);
    client admin(ex, fast_config(server.url()));
    auto id1 = (co_await c.exec("CLIENT", "ID")).as_int();
    EXPECT_EQ((co_await admin.exec("CLIENT", "KILL", "ID", id1)).as_int(), 1);
    auto id2 = (co_await c.exec(request_options{.idempotent = true}, "CLIENT", "ID")).as_int();
    EXPECT_NE(id1, id2);
    EXPECT_EQ((co_await admin.exec("CLIENT", "KILL", "ID", id2)).as_int(), 1);
    std::error_code outcome;
    try {
      EXPECT_EQ((co_await c.exec("ECHO", "maybe")).as_string(), "maybe");
    } catch (const redis::request_error& e) {
      outcome = e.code();
    }
    EXPECT_TRUE(!outcome || outcome == redis::error::outcome_unknown) << outcome.message();
    EXPECT_EQ((co_await c.exec("ECHO", "again")).as_string(), "again");
  });
}

TEST(RedisClientPrivate, ReconnectsAfterServerKillAndRestart) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(server.url()));
    EXPECT_EQ((co_await c.exec("PING")).text, "PONG");
    server.kill();
    // While the server is down a request waits for the next connection attempt and fails with it
    // (idempotent: had it been written to the dying connection before the drop was seen, it is
    // re-sent, on the attempt that fails).
    EXPECT_EQ(co_await error_of(c.exec(request_options{.timeout = 5s, .idempotent = true}, "PING")),
              redis::error::not_connected);
    server.restart();
    // A request made during the backoff starts the next attempt at once.
    EXPECT_EQ((co_await c.exec(request_options{.timeout = 5s}, "PING")).text, "PONG");
  });
}

TEST(RedisClientPrivate, WrittenButUnansweredRequestIsOutcomeUnknown) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = fast_config(server.url());
    cfg.request_timeout = 0ms;  // no deadline: only the connection loss ends the request
    client c(ex, cfg);
    client admin(ex, fast_config(server.url()));
    co_await c.exec("PING");
    std::optional<std::error_code> outcome;
    std::string what;
    asio::steady_timer done(ex, clock_type::time_point::max());
    asio::co_spawn(ex, error_of(c.exec("BLPOP", "empty-list", 0), &what),
                   [&](std::exception_ptr, std::error_code ec) {
                     outcome = ec;
                     done.cancel();
                   });
    // The BLPOP is written and blocked server-side; now the server dies.
    co_await cachet_test::wait_blocked_clients(admin, 1);
    server.kill();
    boost::system::error_code ignored;
    if (!outcome)  // it may have completed while we were busy elsewhere
      co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    CACHET_CO_ASSERT(outcome.has_value());
    EXPECT_EQ(*outcome, redis::error::outcome_unknown) << what;
    EXPECT_NE(what.find("may or may not"), std::string::npos) << what;
    server.restart();
    EXPECT_EQ((co_await c.exec(request_options{.timeout = 5s}, "ECHO", "back")).as_string(),
              "back");
  });
}

TEST(RedisClientPrivate, IdempotentRequestIsResentAfterReconnect) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = fast_config(server.url());
    cfg.request_timeout = 0ms;
    client c(ex, cfg);
    client admin(ex, fast_config(server.url()));
    auto id1 = (co_await c.exec("CLIENT", "ID")).as_int();
    std::optional<value> got;
    bool completed = false;
    asio::steady_timer done(ex, clock_type::time_point::max());
    asio::co_spawn(ex, c.exec(request_options{.idempotent = true}, "BLPOP", "jobs", 0),
                   [&](std::exception_ptr e, value v) {
                     if (!e) got = std::move(v);
                     completed = true;
                     done.cancel();
                   });
    co_await cachet_test::wait_blocked_clients(admin, 1);
    co_await admin.exec("CLIENT", "KILL", "ID", id1);
    // Blocked again: the BLPOP was re-sent on the new connection.
    co_await cachet_test::wait_blocked_clients(admin, 1);
    co_await admin.exec("RPUSH", "jobs", "job-1");
    boost::system::error_code ignored;
    if (!completed)  // it may have completed while we were busy elsewhere
      co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    CACHET_CO_ASSERT(got.has_value());
    CACHET_CO_ASSERT((got->as_array().size()) == (2u));
    EXPECT_EQ(got->as_array()[1].as_string(), "job-1");
    EXPECT_NE((co_await c.exec("CLIENT", "ID")).as_int(), id1);
  });
}

TEST(RedisClientPrivate, DeadlineOnPausedServerThenNoDesync) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(server.url()));
    co_await c.exec("SET", "mine", "A");
    server.pause();
    const auto start = clock_type::now();
    EXPECT_EQ(co_await error_of(c.exec(request_options{.timeout = 200ms}, "SET", "other", "B")),
              redis::error::request_timeout);
    EXPECT_EQ(co_await error_of(c.exec(request_options{.timeout = 100ms}, "INCR", "n")),
              redis::error::request_timeout);
    const auto took = clock_type::now() - start;
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 2s);
    server.resume();
    // The late replies (+OK, :1) are read and discarded; these get their own replies.
    EXPECT_EQ((co_await c.exec("GET", "mine")).as_string(), "A");
    EXPECT_EQ((co_await c.exec("ECHO", "own")).as_string(), "own");
    EXPECT_EQ((co_await c.exec("INCR", "n")).as_int(), 2);
  });
}

TEST(RedisClientPrivate, DeadlineOnBlockedCommandThenNoDesync) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    client c(ex, fast_config(server.url()));
    client admin(ex, fast_config(server.url()));
    std::string what;
    EXPECT_EQ(co_await error_of(c.exec(request_options{.timeout = 150ms}, "BLPOP", "q", 0), &what),
              redis::error::request_timeout);
    EXPECT_NE(what.find("150 ms"), std::string::npos) << what;
    co_await admin.exec("RPUSH", "q", "x");
    EXPECT_EQ((co_await c.exec("ECHO", "own")).as_string(), "own");
    // The abandoned BLPOP did take the element: its reply was read, not matched to ECHO.
    EXPECT_EQ((co_await admin.exec("LLEN", "q")).as_int(), 0);
  });
}

TEST(RedisClientPrivate, CancellationSlotCancelsARequestWithoutDesync) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = fast_config(server.url());
    cfg.request_timeout = 0ms;
    client c(ex, cfg);
    client admin(ex, fast_config(server.url()));
    asio::cancellation_signal signal;
    std::optional<std::error_code> outcome;
    asio::steady_timer done(ex, clock_type::time_point::max());
    asio::co_spawn(ex, c.exec("BLPOP", "q", 0),
                   asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, value) {
                     try {
                       if (e) std::rethrow_exception(e);
                       outcome = std::error_code{};
                     } catch (const redis::request_error& err) {
                       outcome = err.code();
                     } catch (...) {
                       outcome = std::make_error_code(std::errc::io_error);
                     }
                     done.cancel();
                   }));
    co_await cachet_test::wait_blocked_clients(admin, 1);
    signal.emit(asio::cancellation_type::terminal);
    boost::system::error_code ignored;
    if (!outcome)  // it may have completed while we were busy elsewhere
      co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    CACHET_CO_ASSERT(outcome.has_value());
    EXPECT_EQ(*outcome, redis::error::cancelled);
    co_await admin.exec("RPUSH", "q", "x");
    EXPECT_EQ((co_await c.exec(request_options{.timeout = 2s}, "ECHO", "own")).as_string(), "own");
    EXPECT_EQ((co_await admin.exec("LLEN", "q")).as_int(), 0);
  });
}

TEST(RedisClientPrivate, AwaitableOrWithATimerCancelsTheRequest) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    auto cfg = fast_config(server.url());
    cfg.request_timeout = 0ms;
    client c(ex, cfg);
    client admin(ex, fast_config(server.url()));
    auto winner = co_await (c.exec("BLPOP", "q", 0) || cachet_test::pause_for(100ms));
    EXPECT_EQ(winner.index(), 1u);
    co_await admin.exec("RPUSH", "q", "x");
    EXPECT_EQ((co_await c.exec(request_options{.timeout = 2s}, "ECHO", "own")).as_string(), "own");
    EXPECT_EQ((co_await admin.exec("LLEN", "q")).as_int(), 0);
  });
}

TEST(RedisClientPrivate, HealthCheckDetectsAStoppedServer) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = fast_config(server.url());
    cfg.request_timeout = 0ms;  // only the health check can end the request
    cfg.health_check_interval = 200ms;
    cfg.handshake_timeout = 200ms;
    client c(ex, cfg);
    co_await c.exec("PING");
    server.pause();
    const auto start = clock_type::now();
    std::string what;
    EXPECT_EQ(co_await error_of(c.exec("PING"), &what), redis::error::outcome_unknown);
    const auto took = clock_type::now() - start;
    EXPECT_LT(took, 2s);
    EXPECT_NE(what.find("health-check"), std::string::npos) << what;
    server.resume();
    EXPECT_EQ((co_await c.exec(request_options{.timeout = 5s}, "PING")).text, "PONG");
  });
}

TEST(RedisClientPrivate, HealthCheckPingsAnIdleConnectionAndKeepsIt) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = fast_config(server.url());
    cfg.health_check_interval = 50ms;
    client c(ex, cfg);
    client admin(ex, fast_config(server.url()));
    const auto id = (co_await c.exec("CLIENT", "ID")).as_int();
    // Condition: the server saw our idle connection send PING (bounded polling).
    const bool pinged = co_await cachet_test::wait_for_condition([&]() -> asio::awaitable<bool> {
      auto list = (co_await admin.exec("CLIENT", "LIST", "ID", id)).as_string();
      co_return list.find("cmd=ping") != std::string::npos;
    });
    EXPECT_TRUE(pinged) << "the server never saw the idle connection's health-check PING";
    // Answered pings keep the connection: same id, no reconnect.
    EXPECT_EQ((co_await c.exec("CLIENT", "ID")).as_int(), id);
  });
}

TEST(RedisClientPrivate, DestroyingTheClientFailsWaitersAndLeavesNothingBehind) {
  cachet_test::private_redis_server server;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cfg = fast_config(server.url());
    cfg.request_timeout = 0ms;
    client admin(ex, fast_config(server.url()));
    std::optional<std::error_code> outcome;
    asio::steady_timer done(ex, clock_type::time_point::max());
    {
      client c(ex, cfg);
      asio::co_spawn(ex, error_of(c.exec("BLPOP", "q", 0)),
                     [&](std::exception_ptr, std::error_code ec) {
                       outcome = ec;
                       done.cancel();
                     });
      co_await cachet_test::wait_blocked_clients(admin, 1);
    }
    boost::system::error_code ignored;
    if (!outcome)  // it may have completed while we were busy elsewhere
      co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    CACHET_CO_ASSERT(outcome.has_value());
    EXPECT_EQ(*outcome, redis::error::outcome_unknown);
    // run_async checks that no coroutine of the destroyed client is left on the io_context.
  });
}

}  // namespace
