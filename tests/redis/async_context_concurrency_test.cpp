// redis_options::async_context (issue #11): coroutines of the application's io_context await
// cached calls on a connection the backend keeps on that io_context, on their own threads,
// without the backend's I/O thread.
#include <cachet/async.hpp>
#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {

std::atomic<int> loads{0};

long cube(long x) {
  loads.fetch_add(1);
  return x * x * x;
}

}  // namespace app

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using cube_cache = cachet::cached<&app::cube, cachet::ttl<60>, cachet::key<"cube:{}">,
                                  cachet::backend<cachet::redis>>;

std::unique_ptr<cachet::redis> backend_on(asio::io_context& io) {
  return std::make_unique<cachet::redis>(
      cachet_test::degraded_config(cachet_test::shared_redis_url(), 5000ms),
      cachet::redis_options{.key_prefix = cachet_test::test_prefix(), .async_context = &io});
}

// Keeps the backend's I/O thread busy until released: work that needs it waits meanwhile.
class io_thread_blocker {
 public:
  explicit io_thread_blocker(cachet::redis& backend) {
    // Called off the application's io_context: the I/O thread's own client.
    asio::post(backend.connection().get_executor(), [released = released_] { released.wait(); });
  }
  io_thread_blocker(const io_thread_blocker&) = delete;
  io_thread_blocker& operator=(const io_thread_blocker&) = delete;
  ~io_thread_blocker() { release(); }
  void release() {
    if (!done_) release_.set_value();
    done_ = true;
  }

 private:
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  bool done_ = false;
};

constexpr int coroutines = 64;
constexpr int calls_per_coroutine = 20;
constexpr long distinct_keys = 10;

// `coroutines` coroutines on `io`, each calling `calls_per_coroutine` times over the keys; counts
// wrong answers and finished coroutines.
struct callers {
  std::atomic<int> wrong{0};
  std::atomic<int> finished{0};
  std::atomic<int> failed{0};

  void spawn(asio::io_context& io, cube_cache& f) {
    for (int c = 0; c < coroutines; ++c) {
      asio::co_spawn(
          io,
          [this, &f, c]() -> asio::awaitable<void> {
            for (int n = 0; n < calls_per_coroutine; ++n) {
              const long x = (c + n) % distinct_keys;
              if (co_await f.async(x) != x * x * x) ++wrong;
            }
            ++finished;
          },
          [this](std::exception_ptr e) {
            if (e) ++failed;
          });
    }
  }
};

class AsyncContext : public ::testing::Test {
 protected:
  void SetUp() override { app::loads = 0; }
};

// With the I/O thread blocked, every coroutine of the application's io_context still gets its
// answers (misses written, hits read): none of it went through that thread.
TEST_F(AsyncContext, CoroutinesThereNeedNoIOThread) {
  asio::io_context io;
  auto backend = backend_on(io);
  cube_cache f{*backend};
  io_thread_blocker blocked(*backend);
  callers c;
  c.spawn(io, f);
  std::thread runner([&] {
    while (c.finished + c.failed < coroutines && io.run_one() > 0) {
    }
  });
  const bool served_while_blocked =
      cachet_test::wait_until([&] { return c.finished + c.failed == coroutines; }, 20s);
  blocked.release();  // lets the calls finish, should they have gone to the I/O thread
  runner.join();
  EXPECT_TRUE(served_while_blocked) << "the calls waited for the backend's I/O thread";
  EXPECT_EQ(c.failed.load(), 0);
  EXPECT_EQ(c.wrong.load(), 0);
  EXPECT_EQ(app::loads.load(), distinct_keys);
  const cachet::stats s = f.stats();
  // A caller that joined a computation under way counts as a miss too.
  EXPECT_EQ(s.hits + s.misses, static_cast<std::uint64_t>(coroutines * calls_per_coroutine));
  EXPECT_EQ(s.backend_errors, 0u);
}

// An io_context run by several threads: its coroutines share the one connection, single flight
// holds across the threads, and every answer is right.
TEST_F(AsyncContext, ThreadsRunningTheContextShareItsConnection) {
  asio::io_context io;
  auto backend = backend_on(io);
  cube_cache f{*backend};
  callers c;
  c.spawn(io, f);
  std::vector<std::thread> runners;
  for (int t = 0; t < 3; ++t) {
    runners.emplace_back([&] {
      while (c.finished + c.failed < coroutines && io.run_one() > 0) {
      }
      io.stop();  // wakes the other runners once every coroutine is done
    });
  }
  for (auto& r : runners) r.join();
  EXPECT_EQ(c.finished.load(), coroutines);
  EXPECT_EQ(c.wrong.load(), 0);
  EXPECT_EQ(app::loads.load(), distinct_keys);
  const cachet::stats s = f.stats();
  // A caller that joined a computation under way counts as a miss too.
  EXPECT_EQ(s.hits + s.misses, static_cast<std::uint64_t>(coroutines * calls_per_coroutine));
  EXPECT_EQ(s.backend_errors, 0u);
  // Blocking calls from another thread still work, on a connection of their own.
  EXPECT_EQ(f(3), 27);
  EXPECT_EQ(app::loads.load(), distinct_keys);
}

// The connection on the application's io_context is the backend's: once the backend is gone,
// the io_context runs out of work and run() returns.
TEST_F(AsyncContext, TheContextRunsOutOfWorkOnceTheBackendIsGone) {
  asio::io_context io;
  {
    auto backend = backend_on(io);
    cube_cache f{*backend};
    long answer = 0;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { answer = co_await f.async(4); }, asio::detached);
    while (answer == 0 && io.run_one() > 0) {
    }
    EXPECT_EQ(answer, 64);
  }
  std::promise<void> ran_out;
  std::future<void> returned = ran_out.get_future();
  std::thread runner([&] {
    io.restart();
    io.run();
    ran_out.set_value();
  });
  const bool ended = returned.wait_for(20s) == std::future_status::ready;
  if (!ended) io.stop();
  runner.join();
  EXPECT_TRUE(ended) << "the backend left work on the application's io_context";
}

}  // namespace
