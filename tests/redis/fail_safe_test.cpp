// cachet::fail_safe on the Redis store: entries say until when they are fresh, outlive their ttl
// by max_stale, and stale() serves them after a failed call unless they were invalidated.

#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using cachet_test::make_degradable_backend;
using cachet_test::raw_command;
using cachet_test::time_of;

using text_store = cachet::redis::store<std::string, 1>;

constexpr auto ttl = 10s;
constexpr auto max_stale = 60s;

cachet::detail::store_settings settings(const cachet::clock* clock,
                                        std::chrono::nanoseconds stale_for = max_stale) {
  return {.name = "fail_safe",
          .ttl = ttl,
          .capacity = 0,
          .has_key_template = true,
          .clock = clock,
          .max_stale = stale_for};
}

std::int64_t ms_of(const cachet::clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch())
      .count();
}

// A store and the calls the tests make on it; the tag of every entry is "docs".
struct rig {
  explicit rig(const std::string& url, const cachet::clock* clock,
               std::chrono::nanoseconds stale_for = max_stale,
               cachet::redis_options::breaker_options breaker = {})
      : url(url),
        backend(make_degradable_backend(url, 400ms, std::move(breaker))),
        store(*backend, settings(clock, stale_for)) {}

  std::string call(const std::string& key, const std::string& result) {
    return store.get_or_load(
        key, [](auto&& on_tag) { on_tag("docs"); }, [&](std::string_view) { return result; });
  }

  std::string redis_key(const std::string& key) const {
    return backend->key_options().key_prefix + ":v1:" + key;
  }

  // The entry's fields: "value" (the JSON of v) and "fresh_until" (f), when present.
  boost::json::object entry(const std::string& key) {
    boost::json::object out;
    const auto v = raw_command(url, "HGET", redis_key(key), "v");
    if (!v.is_null()) out["value"] = boost::json::parse(v.as_string());
    const auto f = raw_command(url, "HGET", redis_key(key), "f");
    if (!f.is_null()) out["fresh_until"] = std::stoll(f.as_string());
    return out;
  }

  long long pttl(const std::string& key) {
    return raw_command(url, "PTTL", redis_key(key)).as_int();
  }

  std::string url;
  std::unique_ptr<cachet::redis> backend;
  text_store store;
};

