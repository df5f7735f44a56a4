#ifndef CACHET_RETRY_HPP
#define CACHET_RETRY_HPP

#include <cachet/circuit_open.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/detail/resilience/backoff.hpp>
#include <cachet/detail/resilience/option.hpp>
#include <cachet/options.hpp>
#include <cachet/rate_limited.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace cachet {

/// A marker for exceptions worth retrying: cachet::retry without retry_if<> retries exactly the
/// exceptions that derive from it (and none of cachet's own refusals).
///
///     struct timeout : std::runtime_error, cachet::transient { using runtime_error::runtime_error;
///     };
class transient {
 public:
  virtual ~transient() = default;
};

namespace detail {
// cachet's own refusals are answers, not failures: retrying them would defeat their purpose.
inline bool is_refusal(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const rate_limited&) {
    return true;
  } catch (const circuit_open&) {
    return true;
  } catch (...) {
    return false;
  }
}

// Calls f, and again after a backoff while it throws something is_transient accepts, at most
// `retries` more times. The last failure propagates unchanged.
template <class F, class IsTransient, class Sleep>
decltype(auto) call_with_retries(F& f, std::size_t retries, std::chrono::nanoseconds base,
                                 std::chrono::nanoseconds max_delay, IsTransient& is_transient,
                                 Sleep& sleep) {
  for (std::size_t attempt = 0;; ++attempt) {
    try {
      return f();
    } catch (...) {
      const std::exception_ptr failure = std::current_exception();
      if (attempt >= retries || is_refusal(failure) || !is_transient(failure)) throw;
    }
    sleep(full_jitter(backoff_cap(attempt, base, max_delay)));
  }
}

inline bool derives_from_transient(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const transient&) {
    return true;
  } catch (...) {
    return false;
  }
}
}  // namespace detail

/// How cachet::retry_call retries; every field has a default.
struct retry_settings {
  /// Attempts after the first; 0 calls once.
  std::size_t retries = 3;
  /// The cap of the first backoff; it doubles for each further retry.
  std::chrono::nanoseconds base_delay = std::chrono::milliseconds(100);
  /// No backoff is longer than this.
  std::chrono::nanoseconds max_delay = std::chrono::seconds(10);
  /// Whether a failure is worth retrying; empty = it derives from cachet::transient.
  /// cachet::rate_limited and cachet::circuit_open are never retried, whatever it says.
  std::function<bool(const std::exception_ptr&)> is_transient = nullptr;
  /// How to wait; empty = std::this_thread::sleep_for.
  std::function<void(std::chrono::nanoseconds)> sleep = nullptr;
};

/// Calls `f`; while it throws a transient failure, waits a backoff with full jitter (uniform in
/// [0, min(max_delay, base_delay * 2^n)] before retry n, from 0) and calls it again, at most
/// `settings.retries` more times. The last failure propagates unchanged.
///
///     auto prices = cachet::retry_call({.retries = 2}, [&] { return fetch_prices(); });
template <class F>
std::invoke_result_t<F&> retry_call(const retry_settings& settings, F&& f) {
  auto is_transient = [&](const std::exception_ptr& failure) {
    return settings.is_transient ? settings.is_transient(failure)
                                 : detail::derives_from_transient(failure);
  };
  auto sleep = [&](std::chrono::nanoseconds d) {
    settings.sleep ? settings.sleep(d) : detail::sleep_for(d);
  };
  return detail::call_with_retries(f, settings.retries, settings.base_delay, settings.max_delay,
                                   is_transient, sleep);
}

namespace detail {
struct retry_kind {};
struct retry_if_kind {};
struct backoff_kind {};

struct default_retry_if {
  static bool test(const std::exception_ptr& failure) { return derives_from_transient(failure); }
};
}  // namespace detail

/// An option of cachet::retry: which failures are transient. `Predicate` takes either
/// `const std::exception&` (exceptions not derived from std::exception are then never retried)
/// or `const std::exception_ptr&`, and returns bool.
///
///     bool is_transient(const std::exception& e) { return dynamic_cast<const timeout*>(&e); }
///     cachet::cached<&prices, cachet::retry<3, cachet::retry_if<&is_transient>>> price;
template <auto Predicate>
struct retry_if : detail::option<detail::retry_if_kind> {
  static constexpr bool takes_exception =
      std::is_invocable_r_v<bool, decltype(Predicate), const std::exception&>;
  static constexpr bool takes_pointer =
      std::is_invocable_r_v<bool, decltype(Predicate), const std::exception_ptr&>;
  static_assert(takes_exception || takes_pointer,
                "cachet::retry_if: the predicate must be callable with const std::exception& or "
                "const std::exception_ptr& and return bool, e.g. "
                "bool is_transient(const std::exception&)");

  static bool test(const std::exception_ptr& failure) {
    if constexpr (takes_pointer) {
      return std::invoke(Predicate, failure);
    } else if constexpr (takes_exception) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        return std::invoke(Predicate, e);
      } catch (...) {
        return false;
      }
    } else {
      return false;
    }
  }
};

