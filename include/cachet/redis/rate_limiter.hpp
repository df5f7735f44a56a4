#ifndef CACHET_REDIS_RATE_LIMITER_HPP
#define CACHET_REDIS_RATE_LIMITER_HPP

/// \file
/// cachet::redis_rate_limiter (also spelled cachet::redis::rate_limiter): a rate limit kept in
/// Redis, shared by every process that uses the same server and key prefix. It is what
/// cachet::rate_limit uses on a cachet::redis backend.

#include <cachet/clock.hpp>
#include <cachet/detail/linkage.hpp>
#include <cachet/detail/redis/backend_runtime.hpp>
#include <cachet/error.hpp>
#include <cachet/rate_limit.hpp>
#include <cachet/redis.hpp>
#include <cachet/redis/client.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/resp3.hpp>
#include <cachet/redis/script.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachet {

/// What a cachet::redis_rate_limiter does when Redis fails or does not answer in time.
enum class redis_outage_policy {
  /// Each process decides alone, with a local GCRA of the same limit and period (so N processes
  /// admit up to N times the limit between them), and counts each such decision in
  /// redis_rate_limiter::fallbacks(). Redis is asked again once `recheck_after` has passed.
  limit_locally,
  /// The Redis error propagates (a cachet::redis::request_error); the caller chooses whether to
  /// admit or reject.
  throw_error,
};

/// How a cachet::redis_rate_limiter reads time and copes with Redis failing.
struct redis_rate_limiter_settings {
  /// Null (the default): the Redis server's clock (`TIME` in the script), which every process
  /// agrees on whatever their own clocks say. A clock given here is read by the caller and its
  /// time is sent with each call instead, so every process that shares the limit must read the
  /// same clock; it is meant for tests (cachet::manual_clock). Keys still expire in the server's
  /// time, so a test keeps its periods longer than it runs.
  const cachet::clock* clock = nullptr;
  /// The deadline of one check; empty: the connection's config::request_timeout.
  std::optional<std::chrono::milliseconds> timeout = std::nullopt;
  /// What a failed or late check decides.
  redis_outage_policy on_outage = redis_outage_policy::limit_locally;
  /// With limit_locally: after a failure, checks stay local this long (read on `clock`, or the
  /// steady clock) before Redis is asked again, so that an outage costs one timeout per period
  /// rather than one per call.
  std::chrono::milliseconds recheck_after{1000};
};

/// A rate limit kept in Redis: GCRA with the decisions of cachet::rate_limiter (same limit,
/// burst, retry_after and remaining), its state one key per limited key,
/// `<prefix>:v<schema>#rate:<name>:<key>`, holding the key's theoretical arrival time as
/// `<seconds>.<nanoseconds>` and expiring (PX) when its bucket is full again, so idle keys
/// vanish. Each check is one round trip: a Lua script run by EVALSHA (EVAL once, if the server
/// does not know it yet) that reads the time, decides and stores. Several processes (or hosts)
/// sharing the server share the limit exactly: the script runs atomically, on the server's
/// clock.
///
///     cachet::redis shop{cachet::redis::config::from_url(url), {.key_prefix = "shop"}};
///     cachet::redis::rate_limiter per_user{shop, "api", 100, std::chrono::minutes(1)};
///     if (auto d = per_user.try_acquire(user_id); !d) return too_many_requests(d.retry_after);
///     // in a coroutine:  rate_limit_decision d = co_await per_user.async_try_acquire(user_id);
///
/// When Redis fails or is late (settings.timeout), see redis_outage_policy: by default the
/// process limits on its own and counts it in fallbacks(). Thread-safe. The backend must
/// outlive the limiter; the limiter connects it on first use, not when it is made.
class redis_rate_limiter {
 public:
  /// `name` scopes the keys (two limiters with different names never share a limit); `limit`
  /// calls are admitted per `period`, in bursts of up to `limit`.
  /// \throws cachet::error when the name is empty, the limit is 0, or the period is shorter than
  /// `limit` nanoseconds or longer than 2^53 ns (104 days; the script computes in doubles).
  CACHET_DECL redis_rate_limiter(redis& backend, std::string name, std::uint64_t limit,
                                 clock::duration period, redis_rate_limiter_settings settings = {});

  redis_rate_limiter(const redis_rate_limiter&) = delete;
  redis_rate_limiter& operator=(const redis_rate_limiter&) = delete;

  /// Admits and counts one call with `key` if its limit allows, else tells when to retry.
  /// Blocks while the backend's I/O thread asks Redis.
  /// \throws request_error(error::blocking_call_on_io_thread) on that thread (co_await
  /// async_try_acquire there); with redis_outage_policy::throw_error, the Redis error.
  CACHET_DECL rate_limit_decision try_acquire(std::string_view key);

