#ifndef CACHET_CIRCUIT_OPEN_HPP
#define CACHET_CIRCUIT_OPEN_HPP

#include <cachet/detail/milliseconds_text.hpp>
#include <cachet/error.hpp>

#include <chrono>
#include <string>

namespace cachet {

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