TEST(RedisFailSafe, AnEntrySaysUntilWhenItIsFreshAndOutlivesItsTtlByMaxStale) {
  cachet::manual_clock clock;
  clock.advance(1000h);
  rig r(cachet_test::shared_redis_url(), &clock);

  EXPECT_EQ(r.call("doc:1", "v1"), "v1");
  auto fields = r.entry("doc:1");
  EXPECT_EQ(fields.at("fresh_until"), ms_of(clock) + 10'000);
  EXPECT_EQ(fields.at("value"), "v1");
  const long long kept = r.pttl("doc:1");
  EXPECT_GT(kept, 60'000);  // past the ttl, for stale()
  EXPECT_LE(kept, 70'000);

  clock.advance(9s);
  EXPECT_EQ(r.call("doc:1", "v2"), "v1");  // still fresh
  clock.advance(2s);
  EXPECT_EQ(r.call("doc:1", "v2"), "v2");  // expired: a miss, recomputed and overwritten
  const cachet::stats s = r.store.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.expirations, 1u);
  EXPECT_EQ(s.loads, 2u);
  fields = r.entry("doc:1");
  EXPECT_EQ(fields.at("value"), "v2");
  EXPECT_EQ(fields.at("fresh_until"), ms_of(clock) + 10'000);
}

TEST(RedisFailSafe, StaleServesAFreshOrExpiredEntryUntilItIsInvalidated) {
  cachet::manual_clock clock;
  rig r(cachet_test::shared_redis_url(), &clock);
  EXPECT_EQ(r.store.stale("doc:1"), std::nullopt);  // nothing stored

  r.call("doc:1", "v1");
  EXPECT_EQ(r.store.stale("doc:1"), "v1");  // fresh
  clock.advance(11s);
  EXPECT_EQ(r.store.peek("doc:1"), std::nullopt);  // peek wants it fresh
  EXPECT_EQ(r.store.stale("doc:1"), "v1");
  asio::io_context io;
  std::optional<std::string> from_coroutine;
  asio::co_spawn(io, r.store.async_stale("doc:1"),
                 [&](std::exception_ptr e, std::optional<std::string> v) {
                   if (e) std::rethrow_exception(e);
                   from_coroutine = std::move(v);
                 });
  io.run();
  EXPECT_EQ(from_coroutine, "v1");
  EXPECT_EQ(r.store.stats().stale_served, 3u);

  r.backend->invalidate_tag("docs");
  EXPECT_EQ(r.store.stale("doc:1"), std::nullopt);
  r.call("doc:1", "v2");
  r.store.clear();
  EXPECT_EQ(r.store.stale("doc:1"), std::nullopt);
  r.call("doc:1", "v3");
  EXPECT_EQ(r.store.stale("doc:1"), "v3");
  r.store.erase("doc:1");
  EXPECT_EQ(r.store.stale("doc:1"), std::nullopt);
  EXPECT_EQ(r.store.stats().stale_served, 4u);
}

TEST(RedisFailSafe, StaleFindsNothingWithoutThrowingWhenRedisFailsOrTheBreakerIsOpen) {
  cachet_test::private_redis_server server;
  cachet::manual_clock clock;
  rig r(server.url(), &clock, max_stale,
        {.consecutive_failures = 2, .cooldown = 10s, .clock = &clock});
  r.call("doc:1", "v1");
  clock.advance(11s);

  server.pause();
  EXPECT_EQ(r.store.stale("doc:1"), std::nullopt);  // times out
  EXPECT_EQ(r.store.stale("doc:1"), std::nullopt);  // times out, and opens the breaker
  EXPECT_EQ(r.backend->backend_state(), cachet::circuit_state::open);
  EXPECT_LT(time_of([&] { EXPECT_EQ(r.store.stale("doc:1"), std::nullopt); }), 400ms);
  cachet::stats s = r.store.stats();
  EXPECT_EQ(s.backend_errors, 2u);
  EXPECT_EQ(s.backend_skipped, 1u);
  EXPECT_EQ(s.stale_served, 0u);
  server.resume();

  clock.advance(10s);  // the cooldown: stale()'s GET is the probe that closes the breaker
  EXPECT_EQ(r.store.stale("doc:1"), "v1");
  EXPECT_EQ(r.backend->backend_state(), cachet::circuit_state::closed);
}

TEST(RedisFailSafe, WithoutMaxStaleEntriesCarryNoFreshUntilAndExpireWithTheirTtl) {
  cachet::manual_clock clock;
  rig r(cachet_test::shared_redis_url(), &clock, 0s);
  r.call("doc:1", "v1");
  EXPECT_FALSE(r.entry("doc:1").contains("fresh_until"));
  EXPECT_LE(r.pttl("doc:1"), 10'000);
  clock.advance(1000h);  // Redis, not this clock, decides when such an entry goes
  EXPECT_EQ(r.call("doc:1", "v2"), "v1");
  EXPECT_EQ(r.store.stale("doc:1"), "v1");
}

TEST(RedisFailSafe, AStoreWithoutFailSafeStillHonoursFreshUntilWrittenByAnother) {
  cachet::manual_clock clock;
  rig writer(cachet_test::shared_redis_url(), &clock);
  text_store reader(*writer.backend, settings(&clock, 0s));
  writer.call("doc:1", "v1");
  auto call = [&](const std::string& result) {
    return reader.get_or_load(
        "doc:1", [](auto&& on_tag) { on_tag("docs"); }, [&](std::string_view) { return result; });
  };
  EXPECT_EQ(call("v2"), "v1");
  clock.advance(11s);
  EXPECT_EQ(call("v2"), "v2");
  EXPECT_EQ(reader.stats().expirations, 1u);
}

TEST(RedisFailSafe, AMalformedFreshUntilIsADecodeError) {
  cachet::manual_clock clock;
  rig r(cachet_test::shared_redis_url(), &clock);
  r.call("doc:1", "old");
  raw_command(r.url, "HSET", r.redis_key("doc:1"), "f", "soon");
  EXPECT_EQ(r.call("doc:1", "v1"), "v1");
  EXPECT_EQ(r.store.stats().decode_errors, 1u);
  EXPECT_EQ(r.entry("doc:1").at("value"), "v1");
}

TEST(RedisFailSafe, WithoutAClockFreshUntilIsUnixTimeInMilliseconds) {
  rig r(cachet_test::shared_redis_url(), nullptr);
  auto unix_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const std::int64_t before = unix_ms();
  r.call("doc:1", "v1");
  const std::int64_t after = unix_ms();
  const std::int64_t fresh_until = r.entry("doc:1").at("fresh_until").as_int64();
  EXPECT_GE(fresh_until, before + 10'000);
  EXPECT_LE(fresh_until, after + 10'000);
}

}  // namespace