  /// try_acquire for coroutines, on any executor: the check runs on the backend's I/O thread.
  /// The limiter must outlive the returned awaitable.
  CACHET_DECL boost::asio::awaitable<rate_limit_decision> async_try_acquire(std::string key);

  /// Calls admitted per period.
  std::uint64_t limit() const noexcept { return local_.limit(); }
  /// The time between two calls at the sustained rate: period / limit.
  clock::duration interval() const noexcept { return clock::duration(rule_.interval); }
  /// The name that scopes this limiter's keys.
  const std::string& name() const noexcept { return name_; }
  /// Decisions made locally because Redis failed or was late (redis_outage_policy).
  std::uint64_t fallbacks() const noexcept { return fallbacks_.load(std::memory_order_relaxed); }

  /// The Redis key that holds `key`'s state: `<prefix>:v<schema>#rate:<name>:<key>`.
  std::string redis_key(std::string_view key) { return redis_key_in(backend_->runtime(), key); }

 private:
  using rep = detail::gcra::rep;

  // KEYS[1]: the key's TAT as "<seconds>.<nanoseconds>". ARGV: interval and tolerance in
  // nanoseconds, then the caller's time as seconds and nanoseconds, or two empty strings for the
  // server's. Lua numbers are doubles, exact below 2^53: absolute times (about 2^60 ns since
  // 1970) are kept as two parts, and only differences, below the period, are single numbers;
  // every division is corrected with exact products. The steps are detail::gcra::decide's.
  CACHET_DECL static const resp3::script& script();

  CACHET_DECL static std::string checked_name(std::string name);

  CACHET_DECL static clock::duration checked_period(clock::duration period);

  // The caller's time as two decimal parts (seconds, nanoseconds in [0, 1e9)), or two empty
  // strings for the server's.
  CACHET_DECL std::vector<std::string> now_arguments() const;

  CACHET_DECL std::string redis_key_in(const detail::redis_runtime& rt, std::string_view key) const;

  CACHET_DECL boost::asio::awaitable<resp3::value> ask(detail::redis_runtime& rt,
                                                       std::string redis_key,
                                                       std::vector<std::string> now) const;

  CACHET_DECL static rate_limit_decision decode(const resp3::value& reply);

  // A failure of Redis or of the connection to it; not a misuse (a blocking call on the I/O
  // thread) nor a cancellation by the caller.
  bool falls_back_on(const resp3::request_error& e) const noexcept {
    return settings_.on_outage == redis_outage_policy::limit_locally &&
           e.code() != resp3::error::cancelled &&
           e.code() != resp3::error::blocking_call_on_io_thread;
  }

  rep local_now() const noexcept {
    return (settings_.clock != nullptr ? settings_.clock->now() : std::chrono::steady_clock::now())
        .time_since_epoch()
        .count();
  }

  bool checking_locally() const noexcept {
    return settings_.on_outage == redis_outage_policy::limit_locally &&
           local_now() < local_until_.load(std::memory_order_relaxed);
  }

  CACHET_DECL rate_limit_decision failed_over(std::string_view key);

  rate_limit_decision fall_back(std::string_view key) {
    fallbacks_.fetch_add(1, std::memory_order_relaxed);
    return local_.try_acquire(key);
  }

  redis* backend_;
  std::string name_;
  detail::gcra rule_;
  redis_rate_limiter_settings settings_;
  std::string interval_text_;
  std::string tolerance_text_;
  rate_limiter local_;  // decides while Redis cannot
  std::atomic<rep> local_until_{std::numeric_limits<rep>::min()};
  std::atomic<std::uint64_t> fallbacks_{0};
};

namespace detail {

// cachet::rate_limit on a cachet::redis backend keeps its limits in Redis.
template <>
struct shared_rate_limits<redis> {
  class limiter final : public shared_rate_limiter {
   public:
    limiter(redis& backend, const shared_rate_limit_settings& s)
        : limiter_(backend, std::string(s.scope), s.limit, s.period, {.clock = s.time}) {}
    rate_limit_decision try_acquire(std::string_view key) override {
      return limiter_.try_acquire(key);
    }
    boost::asio::awaitable<rate_limit_decision> async_try_acquire(std::string key) {
      return limiter_.async_try_acquire(std::move(key));
    }

   private:
    redis_rate_limiter limiter_;
  };

  static std::unique_ptr<shared_rate_limiter> make(redis& backend,
                                                   const shared_rate_limit_settings& s) {
    return std::make_unique<limiter>(backend, s);
  }

  // For cached<>::async(): `l` is what make() returned.
  static boost::asio::awaitable<rate_limit_decision> async_try_acquire(shared_rate_limiter& l,
                                                                       std::string key) {
    return static_cast<limiter&>(l).async_try_acquire(std::move(key));
  }
};

}  // namespace detail
}  // namespace cachet

#if CACHET_INCLUDE_BODIES
#include <cachet/redis/impl/rate_limiter.ipp>
#endif

#endif
