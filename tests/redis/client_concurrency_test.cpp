// The client shared by coroutines running on several threads at once (run under TSan too).

#include <cachet/redis/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "redis/client_test_support.hpp"
#include "support/redis_server.hpp"

namespace {

namespace asio = boost::asio;
namespace redis = cachet::resp3;
using namespace std::chrono_literals;

TEST(RedisClientConcurrency, CoroutinesOnManyThreadsGetTheirOwnReplies) {
  constexpr int coroutines = 200;
  constexpr int rounds = 5;
  constexpr int threads = 4;
  asio::io_context io(threads);
  auto cfg = cachet_test::fast_config(cachet_test::shared_redis_url());
  std::optional<redis::client> c(std::in_place, io.get_executor(), cfg);
  std::atomic<int> finished{0};
  std::atomic<int> correct{0};
  std::atomic<int> failed{0};
  // Captureless: a coroutine lambda's captures die with the lambda object, its parameters live
  // in the coroutine frame.
  auto worker = [](redis::client& c, int i) -> asio::awaitable<int> {
    int ok = 0;
    for (int r = 0; r < rounds; ++r) {
      const auto key = cachet_test::unique_key(std::to_string(i));
      const auto val = std::to_string(i) + "/" + std::to_string(r) + std::string(i % 17, 'x');
      auto set = co_await c.exec("SET", key, val, "PX", 10000);
      auto get = co_await c.exec("GET", key);
      redis::request pipeline;
      pipeline.push("STRLEN", key);
      pipeline.push("ECHO", val);
      auto both = co_await c.exec(pipeline);
      if (set.text == "OK" && get.as_string() == val && both.size() == 2 &&
          both[0].as_int() == static_cast<std::int64_t>(val.size()) && both[1].as_string() == val)
        ++ok;
    }
    co_return ok;
  };
  for (int i = 0; i < coroutines; ++i) {
    asio::co_spawn(io, worker(*c, i), [&](std::exception_ptr e, int ok) {
      if (e) ++failed;
      if (!e && ok == rounds) ++correct;
      // The last one closes the client so that io.run() returns on every thread.
      if (++finished == coroutines) c->close();
    });
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back([&] { io.run_for(60s); });
  for (auto& t : pool) t.join();
  EXPECT_EQ(finished.load(), coroutines);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(correct.load(), coroutines);
  EXPECT_TRUE(io.stopped()) << "the closed client left work on the io_context";
}

}  // namespace
