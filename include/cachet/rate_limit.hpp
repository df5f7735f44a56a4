#ifndef CACHET_RATE_LIMIT_HPP
#define CACHET_RATE_LIMIT_HPP

#include <cachet/clock.hpp>
#include <cachet/detail/fixed_string.hpp>
#include <cachet/detail/key/template.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/detail/resilience/option.hpp>
#include <cachet/detail/resilience/rate_key.hpp>
#include <cachet/error.hpp>
#include <cachet/errors.hpp>
#include <cachet/options.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace cachet {

/// What cachet::rate_limiter::try_acquire decides about one call.
///
///     if (auto d = limiter.try_acquire(user)) serve(); else reply_429(d.retry_after);
struct rate_limit_decision {
  /// Whether the call is admitted (and counted).
  bool allowed = false;
  /// When rejected: how long until a call with this key is admitted; zero when allowed.
  clock::duration retry_after{};
  /// When allowed: how many more calls with this key would be admitted right now.
  std::uint64_t remaining = 0;

  explicit operator bool() const noexcept { return allowed; }
};

/// A local rate limiter, GCRA (the generic cell rate algorithm, a token bucket kept as one
/// number): each key may make `limit` calls per `period` on average, in bursts of up to `limit`
/// calls; one call's worth comes back every `interval() = period / limit`, so a full bucket
/// refills in `period`. Over any span of time t a key gets at most `limit + t / interval()` calls.
/// Thread-safe: each key's state is one atomic updated by compare-and-swap, in a map split into
/// shards whose locks are only taken exclusively to add or drop keys. The state is one time value
/// per key, so a shared store (Redis) can hold it for a distributed limit with the same decisions.
///
/// Memory stays bounded by the keys active within the last period: a key whose bucket has
/// refilled is dropped when its shard grows, since its state equals that of a key never seen.
///
///     cachet::rate_limiter per_user(100, std::chrono::minutes(1));
///     if (cachet::rate_limit_decision d = per_user.try_acquire(user_id); !d) {
///       return too_many_requests(d.retry_after);
///     }
class rate_limiter {
 public:
  /// \throws cachet::error when limit is 0 or the period is shorter than `limit` nanoseconds.
  rate_limiter(std::uint64_t limit, clock::duration period, const cachet::clock* time = nullptr)
      : time_(&detail::clock_or_steady(time)),
        interval_(checked_interval(limit, period)),
        tolerance_(interval_ * static_cast<rep>(limit - 1)),
        limit_(limit),
        shards_(std::make_unique<shard[]>(shard_count)) {}

  rate_limiter(const rate_limiter&) = delete;
  rate_limiter& operator=(const rate_limiter&) = delete;

  /// Admits and counts one call with `key` if its limit allows, else tells when to retry.
  rate_limit_decision try_acquire(std::string_view key) {
    const rep now = time_->now().time_since_epoch().count();
    const std::size_t hash = std::hash<std::string_view>{}(key);
    shard& s = shards_[hash % shard_count];
    {
      std::shared_lock lock(s.mutex);
      if (const auto it = s.arrivals.find(key); it != s.arrivals.end()) {
        return admit(it->second, now);
      }
    }
    std::unique_lock lock(s.mutex);
    if (s.arrivals.size() >= s.sweep_at) sweep(s, now);
    const auto it = s.arrivals.try_emplace(std::string(key), fresh).first;
    return admit(it->second, now);
  }

  /// Calls admitted per period.
  std::uint64_t limit() const noexcept { return limit_; }
  /// The time between two calls at the sustained rate: period / limit.
  clock::duration interval() const noexcept { return clock::duration(interval_); }
  /// The keys currently kept (those seen recently); for monitoring memory.
  std::size_t tracked_keys() const {
    std::size_t total = 0;
    for (std::size_t i = 0; i < shard_count; ++i) {
      std::shared_lock lock(shards_[i].mutex);
      total += shards_[i].arrivals.size();
    }
    return total;
  }

 private:
  using rep = clock::duration::rep;

  struct text_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  // Each key's "theoretical arrival time": when its bucket will be full again. Values at or
  // before now mean a full bucket, the state of a key never seen.
  struct shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string, std::atomic<rep>, text_hash, std::equal_to<>> arrivals;
    std::size_t sweep_at = min_sweep;
  };

  static constexpr std::size_t shard_count = 64;
  static constexpr std::size_t min_sweep = 64;
  static constexpr rep fresh = std::numeric_limits<rep>::min();

  static rep checked_interval(std::uint64_t limit, clock::duration period) {
    if (limit == 0) {
      throw error(
          "cachet::rate_limiter: the limit is 0, which would reject every call; admit at "
          "least 1 call per period");
    }
    if (period.count() <= 0 || static_cast<std::uint64_t>(period.count()) < limit) {
      throw error(
          "cachet::rate_limiter: the period must be positive and at least `limit` "
          "nanoseconds long; use a longer period");
    }
    return period.count() / static_cast<rep>(limit);
  }

  rate_limit_decision admit(std::atomic<rep>& arrival, rep now) const noexcept {
    rep seen = arrival.load(std::memory_order_relaxed);
    for (;;) {
      const rep start = std::max(seen, now);
      const rep backlog = start - now;
      if (backlog > tolerance_) return {false, clock::duration(backlog - tolerance_), 0};
      const rep next = start + interval_;
      if (arrival.compare_exchange_weak(seen, next, std::memory_order_relaxed)) {
        const rep room = tolerance_ - (next - now);
        return {true, clock::duration::zero(),
                room < 0 ? 0 : static_cast<std::uint64_t>(room / interval_) + 1};
      }
    }
  }

  // Drops the keys whose buckets are full again. Sweeping when the shard has doubled since the
  // last sweep keeps the cost amortised O(1) per new key.
  static void sweep(shard& s, rep now) {
    std::erase_if(s.arrivals, [now](const auto& entry) {
      return entry.second.load(std::memory_order_relaxed) <= now;
    });
    s.sweep_at = std::max(min_sweep, 2 * s.arrivals.size());
  }

  const cachet::clock* time_;
  rep interval_;
  rep tolerance_;
  std::uint64_t limit_;
  std::unique_ptr<shard[]> shards_;
};

