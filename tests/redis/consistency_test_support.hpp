#ifndef CACHET_TESTS_REDIS_CONSISTENCY_TEST_SUPPORT_HPP
#define CACHET_TESTS_REDIS_CONSISTENCY_TEST_SUPPORT_HPP

// Helpers of the consistency tests (issue #9): a blocking connection of the test's own, for the
// "source of truth" rows and for corrupting cachet's keys on purpose, and the names of those
// internal keys (not API: only tests that damage them need them, so they live in one place).

#include <cachet/redis.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "redis/degraded_test_support.hpp"

namespace cachet_test {

/// A client on an I/O thread of its own, used from any thread with blocking calls: the data a
/// cached function reads, and the looks and damage a test does to the server, go through it and
/// never through the backend under test.
class data_connection {
 public:
  explicit data_connection(const std::string& url)
      : work_(boost::asio::make_work_guard(io_)),
        client_(io_.get_executor(), degraded_config(url, std::chrono::milliseconds(5000))),
        thread_([this] { io_.run(); }) {}

  data_connection(const data_connection&) = delete;
  data_connection& operator=(const data_connection&) = delete;

  ~data_connection() {
    boost::asio::post(io_, [this] {
      client_.close();
      work_.reset();
    });
    thread_.join();
  }

  /// Runs one command; throws what the client throws (server_error on an error reply).
  template <class... Args>
  cachet::redis::value exec(std::string_view command, const Args&... args) {
    auto op = [&]() -> boost::asio::awaitable<cachet::redis::value> {
      co_return co_await client_.exec(command, args...);
    };
    return boost::asio::co_spawn(io_, op(), boost::asio::use_future).get();
  }

  /// Runs a pipeline; error replies come back as values.
  std::vector<cachet::redis::value> exec(const cachet::redis::request& pipeline) {
    auto op = [&]() -> boost::asio::awaitable<std::vector<cachet::redis::value>> {
      co_return co_await client_.exec(pipeline);
    };
    return boost::asio::co_spawn(io_, op(), boost::asio::use_future).get();
  }

  /// GET of an integer key; a missing key reads as 0.
  long get_long(const std::string& key) {
    const cachet::redis::value v = exec("GET", key);
    return v.is_null() ? 0 : std::stol(v.as_string());
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  cachet::redis::client client_;
  std::thread thread_;
};

/// The Redis key of the generation counter of `tag` on a backend with `prefix` (schema 1).
inline std::string tag_counter_key(const std::string& prefix, std::string_view tag) {
  return prefix + ":v1#tag:" + std::string(tag);
}

/// The Redis key of the generation counter (clear()) of the function named `function`.
inline std::string function_counter_key(const std::string& prefix, std::string_view function) {
  return prefix + ":v1#fn:" + std::string(function);
}

// How a consistency test invalidates what a reader may still hold.
enum class invalidation { key, tag, clear };

inline void PrintTo(invalidation how, std::ostream* out) {
  *out << (how == invalidation::key   ? "invalidate(key)"
           : how == invalidation::tag ? "invalidate_tag"
                                      : "clear()");
}

inline std::string name_of(const ::testing::TestParamInfo<invalidation>& info) {
  switch (info.param) {
    case invalidation::key:
      return "Invalidate";
    case invalidation::tag:
      return "InvalidateTag";
    case invalidation::clear:
      return "Clear";
  }
  return "Unknown";
}

// Invalidates row `row` of `cache` the way `how` says; its tag is `tag_base` + the row.
template <class Cache>
void invalidate_row(Cache& cache, invalidation how, std::string_view tag_base, int row) {
  switch (how) {
    case invalidation::key:
      cache.invalidate(row);
      break;
    case invalidation::tag:
      cache.invalidate_tag(std::string(tag_base) + std::to_string(row));
      break;
    case invalidation::clear:
      cache.clear();
      break;
  }
}

}  // namespace cachet_test

#endif
