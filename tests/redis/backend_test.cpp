// cachet::backend<cachet::redis> against a real redis-server.

#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/hana/define_struct.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "redis/client_test_support.hpp"
#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

// A free function whose default keys look like a tag counter's name: "tag:<args>".
int tag(int x) { return x + 1; }

namespace app {

struct user {
  BOOST_HANA_DEFINE_STRUCT(user, (long, id), (std::string, name));
  friend bool operator==(const user&, const user&) = default;
};

user load_user(long id) { return {id, "user" + std::to_string(id)}; }
std::string load_user_name(long id) { return "name" + std::to_string(id); }
int twice(int x) { return x * 2; }
int thrice(int x) { return x * 3; }
int refuse(int) { throw std::runtime_error("refused"); }

struct point {
  int x = 0;
  int y = 0;
};

// A codec that is not JSON: "x,y".
struct point_codec {
  static std::string encode(const point& p) {
    return std::to_string(p.x) + "," + std::to_string(p.y);
  }
  static point decode(std::string_view text) {
    const auto comma = text.find(',');
    if (comma == std::string_view::npos) throw cachet::decode_error("point_codec: expected x,y");
    return {std::stoi(std::string(text.substr(0, comma))),
            std::stoi(std::string(text.substr(comma + 1)))};
  }
};

}  // namespace app

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using cachet_test::command;
using cachet_test::command_calls;
using cachet_test::condition_limit;
using cachet_test::make_test_backend;
using cachet_test::private_redis_server;
using cachet_test::shared_redis_url;
using cachet_test::wait_for_condition;

std::string base(cachet::redis& backend) { return backend.key_options().key_prefix + ":v1:"; }
std::string counters(cachet::redis& backend) { return backend.key_options().key_prefix + ":v1#"; }

// The entries' keys (not the counters'). KEYS is fine in a test; the library never uses it.
std::vector<std::string> keys_of(cachet::redis& backend) {
  const auto reply = command(backend, "KEYS", base(backend) + "*");
  std::vector<std::string> out;
  for (const auto& k : reply.as_array()) out.push_back(k.as_string());
  std::sort(out.begin(), out.end());
  return out;
}

// The value an entry holds, as JSON.
boost::json::value stored_value(cachet::redis& backend, const std::string& key) {
  return boost::json::parse(command(backend, "HGET", key, "v").as_string());
}

// Whether an entry holds a value (a miss whose result was not written leaves only its permit).
bool holds_value(cachet::redis& backend, const std::string& key) {
  return command(backend, "HEXISTS", key, "v").as_int() == 1;
}

std::string counter(cachet::redis& backend, const std::string& name) {
  return command(backend, "GET", counters(backend) + name).as_string();
}

long long pttl(cachet::redis& backend, const std::string& key) {
  return command(backend, "PTTL", key).as_int();
}

// Runs a test coroutine to completion; its exceptions fail the test.
void run(asio::io_context& io, asio::awaitable<void> body) {
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) { failure = e; });
  io.run();
  io.restart();
  if (failure) std::rethrow_exception(failure);
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

template <class Value, std::size_t TagCount, class Codec = cachet::json_codec>
using store = cachet::redis::store<Value, TagCount, Codec>;

cachet::detail::store_settings named(std::string_view name) {
  return {.name = name, .ttl = {}, .capacity = 0, .has_key_template = true};
}

using user_cache = cachet::cached<&app::load_user, cachet::ttl<300>, cachet::key<"user:{}">,
                                  cachet::tags<"users">, cachet::backend<cachet::redis>>;

