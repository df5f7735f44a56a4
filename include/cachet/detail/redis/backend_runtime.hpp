#ifndef CACHET_DETAIL_REDIS_BACKEND_RUNTIME_HPP
#define CACHET_DETAIL_REDIS_BACKEND_RUNTIME_HPP

#include <cachet/detail/redis/backend_breaker.hpp>
#include <cachet/redis/client.hpp>
#include <cachet/redis/config.hpp>
#include <cachet/redis/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

namespace cachet::detail {

// What a Redis backend runs on: an io_context on a thread of its own, and one client (one
// connection, pipelined) on it, guarded by one circuit breaker. Blocking calls hand their work
// to that thread and wait for it.
class redis_runtime {
 public:
  redis_runtime(resp3::config cfg, std::string key_base,
                redis_backend_breaker::settings breaker = {})
      : breaker_(std::move(breaker)),
        work_(boost::asio::make_work_guard(io_)),
        client_(io_.get_executor(), std::move(cfg)),
        key_base_(std::move(key_base)) {
    client_.start();
    thread_ = std::thread([this] { io_.run(); });
  }

  redis_runtime(const redis_runtime&) = delete;
  redis_runtime& operator=(const redis_runtime&) = delete;

  // The client finishes its background work once closed, so the thread's run() returns.
  ~redis_runtime() {
    client_.close();
    work_.reset();
    thread_.join();
  }

  resp3::client& client() noexcept { return client_; }
  boost::asio::io_context& context() noexcept { return io_; }

  /// "<prefix>:v<schema>:", which every key of the backend starts with.
  const std::string& key_base() const noexcept { return key_base_; }

  /// Decides which operations of cached calls may use Redis.
  redis_backend_breaker& breaker() noexcept { return breaker_; }

  /// Counts this process's tag invalidations. A computation stamped with no generations (Redis
  /// was not read) is joined only by callers that saw the same count, so a caller never gets a
  /// result computed before an invalidate_tag it made.
  std::uint64_t tag_epoch() const noexcept { return tag_epoch_.load(std::memory_order_acquire); }
  void bump_tag_epoch() noexcept { tag_epoch_.fetch_add(1, std::memory_order_acq_rel); }

  bool on_io_thread() const noexcept { return work_.get_executor().running_in_this_thread(); }

  /// Throws request_error(blocking_call_on_io_thread) on the I/O thread, where a blocking call
  /// would wait for the thread it blocks.
  void require_off_io_thread(std::string_view what) const {
    if (on_io_thread()) {
      throw resp3::request_error(
          resp3::error::blocking_call_on_io_thread,
          "cachet::redis: " + std::string(what) +
              " blocks, and was called on the Redis backend's own I/O thread, where it would wait "
              "for itself forever; from coroutines running there, co_await the async form "
              "(cached::async, redis::async_invalidate_tag)");
    }
  }

  /// An invalidation's command (DEL, INCR) on `key`: sent whatever the breaker says, since a
  /// lost invalidation must surface; its outcome still feeds the breaker, its failure is thrown.
  boost::asio::awaitable<void> invalidation(std::string command, std::string key) {
    redis_backend_breaker::ticket ticket = breaker_.bypass();
    std::exception_ptr failure;
    try {
      co_await client_.exec(command, key);
      ticket.answered();
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      ticket.report(failure);
      std::rethrow_exception(failure);
    }
  }

  /// Runs `op` on the I/O thread and waits for its result (or exception).
  template <class T>
  T run(boost::asio::awaitable<T> op) {
    require_off_io_thread("a blocking cache operation");
    auto result = std::make_shared<std::promise<T>>();
    auto ready = result->get_future();
    if constexpr (std::is_void_v<T>) {
      boost::asio::co_spawn(io_, std::move(op), [result](std::exception_ptr e) {
        e ? result->set_exception(e) : result->set_value();
      });
    } else {
      boost::asio::co_spawn(io_, std::move(op), [result](std::exception_ptr e, T value) {
        e ? result->set_exception(e) : result->set_value(std::move(value));
      });
    }
    return ready.get();
  }

 private:
  // First, so that it outlives the coroutines the io_context destroys: their tickets report to it.
  redis_backend_breaker breaker_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  resp3::client client_;
  std::string key_base_;
  std::atomic<std::uint64_t> tag_epoch_{0};
  std::thread thread_;
};

}  // namespace cachet::detail

#endif
