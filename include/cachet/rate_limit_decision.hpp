#ifndef CACHET_RATE_LIMIT_DECISION_HPP
#define CACHET_RATE_LIMIT_DECISION_HPP

#include <cachet/clock.hpp>

#include <cstdint>

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

  friend bool operator==(const rate_limit_decision&, const rate_limit_decision&) = default;
};

}  // namespace cachet

#endif
