// The same coroutine call sites, compiled and run against the in-memory backend, Redis and the
// two tiers: a service switches backends by changing one policy, not its calls.
#include <cachet/async.hpp>
#include <cachet/redis.hpp>
#include <cachet/tiered.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <exception>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

namespace asio = boost::asio;

struct on_memory {
  using backend = cachet::memory;
  static std::unique_ptr<cachet::memory> make() { return std::make_unique<cachet::memory>(); }
};

struct on_redis {
  using backend = cachet::redis;
  static std::unique_ptr<cachet::redis> make() {
    return cachet_test::make_test_backend(cachet_test::shared_redis_url());
  }
};

// Memory in front of Redis, owning both (a tiered backend must not outlive them).
struct tiers_parts {
  cachet::memory mem;
  std::unique_ptr<cachet::redis> remote =
      cachet_test::make_test_backend(cachet_test::shared_redis_url());
};
struct owned_tiers : tiers_parts, cachet::tiered<cachet::memory, cachet::redis> {
  owned_tiers() : cachet::tiered<cachet::memory, cachet::redis>(mem, *remote) {}
};

struct on_tiered {
  using backend = cachet::tiered<cachet::memory, cachet::redis>;
  static std::unique_ptr<owned_tiers> make() { return std::make_unique<owned_tiers>(); }
};

template <class Body>
void run_coroutine(Body body) {
  asio::io_context io;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

int quotes = 0;
std::string quote(const std::string& symbol, int venue) {
  ++quotes;
  return symbol + "@" + std::to_string(venue);
}

struct desk {
  int prices = 0;
  long price(int id) {
    ++prices;
    return id * 100L;
  }
};

template <class Backend>
struct async_backends : ::testing::Test {
  void SetUp() override { quotes = 0; }
  decltype(Backend::make()) store = Backend::make();
};

using backends = ::testing::Types<on_memory, on_redis, on_tiered>;
TYPED_TEST_SUITE(async_backends, backends);

TYPED_TEST(async_backends, async_computes_a_miss_once_and_serves_the_hit) {
  using backend = typename TypeParam::backend;
  cachet::cached<&quote, cachet::backend<backend>, cachet::ttl<60>, cachet::key<"quote:{}:{}">>
      get_quote{*this->store};
  run_coroutine([&]() -> asio::awaitable<void> {
    const std::string first = co_await get_quote.async("ACME", 7);
    const std::string second = co_await get_quote.async("ACME", 7);
    EXPECT_EQ(first, "ACME@7");
    EXPECT_EQ(second, "ACME@7");
  });
  EXPECT_EQ(quotes, 1);
  EXPECT_EQ(get_quote("ACME", 7), "ACME@7");  // the blocking call shares the entries
  EXPECT_EQ(quotes, 1);
}

TYPED_TEST(async_backends, async_many_takes_a_range_of_tuples) {
  using backend = typename TypeParam::backend;
  cachet::cached<&quote, cachet::backend<backend>, cachet::ttl<60>, cachet::key<"quote:{}:{}">>
      get_quote{*this->store};
  const std::vector<std::tuple<std::string, int>> calls{{"ACME", 1}, {"INIT", 2}, {"ACME", 1}};
  run_coroutine([&]() -> asio::awaitable<void> {
    const std::vector<std::string> got = co_await get_quote.async_many(calls);
    const std::vector<std::string> expected{"ACME@1", "INIT@2", "ACME@1"};
    EXPECT_EQ(got, expected);
  });
  EXPECT_EQ(quotes, 2);
}

TYPED_TEST(async_backends, a_member_functions_object_comes_first) {
  using backend = typename TypeParam::backend;
  cachet::cached<&desk::price, cachet::backend<backend>, cachet::ttl<60>> price{*this->store};
  desk d;
  run_coroutine([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await price.async(d, 3), 300);
    EXPECT_EQ(co_await price.async(d, 3), 300);
  });
  EXPECT_EQ(d.prices, 1);
}

}  // namespace