TEST(RedisBackend, MissThenHitIsCountedAndStoredAsReadableJson) {
  auto backend = make_test_backend(shared_redis_url());
  user_cache get_user{*backend};

  EXPECT_EQ(get_user(42), (app::user{42, "user42"}));
  EXPECT_EQ(get_user(42), (app::user{42, "user42"}));

  const cachet::stats s = get_user.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.backend_errors, 0u);
  EXPECT_EQ(s.decode_errors, 0u);

  // The key template's output, verbatim, under prefix and schema; the counters apart, under '#',
  // created by the first read.
  const std::string key = base(*backend) + "user:42";
  EXPECT_EQ(keys_of(*backend), std::vector<std::string>{key});
  EXPECT_EQ(stored_value(*backend, key), boost::json::parse(R"({"id": 42, "name": "user42"})"));
  const std::string fn = counter(*backend, "fn:app::load_user");
  const std::string users = counter(*backend, "tag:users");
  EXPECT_EQ(fn.size(), 33u);  // 128 random bits in hex, then a count
  EXPECT_EQ(command(*backend, "HGET", key, "g").as_string(),
            "fn:app::load_user=" + fn + "\ntag:users=" + users + "\n");
  EXPECT_EQ(command(*backend, "HEXISTS", key, "p").as_int(), 0);  // the write spent the permit
  const long long ms = pttl(*backend, key);
  EXPECT_GT(ms, 0);
  EXPECT_LE(ms, 300'000);
}

TEST(RedisBackend, WithoutAKeyTemplateTheKeyIsTheFunctionNameAndArguments) {
  auto backend = make_test_backend(shared_redis_url());
  cachet::cached<&app::twice, cachet::backend<cachet::redis>> f{*backend};
  EXPECT_EQ(f(21), 42);
  const std::string name(cachet::detail::function_name<&app::twice>());
  EXPECT_EQ(keys_of(*backend), std::vector<std::string>{base(*backend) + name + ":21"});
  // No ttl: no expiry.
  EXPECT_EQ(pttl(*backend, base(*backend) + name + ":21"), -1);
}

TEST(RedisBackend, TtlFromOptionsIsSetInMilliseconds) {
  auto backend = make_test_backend(shared_redis_url());
  cachet::cached<&app::twice, cachet::ttl<300>, cachet::key<"t:{}">, cachet::backend<cachet::redis>>
      f{*backend, cachet::options{.ttl = 1500ms, .capacity = {}}};
  f(1);
  const long long ms = pttl(*backend, base(*backend) + "t:1");
  EXPECT_GT(ms, 0);
  EXPECT_LE(ms, 1500);
}

TEST(RedisBackend, InvalidateTagReachesEveryFunctionCarryingIt) {
  auto backend = make_test_backend(shared_redis_url());
  cachet::cached<&app::load_user, cachet::key<"user:{}">, cachet::tags<"users", "user:{}">,
                 cachet::backend<cachet::redis>>
      get_user{*backend};
  cachet::cached<&app::load_user_name, cachet::key<"name:{}">, cachet::tags<"users">,
                 cachet::backend<cachet::redis>>
      get_name{*backend};

  get_user(1);
  get_user(2);
  get_name(1);
  const std::string before = counter(*backend, "tag:users");
  get_user.invalidate_tag("users");
  EXPECT_NE(counter(*backend, "tag:users"), before);

  EXPECT_EQ(get_user(1), (app::user{1, "user1"}));
  EXPECT_EQ(get_user(2), (app::user{2, "user2"}));
  EXPECT_EQ(get_name(1), "name1");
  EXPECT_EQ(get_user.stats().loads, 4u);
  EXPECT_EQ(get_user.stats().invalidations, 2u);
  EXPECT_EQ(get_name.stats().loads, 2u);
  EXPECT_EQ(get_name.stats().invalidations, 1u);

  // A tag rendered from the arguments reaches only its entry.
  backend->invalidate_tag("user:1");
  get_user(1);
  get_user(2);
  get_name(1);
  EXPECT_EQ(get_user.stats().loads, 5u);
  EXPECT_EQ(get_user.stats().hits, 1u);
  EXPECT_EQ(get_name.stats().hits, 1u);
}

