#ifndef CACHET_DETAIL_COARSE_CLOCK_HPP
#define CACHET_DETAIL_COARSE_CLOCK_HPP

// The time cachet reads on hot paths when given no clock: the steady clock, read coarsely where
// the system offers it (CLOCK_MONOTONIC_COARSE on Linux: a tick of 1 to 4 ms, for a fraction of
// the cost of a precise read). Every period it is compared with (expiry, a rate limit, a breaker's
// cooldown) is seconds long. The memory backend, the rate limiters and the Redis backend's
// breaker all read this one.

#include <cachet/clock.hpp>

#include <chrono>

#if defined(__linux__)
#include <time.h>
#endif

namespace cachet::detail {

// The steady clock's time read at its last tick: never ahead of it, and behind it by less than
// coarse_resolution().
inline clock::duration::rep coarse_now() noexcept {
#if defined(__linux__)
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::duration_cast<clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                     std::chrono::nanoseconds(ts.tv_nsec))
      .count();
#else
  return std::chrono::steady_clock::now().time_since_epoch().count();
#endif
}

inline clock::duration coarse_resolution() noexcept {
#if defined(__linux__)
  static const clock::duration resolution = [] {
    timespec ts{};
    ::clock_getres(CLOCK_MONOTONIC_COARSE, &ts);
    return std::chrono::duration_cast<clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                       std::chrono::nanoseconds(ts.tv_nsec));
  }();
  return resolution;
#else
  return clock::duration::zero();
#endif
}

// coarse_now() as a cachet::clock, for code that holds a clock pointer whether or not one was
// injected.
class coarse_steady_clock final : public clock {
 public:
  time_point now() const noexcept override { return time_point(duration(coarse_now())); }

  static const coarse_steady_clock& instance() noexcept {
    static const coarse_steady_clock coarse;
    return coarse;
  }
};

}  // namespace cachet::detail

#endif