/// An option of cachet::retry: the cap of the first backoff and the largest backoff, in
/// milliseconds (defaults: backoff<100, 10000>).
template <std::uint64_t BaseMilliseconds, std::uint64_t MaxMilliseconds>
struct backoff : detail::option<detail::backoff_kind> {
  static constexpr void check_values() {
    static_assert(BaseMilliseconds > 0 && MaxMilliseconds >= BaseMilliseconds,
                  "cachet::backoff: the first delay must be at least 1 ms and the largest at least "
                  "the first, e.g. cachet::backoff<100, 10000>");
  }
  static constexpr std::chrono::milliseconds base{BaseMilliseconds};
  static constexpr std::chrono::milliseconds max{MaxMilliseconds};
};

/// Policy: on a miss, calls the function again after a failure the user marks transient, at most
/// `Retries` more times (from 1 to 20), with exponential backoff and full jitter (see
/// cachet::retry_call).
/// Transient means: accepted by the retry_if<&predicate> option, or without it, derived from
/// cachet::transient. cachet::rate_limited and cachet::circuit_open are never retried.
///
///     cachet::cached<&prices, cachet::ttl<30>, cachet::retry<3, cachet::retry_if<&is_transient>>>
///         price;
///
/// `options::retry_attempts` and `options::retry_base_delay` override the numbers;
/// `options::retry_sleep` replaces the sleeping (tests record the delays instead).
/// In cached<>::async() and async_many() the backoff waits on a timer of the coroutine's
/// executor instead of blocking its thread; so it does around a function that is itself a
/// coroutine, whose every retry awaits a new call of it.
/// Placed before cachet::circuit_breaker, it retries around the breaker (which then counts every
/// attempt and stops the retries once open); placed after it, the breaker counts one failure per
/// call whose retries all failed.
template <std::size_t Retries, class... Options>
struct retry : detail::policy<detail::retry_kind> {
  static_assert((detail::is_option_of<Options, detail::retry_if_kind, detail::backoff_kind> && ...),
                "cachet::retry: its options are cachet::retry_if<&predicate> and "
                "cachet::backoff<FirstMs, MaxMs>; give other policies to cached<> directly");
  static_assert(detail::option_count<detail::retry_if_kind, Options...> <= 1 &&
                    detail::option_count<detail::backoff_kind, Options...> <= 1,
                "cachet::retry: an option is given twice; keep one");

  using predicate =
      detail::find_option_t<detail::retry_if_kind, detail::default_retry_if, Options...>;
  using delays = detail::find_option_t<detail::backoff_kind, backoff<100, 10000>, Options...>;

  /// The most retries a policy may give: with the default backoff, 20 retries already wait
  /// about 2.5 minutes in all.
  static constexpr std::size_t max_retries = 20;

  static constexpr void check_values() {
    static_assert(Retries > 0,
                  "cachet::retry: give at least 1 retry; leave the policy out to call the function "
                  "once");
    static_assert(Retries <= max_retries,
                  "cachet::retry: give at most 20 retries, or one call could back off for hours; "
                  "use fewer retries, or retry in the caller");
    static_cast<void>((detail::check_values<Options>() && ...));
  }

  /// Wraps each call of the function on a miss.
  template <class Value>
  class load_stage {
   public:
    explicit load_stage(const options& opts)
        : retries_(opts.retry_attempts.value_or(Retries)),
          base_(opts.retry_base_delay ? std::chrono::nanoseconds(*opts.retry_base_delay)
                                      : std::chrono::nanoseconds(delays::base)),
          max_(std::max(base_, std::chrono::nanoseconds(delays::max))),
          sleep_(opts.retry_sleep) {}

    template <class Next, class... Args>
    Value operator()(std::string_view, Next&& next, const Args&...) {
      auto is_transient = [](const std::exception_ptr& failure) {
        return predicate::test(failure);
      };
      auto sleep = [this](std::chrono::nanoseconds d) {
        sleep_ ? sleep_(d) : detail::sleep_for(d);
      };
      return detail::call_with_retries(next, retries_, base_, max_, is_transient, sleep);
    }

    // Its backoff waits on a timer in cached<>::async(), so it needs the coroutine form.
    static constexpr bool has_async_form = true;

    /// The retries inside a coroutine (cached<>::async): the backoff is awaited on a timer of
    /// the coroutine's executor (`options::retry_sleep`, when set, is called instead), so the
    /// executor runs other coroutines meanwhile.
    template <class Backend, class Next, class... Args>
    std::invoke_result_t<Next&> async(std::string_view, Next next, const Args&...) {
      static_assert(detail::awaits_backoffs<Backend>,
                    "cachet::retry: this backend cannot wait in a coroutine; specialise "
                    "cachet::detail::backoff_timers<Backend>::wait, or make the blocking call");
      for (std::size_t attempt = 0;; ++attempt) {
        std::exception_ptr failure;
        try {
          co_return co_await next();
        } catch (...) {
          failure = std::current_exception();
        }
        // Outside the handler: no co_await may appear in one.
        if (attempt >= retries_ || detail::is_refusal(failure) || !predicate::test(failure)) {
          std::rethrow_exception(failure);
        }
        const std::chrono::nanoseconds delay =
            detail::full_jitter(detail::backoff_cap(attempt, base_, max_));
        if (sleep_) {
          sleep_(delay);
        } else if constexpr (detail::awaits_backoffs<Backend>) {
          co_await detail::backoff_timers<Backend>::wait(delay);
        }
      }
    }

   private:
    std::size_t retries_;
    std::chrono::nanoseconds base_;
    std::chrono::nanoseconds max_;
    std::function<void(std::chrono::nanoseconds)> sleep_;
  };
};

}  // namespace cachet

#endif