TEST(RedisBackend, ClearOfAFunctionObjectLeavesOtherFunctionObjectsAlone) {
  auto backend = make_test_backend(shared_redis_url());
  auto square = cachet::make_cached<cachet::key<"square:{}">, cachet::backend<cachet::redis>>(
      [](int x) { return x * x; }, *backend);
  auto cube = cachet::make_cached<cachet::key<"cube:{}">, cachet::backend<cachet::redis>>(
      [](int x) { return x * x * x; }, *backend);
  EXPECT_EQ(square(3), 9);
  EXPECT_EQ(cube(3), 27);
  const std::string before = counter(*backend, "fn:square:{}");
  square.clear();
  EXPECT_EQ(square.peek(3), std::nullopt);
  EXPECT_EQ(cube.peek(3), 27);
  EXPECT_NE(counter(*backend, "fn:square:{}"), before);
}

TEST(RedisBackend, PeekInvalidateAndClear) {
  auto backend = make_test_backend(shared_redis_url());
  cachet::cached<&app::twice, cachet::key<"p:{}">, cachet::backend<cachet::redis>> f{*backend};

  EXPECT_EQ(f.peek(3), std::nullopt);
  EXPECT_EQ(f(3), 6);
  EXPECT_EQ(f.peek(3), 6);

  f.invalidate(3);
  EXPECT_EQ(f.peek(3), std::nullopt);
  EXPECT_EQ(keys_of(*backend), std::vector<std::string>{});

  f(3);
  f(4);
  const std::string name(cachet::detail::function_name<&app::twice>());
  const std::string before = counter(*backend, "fn:" + name);
  f.clear();  // O(1): the function's counter gets a fresh token
  EXPECT_NE(counter(*backend, "fn:" + name), before);
  EXPECT_EQ(f.peek(3), std::nullopt);
  EXPECT_EQ(f.peek(4), std::nullopt);
  EXPECT_EQ(f(3), 6);
  EXPECT_EQ(f(3), 6);

  const cachet::stats s = f.stats();
  EXPECT_EQ(s.loads, 4u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.invalidations, 1u);  // the cleared f(3) entry, found stale
}

TEST(RedisBackend, AnUnreadableEntryIsRecomputedCountedAndOverwritten) {
  auto backend = make_test_backend(shared_redis_url());
  user_cache get_user{*backend};
  const std::string key = base(*backend) + "user:5";
  const app::user expected{5, "user5"};

  EXPECT_EQ(get_user(5), expected);
  command(*backend, "HSET", key, "v", "{corrupt");
  EXPECT_EQ(get_user(5), expected);
  EXPECT_EQ(get_user.stats().decode_errors, 1u);
  EXPECT_EQ(get_user.stats().loads, 2u);
  EXPECT_EQ(stored_value(*backend, key), boost::json::value_from(expected));
  EXPECT_EQ(get_user(5), expected);  // overwritten: a hit

  // Well formed, but of another type (an older schema, say).
  command(*backend, "HSET", key, "v", R"("five")");
  EXPECT_EQ(get_user(5), expected);
  EXPECT_EQ(get_user(5), expected);

  const cachet::stats s = get_user.stats();
  EXPECT_EQ(s.decode_errors, 2u);
  EXPECT_EQ(s.loads, 3u);
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.backend_errors, 0u);
}

// A key of another type (another program's string, say) is left as it is: every call computes.
TEST(RedisBackend, AForeignKeyIsLeftIntactAndNeverServed) {
  auto backend = make_test_backend(shared_redis_url());
  user_cache get_user{*backend};
  const std::string key = base(*backend) + "user:6";
  command(*backend, "SET", key, R"({"id": 6, "name": "user6"})");
  EXPECT_EQ(get_user(6), (app::user{6, "user6"}));
  EXPECT_EQ(get_user(6), (app::user{6, "user6"}));
  EXPECT_EQ(command(*backend, "GET", key).as_string(), R"({"id": 6, "name": "user6"})");
  const cachet::stats s = get_user.stats();
  EXPECT_EQ(s.decode_errors, 2u);
  EXPECT_EQ(s.loads, 2u);
  EXPECT_EQ(s.hits, 0u);
  EXPECT_EQ(s.backend_errors, 0u);
  EXPECT_EQ(get_user.peek(6), std::nullopt);
}

