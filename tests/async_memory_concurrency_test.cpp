// async() on the in-memory backend from two io_context threads: coroutines on one key share one
// flight of a load that suspends, whichever thread they run on, and every one gets its result.
#include <cachet.hpp>
#include <cachet/async.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;

constexpr int coroutines = 64;
constexpr int keys = 4;

// A latch for coroutines on any thread: they wait until it opens, then resume on their own
// executors.
class latch_gate {
 public:
  asio::awaitable<void> pass() {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [this](auto handler) {
          auto held = std::make_shared<decltype(handler)>(std::move(handler));
          std::function<void()> resume = [held] {
            auto executor = asio::get_associated_executor(*held);
            asio::post(executor, std::move(*held));
          };
          std::unique_lock lock(mutex_);
          if (open_) {
            lock.unlock();
            resume();
          } else {
            waiting_.push_back(std::move(resume));
          }
        },
        asio::use_awaitable);
  }

  void open() {
    std::vector<std::function<void()>> waiting;
    {
      std::lock_guard lock(mutex_);
      open_ = true;
      waiting.swap(waiting_);
    }
    for (auto& resume : waiting) resume();
  }

 private:
  std::mutex mutex_;
  bool open_ = false;
  std::vector<std::function<void()>> waiting_;
};

std::atomic<int> loads{0};
latch_gate* gate = nullptr;

asio::awaitable<int> slow_square(int x) {
  loads.fetch_add(1);
  co_await gate->pass();
  co_return x* x;
}

TEST(async_memory_concurrency, coroutines_on_two_threads_share_one_flight_per_key) {
  asio::io_context io(2);
  latch_gate opened;
  gate = &opened;
  cachet::memory mem;
  cachet::cached<&slow_square, cachet::ttl<60>> c{mem};
  std::atomic<int> asked{0};
  std::atomic<int> right{0};
  for (int i = 0; i < coroutines; ++i) {
    asio::co_spawn(
        io,
        [&, key = i % keys]() -> asio::awaitable<void> {
          // The last to ask opens the gate, so that most of them meet a flight under way.
          if (asked.fetch_add(1) + 1 == coroutines) opened.open();
          const int value = co_await c.async(key);
          if (value == key * key) right.fetch_add(1);
        },
        asio::detached);
  }
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  EXPECT_EQ(right.load(), coroutines);
  EXPECT_EQ(loads.load(), keys);
  gate = nullptr;
}

}  // namespace
