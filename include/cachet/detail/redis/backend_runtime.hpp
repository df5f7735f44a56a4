#ifndef CACHET_DETAIL_REDIS_BACKEND_RUNTIME_HPP
#define CACHET_DETAIL_REDIS_BACKEND_RUNTIME_HPP

#include <cachet/detail/redis/backend_breaker.hpp>
#include <cachet/detail/redis/invalidation_backlog.hpp>
#include <cachet/redis/client.hpp>
#include <cachet/redis/config.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace cachet::detail {

// What a Redis backend runs on: an io_context on a thread of its own, and one client (one
// connection, pipelined) on it, guarded by one circuit breaker. Blocking calls hand their work
// to that thread and wait for it.
//
// Invalidations that fail are kept in a backlog (invalidation_backlog.hpp) until Redis confirms
// them. While it is not empty, no operation of a cached call uses Redis before the backlog is
// replayed (confirm_invalidations()): an entry a pending invalidation should have removed may
// still be there. The backlog and the replay live on the I/O thread, so they need no lock;
// other threads see only its size, mirrored in an atomic.
class redis_runtime {
 public:
  redis_runtime(resp3::config cfg, std::string key_base, std::string counter_base,
                redis_backend_breaker::settings breaker = {},
                std::size_t max_pending_deletes = 10'000)
      : breaker_(std::move(breaker)),
        work_(boost::asio::make_work_guard(io_)),
        client_(io_.get_executor(), std::move(cfg)),
        key_base_(std::move(key_base)),
        counter_base_(std::move(counter_base)),
        token_origin_(random_origin()),
        backlog_(max_pending_deletes) {
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

  /// "<prefix>:v<schema>:", which every entry's key starts with.
  const std::string& key_base() const noexcept { return key_base_; }

  /// "<prefix>:v<schema>#", which every other key of the backend (counters, rate limits) starts
  /// with: no entry key can, since they all have ':' right after the schema version.
  const std::string& counter_base() const noexcept { return counter_base_; }

  /// A token no call of any process has made or will make: this backend's 128 random bits, then
  /// a count, in hex. What counters and write permits hold (see store_entry.hpp). Any thread.
  std::string fresh_token() {
    const std::uint64_t n = tokens_made_.fetch_add(1, std::memory_order_relaxed);
    char count[17];
    const int length =
        std::snprintf(count, sizeof count, "%llx", static_cast<unsigned long long>(n));
    std::string token = token_origin_;
    token.append(count, static_cast<std::size_t>(length));
    return token;
  }

  /// Decides which operations of cached calls may use Redis.
  redis_backend_breaker& breaker() noexcept { return breaker_; }

  /// Counts this process's tag invalidations. A computation with no stamp (Redis
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

  /// DEL of an entry, `function_key` naming the generation of its function (what covers it when
  /// too many DELs are pending).
  boost::asio::awaitable<void> delete_entry(std::string key, std::string function_key) {
    return invalidation(true, std::move(key), std::move(function_key));
  }

  /// SET of a counter (a tag's, a function's) to a fresh token.
  boost::asio::awaitable<void> bump_generation(std::string key) {
    return invalidation(false, std::move(key), {});
  }

  /// Invalidations that failed and wait to be replayed; any thread.
  std::size_t pending_invalidations() const noexcept {
    return pending_.load(std::memory_order_acquire);
  }

  /// Replays the pending invalidations (one pipelined request), or waits for the replay under
  /// way. Returns null once none is pending, else why they could not all be confirmed: then the
  /// caller's operation must not use Redis. On the I/O thread.
  boost::asio::awaitable<std::exception_ptr> confirm_invalidations() {
    while (backlog_.size() > 0) {
      std::shared_ptr<replay_round> round = replaying_;
      if (round) {
        if (!round->finished) {
          boost::system::error_code ignored;  // cancelled when the round ends
          co_await round->done.async_wait(
              boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
        }
      } else {
        round = std::make_shared<replay_round>(io_.get_executor());
        replaying_ = round;
        round->failure = co_await replay();
        round->finished = true;
        replaying_.reset();
        round->done.cancel();
      }
      if (round->failure) co_return round->failure;
    }
    co_return nullptr;
  }

  /// confirm_invalidations() outside of any cached call, whatever the breaker says (like an
  /// invalidation); throws why they could not be confirmed.
  boost::asio::awaitable<void> replay_invalidations() {
    if (backlog_.size() == 0) co_return;
    redis_backend_breaker::ticket ticket = breaker_.bypass();
    if (std::exception_ptr failure = co_await confirm_invalidations()) {
      ticket.report(failure);
      std::rethrow_exception(failure);
    }
    ticket.answered();
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
  static std::string random_origin() {
    std::random_device entropy;
    char hex[33];
    std::snprintf(hex, sizeof hex, "%08x%08x%08x%08x", entropy(), entropy(), entropy(), entropy());
    return hex;
  }

  // One replay request; operations that need Redis meanwhile wait for its outcome.
  struct replay_round {
    explicit replay_round(boost::asio::io_context::executor_type ex)
        : done(ex, boost::asio::steady_timer::time_point::max()) {}
    boost::asio::steady_timer done;  // cancelled when it ends
    bool finished = false;
    std::exception_ptr failure;
  };

  // Sent whatever the breaker says, since a lost invalidation must surface; its outcome still
  // feeds the breaker. On failure it is thrown, and kept for a replay: it may not have been
  // applied. Success also settles the same command if it was pending.
  boost::asio::awaitable<void> invalidation(bool is_delete, std::string key,
                                            std::string function_key) {
    redis_backend_breaker::ticket ticket = breaker_.bypass();
    const std::uint64_t sent_at = backlog_.sequence();
    std::exception_ptr failure;
    try {
      if (is_delete) {
        co_await client_.exec("DEL", key);
      } else {
        co_await client_.exec("SET", key, fresh_token());
      }
      ticket.answered();
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      ticket.report(failure);
      if (is_delete) {
        backlog_.add_delete(std::move(key), function_key);
      } else {
        backlog_.add_bump(key);
      }
      pending_.store(backlog_.size(), std::memory_order_release);
      std::rethrow_exception(failure);
    }
    backlog_.applied(is_delete, key, sent_at);
    pending_.store(backlog_.size(), std::memory_order_release);
  }

  // Sends every pending invalidation in one pipeline; those answered without an error are
  // confirmed. Returns the transport failure, or the first error reply (the command was refused,
  // so it stays pending).
  boost::asio::awaitable<std::exception_ptr> replay() {
    const std::vector<invalidation_backlog::command> commands = backlog_.commands();
    resp3::request pipeline;
    for (const auto& c : commands) {
      if (c.is_delete) {
        pipeline.push("DEL", c.key);
      } else {
        pipeline.push("SET", c.key, fresh_token());
      }
    }
    std::exception_ptr failure;
    try {
      const std::vector<resp3::value> replies = co_await client_.exec(pipeline);
      for (std::size_t i = 0; i < commands.size() && i < replies.size(); ++i) {
        if (!replies[i].is_error()) {
          backlog_.confirmed(commands[i]);
        } else if (!failure) {
          failure = std::make_exception_ptr(resp3::server_error(replies[i].text));
        }
      }
    } catch (...) {
      failure = std::current_exception();
    }
    pending_.store(backlog_.size(), std::memory_order_release);
    co_return failure;
  }

  // First, so that it outlives the coroutines the io_context destroys: their tickets report to it.
  redis_backend_breaker breaker_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  resp3::client client_;
  std::string key_base_;
  std::string counter_base_;
  std::string token_origin_;
  std::atomic<std::uint64_t> tokens_made_{0};
  std::atomic<std::uint64_t> tag_epoch_{0};
  invalidation_backlog backlog_;             // I/O thread only
  std::shared_ptr<replay_round> replaying_;  // I/O thread only
  std::atomic<std::size_t> pending_{0};      // backlog_.size(), for every thread
  std::thread thread_;
};

}  // namespace cachet::detail

#endif