// A counter of another type makes the entries that depend on it misses, and only those.
TEST(RedisBackend, ACorruptedCounterAffectsOnlyTheEntriesThatDependOnIt) {
  auto backend = make_test_backend(shared_redis_url());
  user_cache get_user{*backend};
  cachet::cached<&app::twice, cachet::key<"w:{}">, cachet::backend<cachet::redis>> f{*backend};
  command(*backend, "HSET", counters(*backend) + "tag:users", "x", "1");
  EXPECT_EQ(get_user(7), (app::user{7, "user7"}));
  EXPECT_EQ(get_user(7), (app::user{7, "user7"}));
  EXPECT_EQ(get_user.stats().loads, 2u);
  EXPECT_EQ(f(4), 8);
  EXPECT_EQ(f(4), 8);
  EXPECT_EQ(f.stats().hits, 1u);
  // An invalidation repairs it: the counter holds a token again.
  get_user.invalidate_tag("users");
  EXPECT_EQ(get_user(7), (app::user{7, "user7"}));
  EXPECT_EQ(get_user(7), (app::user{7, "user7"}));
  EXPECT_EQ(get_user.stats().hits, 1u);
  EXPECT_EQ(backend->pending_invalidations(), 0u);
}

TEST(RedisBackend, RedisDownReturnsTheFunctionsResultThenRecovers) {
  private_redis_server server;
  auto backend = make_test_backend(server.url(), 300ms);
  cachet::cached<&app::twice, cachet::key<"d:{}">, cachet::backend<cachet::redis>> f{*backend};
  cachet::cached<&app::refuse, cachet::key<"r:{}">, cachet::backend<cachet::redis>> g{*backend};
  EXPECT_EQ(f(1), 2);

  server.kill();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(f(1), 2);
  EXPECT_EQ(f(2), 4);
  // Each call waited at most about one request deadline for Redis.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2 * (300ms + 500ms));
  EXPECT_THROW(g(1), std::runtime_error);  // the function's own failure still propagates
  EXPECT_EQ(f.stats().backend_errors, 2u);
  EXPECT_EQ(f.stats().loads, 3u);
  EXPECT_EQ(g.stats().backend_errors, 1u);
  EXPECT_EQ(g.stats().load_errors, 1u);
  EXPECT_THROW(backend->invalidate_tag("x"), cachet::redis::request_error);

  server.restart();  // empty: persistence is off
  EXPECT_EQ(f(3), 6);
  EXPECT_EQ(f.stats().backend_errors, 2u);
  // The failed invalidate_tag was replayed before the call read Redis.
  EXPECT_EQ(keys_of(*backend), std::vector<std::string>{base(*backend) + "d:3"});
  EXPECT_EQ(command(*backend, "EXISTS", counters(*backend) + "tag:x").as_int(), 1);
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_EQ(f(3), 6);
  EXPECT_EQ(f.stats().hits, 1u);
}

TEST(RedisBackend, BlockingCallOnTheIoThreadFailsInsteadOfDeadlocking) {
  auto backend = make_test_backend(shared_redis_url());
  user_cache get_user{*backend};
  std::promise<std::error_code> call;
  std::promise<std::error_code> invalidation;
  auto code_of = [](auto&& action) {
    try {
      action();
    } catch (const cachet::redis::request_error& e) {
      return e.code();
    }
    return std::error_code{};
  };
  asio::post(backend->runtime().context(), [&] {
    call.set_value(code_of([&] { get_user(1); }));
    invalidation.set_value(code_of([&] { backend->invalidate_tag("users"); }));
  });
  EXPECT_EQ(call.get_future().get(), cachet::redis::error::blocking_call_on_io_thread);
  EXPECT_EQ(invalidation.get_future().get(), cachet::redis::error::blocking_call_on_io_thread);
  EXPECT_EQ(get_user(1), (app::user{1, "user1"}));  // off the I/O thread all is well
}

