#ifndef CACHET_ERRORS_HPP
#define CACHET_ERRORS_HPP

#include <cachet/error.hpp>

#include <chrono>
#include <string>

namespace cachet {
namespace detail {

// Whole milliseconds, rounded up so that waiting the stated time is always enough.
inline std::string milliseconds_text(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::ceil<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace detail

/// Thrown by cachet::rate_limit (and reported by cachet::rate_limiter) when a call is over its
/// limit. `retry_after()` is when the next call will be admitted, what an HTTP 429 answer puts in
/// its Retry-After header:
///
///     catch (const cachet::rate_limited& e) {
///       reply(429, {"Retry-After", std::to_string(e.retry_after_seconds().count())});
///     }
class rate_limited : public error {
 public:
  explicit rate_limited(std::chrono::nanoseconds retry_after)
      : error("cachet::rate_limit: the call is over its rate limit and was not made; retry after " +
              detail::milliseconds_text(retry_after) + ", or raise the limit"),
        retry_after_(retry_after) {}

  /// How long until a call with the same rate key is admitted.
  std::chrono::nanoseconds retry_after() const noexcept { return retry_after_; }
  /// The same in whole seconds, rounded up (never 0), for an HTTP Retry-After header.
  std::chrono::seconds retry_after_seconds() const noexcept {
    const auto s = std::chrono::ceil<std::chrono::seconds>(retry_after_);
    return s.count() > 0 ? s : std::chrono::seconds(1);
  }

 private:
  std::chrono::nanoseconds retry_after_;
};

/// Thrown by cachet::circuit_breaker (and cachet::breaker::call) instead of calling a function
/// that keeps failing. `retry_after()` is the time until the breaker lets a probe call through;
/// zero when it is half-open and its probes are already under way.
class circuit_open : public error {
 public:
  explicit circuit_open(std::chrono::nanoseconds retry_after)
      : error(retry_after.count() > 0
                  ? "cachet::circuit_breaker: the circuit is open after repeated failures, so the "
                    "function was not called; retry after " +
                        detail::milliseconds_text(retry_after) +
                        ", when a probe call will test whether it has recovered"
                  : std::string("cachet::circuit_breaker: the circuit is half-open and its probe "
                                "calls are under way, so the function was not called; retry "
                                "shortly")),
        retry_after_(retry_after) {}

  /// How long until the breaker half-opens; zero when it already has.
  std::chrono::nanoseconds retry_after() const noexcept { return retry_after_; }

 private:
  std::chrono::nanoseconds retry_after_;
};

}  // namespace cachet

#endif
