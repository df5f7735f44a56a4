// A function that is itself a coroutine, cached through cached<> on the Redis backend: its T is
// stored, and both the blocking call and async() await it.
#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/redis_server.hpp"

namespace app {

int loads = 0;

boost::asio::awaitable<std::string> fetch_profile(int id) {
  ++loads;
  co_return "profile-" + std::to_string(id);
}

std::string name_of(long id) { return "name-" + std::to_string(id); }

}  // namespace app

namespace {

using namespace std::chrono_literals;

std::unique_ptr<cachet::redis> make_backend() {
  auto cfg = cachet::redis::config::from_url(cachet_test::shared_redis_url());
  cfg.request_timeout = 2000ms;
  const std::string prefix = "cachet-test-" + std::to_string(::getpid()) + "-coroutine-function";
  return std::make_unique<cachet::redis>(cfg, cachet::redis_options{.key_prefix = prefix});
}

TEST(RedisCoroutineFunction, ItsResultIsCachedForBlockingAndAsyncCalls) {
  auto backend = make_backend();
  cachet::cached<&app::fetch_profile, cachet::key<"profile:{}">, cachet::ttl<60>,
                 cachet::backend<cachet::redis>>
      profile{*backend};
  static_assert(std::is_same_v<decltype(profile(1)), std::string>);

  app::loads = 0;
  EXPECT_EQ(profile(7), "profile-7");
  EXPECT_EQ(profile(7), "profile-7");
  EXPECT_EQ(app::loads, 1);

  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<std::string> { co_return co_await profile.async(7); },
      boost::asio::use_future);
  io.run();
  EXPECT_EQ(result.get(), "profile-7");
  EXPECT_EQ(app::loads, 1);
  EXPECT_EQ(profile.peek(7), std::optional<std::string>("profile-7"));
  const cachet::stats s = profile.stats();
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.hits, 2u);
}

TEST(RedisAsyncMany, TakesAnyRangeOfConvertibleArguments) {
  auto backend = make_backend();
  cachet::cached<&app::name_of, cachet::key<"name:{}">, cachet::backend<cachet::redis>> names{
      *backend};
  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<std::vector<std::string>> {
        // g++ 12 rejects a braced list inside a co_await expression ("array used as
        // initializer"), so the range is named first.
        const std::vector ids{1, 2, 3};  // ints for a long parameter
        co_return co_await names.async_many(ids);
      },
      boost::asio::use_future);
  io.run();
  EXPECT_EQ(result.get(), (std::vector<std::string>{"name-1", "name-2", "name-3"}));
  EXPECT_EQ(names(2), "name-2");
  EXPECT_EQ(names.stats().loads, 3u);
}

}  // namespace