TEST(RedisBackend, AsyncGetOrLoadMissesThenHits) {
  auto backend = make_test_backend(shared_redis_url());
  store<app::user, 1> users{*backend, named("async_users")};
  asio::io_context io;
  int loads = 0;
  // Named, not literals: g++ 12 cannot keep a string literal argument in a coroutine frame.
  const std::string key = "user:1";
  const std::vector<std::string> tags{"users"};
  run(io, [&]() -> asio::awaitable<void> {
    auto a = co_await users.async_get_or_load(key, tags, [&] {
      ++loads;
      return app::user{1, "first"};
    });
    auto b = co_await users.async_get_or_load(key, tags, [&] {
      ++loads;
      return app::user{1, "second"};
    });
    EXPECT_EQ(a.name, std::string("first"));
    EXPECT_EQ(b.name, std::string("first"));
    co_await backend->async_invalidate_tag(tags[0]);
    // A loader that is itself a coroutine.
    auto c = co_await users.async_get_or_load(key, tags, [&]() -> asio::awaitable<app::user> {
      co_await pause(1ms);
      ++loads;
      co_return app::user{1, "third"};
    });
    EXPECT_EQ(c.name, std::string("third"));
  }());
  EXPECT_EQ(loads, 2);
  const cachet::stats s = users.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.loads, 2u);
  EXPECT_EQ(s.invalidations, 1u);
  EXPECT_EQ(stored_value(*backend, base(*backend) + "user:1").at("name"),
            boost::json::value("third"));
}

TEST(RedisBackend, CachedAsyncAndAsyncManyShareEntriesWithBlockingCalls) {
  auto backend = make_test_backend(shared_redis_url());
  user_cache get_user{*backend};
  asio::io_context io;
  const std::vector<long> ids{1, 2, 3};
  run(io, [&]() -> asio::awaitable<void> {
    const app::user first = co_await get_user.async(1);
    const app::user again = co_await get_user.async(1);
    EXPECT_EQ(first, (app::user{1, "user1"}));
    EXPECT_EQ(again, first);
    const std::vector<app::user> users = co_await get_user.async_many(ids);
    EXPECT_EQ(users, (std::vector<app::user>{{1, "user1"}, {2, "user2"}, {3, "user3"}}));
  }());
  EXPECT_EQ(get_user(3), (app::user{3, "user3"}));
  const cachet::stats s = get_user.stats();
  EXPECT_EQ(s.loads, 3u);
  EXPECT_EQ(s.hits, 3u);
  EXPECT_EQ(s.misses, 3u);
  EXPECT_EQ(keys_of(*backend).size(), 3u);
}

