#ifndef CACHET_REDIS_RATE_LIMITER_HPP
#define CACHET_REDIS_RATE_LIMITER_HPP

/// \file
/// cachet::redis_rate_limiter (also spelled cachet::redis::rate_limiter): a rate limit kept in
/// Redis, shared by every process that uses the same server and key prefix. It is what
/// cachet::rate_limit uses on a cachet::redis backend.

#include <cachet/clock.hpp>
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
  redis_rate_limiter(redis& backend, std::string name, std::uint64_t limit, clock::duration period,
                     redis_rate_limiter_settings settings = {})
      : backend_(&backend),
        name_(checked_name(std::move(name))),
        rule_(detail::gcra::checked(limit, checked_period(period))),
        settings_(settings),
        interval_text_(std::to_string(rule_.interval)),
        tolerance_text_(std::to_string(rule_.tolerance)),
        local_(limit, period, settings.clock) {}

  redis_rate_limiter(const redis_rate_limiter&) = delete;
  redis_rate_limiter& operator=(const redis_rate_limiter&) = delete;

  /// Admits and counts one call with `key` if its limit allows, else tells when to retry.
  /// Blocks while the backend's I/O thread asks Redis.
  /// \throws request_error(error::blocking_call_on_io_thread) on that thread (co_await
  /// async_try_acquire there); with redis_outage_policy::throw_error, the Redis error.
  rate_limit_decision try_acquire(std::string_view key) {
    if (checking_locally()) return fall_back(key);
    detail::redis_runtime& rt = backend_->runtime();
    rt.require_off_io_thread("cachet::redis_rate_limiter::try_acquire");
    try {
      return decode(rt.run(ask(rt, redis_key_in(rt, key), now_arguments())));
    } catch (const resp3::request_error& e) {
      if (!falls_back_on(e)) throw;
    }
    return failed_over(key);
  }

  /// try_acquire for coroutines, on any executor: the check runs on the backend's I/O thread.
  /// The limiter must outlive the returned awaitable.
  boost::asio::awaitable<rate_limit_decision> async_try_acquire(std::string key) {
    if (checking_locally()) co_return fall_back(key);
    detail::redis_runtime& rt = backend_->runtime();
    try {
      co_return decode(co_await boost::asio::co_spawn(
          rt.context(), ask(rt, redis_key_in(rt, key), now_arguments()),
          boost::asio::use_awaitable));
    } catch (const resp3::request_error& e) {
      if (!falls_back_on(e)) throw;
    }
    co_return failed_over(key);
  }

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
  static const resp3::script& script() {
    static const resp3::script gcra{R"lua(
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now_s, now_ns
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now_s, now_ns = tonumber(t[1]), tonumber(t[2]) * 1000
else
  now_s, now_ns = tonumber(ARGV[3]), tonumber(ARGV[4])
end
local start_s, start_ns, backlog = now_s, now_ns, 0
local stored = redis.call('GET', KEYS[1])
if stored then
  local s, ns = string.match(stored, '^(%-?%d+)%.(%d+)$')
  if s then
    s, ns = tonumber(s), tonumber(ns)
    local ahead = (s - now_s) * 1e9 + (ns - now_ns)
    if ahead > 0 then start_s, start_ns, backlog = s, ns, ahead end
  end
end
if backlog > tolerance then return {0, backlog - tolerance, 0} end
local total = start_ns + interval
local carry = math.floor(total / 1e9)
local next_ns = total - carry * 1e9
if next_ns < 0 then carry, next_ns = carry - 1, next_ns + 1e9
elseif next_ns >= 1e9 then carry, next_ns = carry + 1, next_ns - 1e9 end
local wait = backlog + interval
redis.call('SET', KEYS[1], string.format('%d.%09d', start_s + carry, next_ns),
           'PX', math.floor(wait / 1e6) + 1)
local room = tolerance - wait
if room < 0 then return {1, 0, 0} end
local q = math.floor(room / interval)
if q * interval > room then q = q - 1 elseif (q + 1) * interval <= room then q = q + 1 end
return {1, 0, q + 1}
)lua"};
    return gcra;
  }

  static std::string checked_name(std::string name) {
    if (name.empty()) {
      throw cachet::error(
          "cachet::redis_rate_limiter: the name is empty; give each limit a name of its own, "
          "which scopes its Redis keys");
    }
    return name;
  }

  static clock::duration checked_period(clock::duration period) {
    if (period.count() > (rep{1} << 53)) {
      throw cachet::error(
          "cachet::redis_rate_limiter: the period is longer than 2^53 ns (about 104 days), "
          "beyond what the Lua script computes exactly; use a shorter period");
    }
    return period;
  }

  // The caller's time as two decimal parts (seconds, nanoseconds in [0, 1e9)), or two empty
  // strings for the server's.
  std::vector<std::string> now_arguments() const {
    if (settings_.clock == nullptr) return {std::string(), std::string()};
    const rep now = settings_.clock->now().time_since_epoch().count();
    constexpr rep second = 1'000'000'000;
    rep seconds = now / second;
    rep nanoseconds = now % second;
    if (nanoseconds < 0) {
      --seconds;
      nanoseconds += second;
    }
    return {std::to_string(seconds), std::to_string(nanoseconds)};
  }

  std::string redis_key_in(const detail::redis_runtime& rt, std::string_view key) const {
    std::string out;
    out.reserve(rt.counter_base().size() + 6 + name_.size() + key.size());
    out += rt.counter_base();
    out += "rate:";
    out += name_;
    out += ':';
    out += key;
    return out;
  }

  boost::asio::awaitable<resp3::value> ask(detail::redis_runtime& rt, std::string redis_key,
                                           std::vector<std::string> now) const {
    detail::script_call call{
        {std::move(redis_key)},
        {interval_text_, tolerance_text_, std::move(now[0]), std::move(now[1])}};
    co_return co_await rt.link().eval(script(), std::move(call),
                                      resp3::request_options{.timeout = settings_.timeout});
  }

  static rate_limit_decision decode(const resp3::value& reply) {
    const std::vector<resp3::value>& parts = reply.as_array();
    if (parts.size() != 3) {
      throw resp3::request_error(resp3::error::unexpected_reply,
                                 "cachet::redis_rate_limiter: the script answered with " +
                                     std::to_string(parts.size()) +
                                     " values instead of 3; is another program using its keys?");
    }
    return {parts[0].as_int() == 1, clock::duration(parts[1].as_int()),
            static_cast<std::uint64_t>(parts[2].as_int())};
  }

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

  rate_limit_decision failed_over(std::string_view key) {
    const auto pause = std::chrono::duration_cast<clock::duration>(settings_.recheck_after);
    local_until_.store(local_now() + pause.count(), std::memory_order_relaxed);
    return fall_back(key);
  }

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

#endif