namespace detail {
struct rate_limit_kind {};
struct per_kind {};
struct by_kind {};

struct whole_function_rate_key {
  template <class... Args>
  static constexpr bool check() {
    return true;
  }
  template <class... Args>
  static void render(std::string&, const Args&...) {}
};
}  // namespace detail

/// An option of cachet::rate_limit: the period the limit counts over, in seconds.
template <std::uint64_t Seconds>
struct per : detail::option<detail::per_kind> {
  static_assert(Seconds > 0,
                "cachet::per: the period must be at least 1 second; write e.g. cachet::per<60> "
                "for a limit per minute");
  static constexpr std::chrono::seconds value{Seconds};
};

/// An option of cachet::rate_limit: a template over the function's arguments, with the syntax of
/// cachet::key, giving each value its own limit (`by<"{}">`: one limit per first argument). Any
/// subset of the arguments may appear.
template <detail::fixed_string S>
struct by : detail::option<detail::by_kind> {
  template <class... Args>
  static constexpr bool check() {
    return detail::check_rate_key_template<S, Args...>();
  }
  template <class... Args>
  static void render(std::string& out, const Args&... args) {
    if constexpr (check<Args...>()) detail::render_key_template<S>(out, args...);
  }
};

/// Policy: admits at most `Limit` calls per period (GCRA, see cachet::rate_limiter), counting
/// every call, hits included; a call over the limit throws cachet::rate_limited, whose
/// `retry_after()` says when to try again. Options, in any order: `per<Seconds>` (required) and
/// `by<"template">` (one limit per rendered key; without it one limit for the whole function).
/// Defaults: `options::rate_limit` and `options::rate_limit_period` override them; the limiter
/// reads `options::clock`.
///
///     cachet::cached<&send_report, cachet::rate_limit<100, cachet::per<60>, cachet::by<"{}">>>
///         report;  // 100 calls a minute per user id
///
/// The limit is local to the cached object (each process has its own).
template <std::uint64_t Limit, class... Options>
struct rate_limit : detail::policy<detail::rate_limit_kind> {
  static_assert(Limit > 0,
                "cachet::rate_limit: the limit must be at least 1 call per period; leave the "
                "policy out to admit every call");
  static_assert((detail::is_option_of<Options, detail::per_kind, detail::by_kind> && ...),
                "cachet::rate_limit: its options are cachet::per<Seconds> and cachet::by<\"...\">; "
                "give other policies to cached<> directly");
  static_assert(detail::option_count<detail::per_kind, Options...> == 1,
                "cachet::rate_limit: give the period exactly once, e.g. "
                "cachet::rate_limit<100, cachet::per<60>>");
  static_assert(detail::option_count<detail::by_kind, Options...> <= 1,
                "cachet::rate_limit: give at most one cachet::by<> key template");

  using period = detail::find_option_t<detail::per_kind, per<1>, Options...>;
  using rate_key =
      detail::find_option_t<detail::by_kind, detail::whole_function_rate_key, Options...>;

  /// Wraps every call of a cached function: the limiter is asked before the cache is.
  template <class Value>
  class call_stage {
   public:
    explicit call_stage(const options& opts)
        : limiter_(opts.rate_limit.value_or(Limit),
                   opts.rate_limit_period
                       ? std::chrono::duration_cast<clock::duration>(*opts.rate_limit_period)
                       : std::chrono::duration_cast<clock::duration>(period::value),
                   opts.clock) {}

    template <class Next, class... Args>
    Value operator()(std::string_view, Next&& next, const Args&... args) {
      if constexpr (rate_key::template check<Args...>()) {
        thread_local std::string buffer;
        buffer.clear();
        rate_key::render(buffer, args...);
        const rate_limit_decision decision = limiter_.try_acquire(buffer);
        if (!decision) throw rate_limited(decision.retry_after);
        return std::forward<Next>(next)();
      } else {
        return std::forward<Next>(next)();
      }
    }

   private:
    rate_limiter limiter_;
  };
};

}  // namespace cachet

#endif