// An invalidation seen by a caller is never answered with a computation that started before it.
TEST(RedisBackend, ACallerAfterAnInvalidationDoesNotJoinAnOlderComputation) {
  auto backend = make_test_backend(shared_redis_url());
  store<std::string, 1> s{*backend, named("stale_flight")};
  asio::io_context io;
  const std::string key = "doc:1";
  const std::vector<std::string> tags{"docs"};
  bool first_loading = false;
  bool second_done = false;
  std::optional<std::string> first;
  run(io, [&]() -> asio::awaitable<void> {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          first = co_await s.async_get_or_load(key, tags, [&]() -> asio::awaitable<std::string> {
            first_loading = true;
            // Bounded: if the second caller wrongly joined this flight, it ends and the test fails.
            const bool second_computed =
                co_await wait_for_condition([&] { return second_done; }, condition_limit, 1ms);
            EXPECT_TRUE(second_computed) << "the second caller never ran its own computation";
            co_return std::string("old");
          });
        },
        asio::detached);
    const bool loading =
        co_await wait_for_condition([&] { return first_loading; }, condition_limit, 1ms);
    if (!loading) {
      ADD_FAILURE() << "the first caller's computation never started";
      co_return;
    }
    co_await backend->async_invalidate_tag(tags[0]);
    const std::string second = co_await s.async_get_or_load(key, tags, [&] {
      second_done = true;
      return std::string("new");
    });
    EXPECT_EQ(second, std::string("new"));
    const bool first_done =
        co_await wait_for_condition([&] { return first.has_value(); }, condition_limit, 1ms);
    EXPECT_TRUE(first_done) << "the first caller never got its computation's result";
  }());
  EXPECT_EQ(first, "old");  // the older caller gets its own computation's result
  EXPECT_EQ(s.stats().loads, 2u);
  // Only the current computation was stored.
  EXPECT_EQ(stored_value(*backend, base(*backend) + key), boost::json::value("new"));
  EXPECT_EQ(s.get_or_load(
                key, [&](auto&& on_tag) { on_tag(tags[0]); },
                [](std::string_view) { return std::string("newer"); }),
            "new");
}

TEST(RedisBackend, AsyncLoaderExceptionsPropagateAndAreNotStored) {
  auto backend = make_test_backend(shared_redis_url());
  store<int, 0> s{*backend, named("async_throw")};
  asio::io_context io;
  const std::string key = "e:1";
  run(io, [&]() -> asio::awaitable<void> {
    bool thrown = false;
    try {
      co_await s.async_get_or_load(key, {}, []() -> int { throw std::runtime_error("no"); });
    } catch (const std::runtime_error&) {
      thrown = true;
    }
    EXPECT_TRUE(thrown);
  }());
  EXPECT_EQ(s.stats().load_errors, 1u);
  EXPECT_FALSE(holds_value(*backend, base(*backend) + key));
}

