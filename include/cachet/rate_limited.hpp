#ifndef CACHET_RATE_LIMITED_HPP
#define CACHET_RATE_LIMITED_HPP

#include <cachet/detail/milliseconds_text.hpp>
#include <cachet/error.hpp>

#include <chrono>
#include <string>

namespace cachet {

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

}  // namespace cachet

#endif