// One read script per distinct key, pipelined; every position counts one hit or one miss.
TEST(RedisBackend, AsyncManyReadsEachKeyOnceAndKeepsTheOrder) {
  private_redis_server server;  // its own, so that the command count is ours alone
  auto backend = make_test_backend(server.url());
  store<int, 1> s{*backend, named("many")};
  asio::io_context io;
  std::vector<std::size_t> loaded;
  const std::vector<std::string> keys{"n:1", "n:2", "n:3", "n:1"};
  const std::vector<std::vector<std::string>> tags{{"t:1"}, {"t:2"}, {"t:3"}, {"t:1"}};
  const std::vector<std::string> later_keys{"n:3", "n:1", "n:1"};
  const std::vector<std::vector<std::string>> later_tags{{"t:3"}, {"t:1"}, {"t:1"}};
  run(io, [&]() -> asio::awaitable<void> {
    co_await s.async_get_or_load(keys[1], tags[1], [] { return 99; });
    const long long before = command_calls(*backend, "evalsha");
    auto values =
        co_await s.async_get_or_load_many(keys, tags, [&](std::size_t i) -> asio::awaitable<int> {
          loaded.push_back(i);
          co_return static_cast<int>(i) * 10 + 1;
        });
    // 3 reads (n:1 once), then 2 writes.
    EXPECT_EQ(command_calls(*backend, "evalsha") - before, 5);
    EXPECT_EQ(values, (std::vector<int>{1, 99, 21, 1}));
    EXPECT_EQ(s.stats().misses, 4u);  // n:2 alone, then n:1, n:3 and n:1 again
    EXPECT_EQ(s.stats().hits, 1u);    // n:2
    // Everything is stored now: a second batch is all hits, the repeated key's included.
    auto again =
        co_await s.async_get_or_load_many(later_keys, later_tags, [&](std::size_t) { return -1; });
    EXPECT_EQ(again, (std::vector<int>{21, 1, 1}));
  }());
  EXPECT_EQ(loaded, (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(s.stats().loads, 3u);
  EXPECT_EQ(s.stats().hits, 4u);
  EXPECT_EQ(s.stats().misses, 4u);
}

TEST(RedisBackend, ACoroutineFunctionWorksFromABlockingCall) {
  auto backend = make_test_backend(shared_redis_url());
  store<int, 0> s{*backend, named("coro")};
  auto load = [](std::string_view key) -> asio::awaitable<int> {
    co_await pause(1ms);
    co_return static_cast<int>(key.size());
  };
  EXPECT_EQ(s.get_or_load(
                "abc", [](auto&&) {}, load),
            3);
  EXPECT_EQ(s.get_or_load(
                "abc", [](auto&&) {}, load),
            3);
  EXPECT_EQ(s.stats().loads, 1u);
  EXPECT_EQ(s.stats().hits, 1u);
}

TEST(RedisBackend, ACustomCodecsTextIsStoredAsItIs) {
  auto backend = make_test_backend(shared_redis_url());
  store<app::point, 0, app::point_codec> s{*backend, named("points")};
  auto load = [](std::string_view) { return app::point{3, 4}; };
  s.get_or_load(
      "pt", [](auto&&) {}, load);
  const auto hit = s.get_or_load(
      "pt", [](auto&&) {}, load);
  EXPECT_EQ(hit.x, 3);
  EXPECT_EQ(hit.y, 4);
  EXPECT_EQ(command(*backend, "HGET", base(*backend) + "pt", "v").as_string(), "3,4");
  EXPECT_EQ(s.stats().hits, 1u);
}

// Entries are "<prefix>:v1:...", counters "<prefix>:v1#...": no key can reach a counter.
TEST(RedisBackend, AKeyLikeACountersNameIsAnOrdinaryEntry) {
  auto backend = make_test_backend(shared_redis_url());
  cachet::cached<&app::twice, cachet::key<"tag:{}">, cachet::backend<cachet::redis>> f{*backend};
  cachet::cached<&tag, cachet::backend<cachet::redis>> by_default_key{*backend};
  EXPECT_EQ(f(1), 2);
  EXPECT_EQ(by_default_key(42), 43);
  backend->invalidate_tag("1");
  backend->invalidate_tag("42");
  EXPECT_EQ(f(1), 2);
  EXPECT_EQ(by_default_key(42), 43);
  EXPECT_EQ(f.stats().hits, 1u);
  EXPECT_EQ(by_default_key.stats().hits, 1u);
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  const std::vector<std::string> entries{base(*backend) + "tag:1", base(*backend) + "tag:42"};
  EXPECT_EQ(keys_of(*backend), entries);
}

// Without a key template it fails to compile: tests/compile_fail/redis_lambda_without_key.cpp.
TEST(RedisBackend, AFunctionObjectIsStoredUnderItsKeyTemplate) {
  auto backend = make_test_backend(shared_redis_url());
  auto fn = [](int x) { return x; };
  using keyed_lambda = cachet::cached_function<decltype(fn), cachet::key<"lambda:{}">,
                                               cachet::backend<cachet::redis>>;
  keyed_lambda keyed(fn, *backend);
  EXPECT_EQ(keyed(8), 8);
  EXPECT_EQ(keys_of(*backend), std::vector<std::string>{base(*backend) + "lambda:8"});
}

TEST(RedisBackend, TwoFunctionsOnOneBackendDoNotShareEntries) {
  auto backend = make_test_backend(shared_redis_url());
  cachet::cached<&app::twice, cachet::backend<cachet::redis>> f{*backend};
  cachet::cached<&app::thrice, cachet::backend<cachet::redis>> g{*backend};
  EXPECT_EQ(f(5), 10);
  EXPECT_EQ(g(5), 15);
  EXPECT_EQ(f(5), 10);
  EXPECT_EQ(g(5), 15);
  EXPECT_EQ(keys_of(*backend).size(), 2u);
}

}  // namespace
