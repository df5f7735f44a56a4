#ifndef CACHET_DETAIL_REDIS_BACKOFF_HPP
#define CACHET_DETAIL_REDIS_BACKOFF_HPP

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace cachet::resp3::detail {

/// Reconnect delays: capped exponential backoff with full jitter (a uniform draw in
/// [0, min(max, min * 2^attempt)]), so many clients that lost the same server do not reconnect in
/// lockstep. reset() after a successful connection.
class backoff {
 public:
  backoff(std::chrono::milliseconds min_delay, std::chrono::milliseconds max_delay)
      : min_(std::max(min_delay, std::chrono::milliseconds(1))),
        max_(std::max(max_delay, min_)),
        rng_(std::random_device{}()) {}

  /// The delay before the next attempt; each call doubles the ceiling until it reaches the cap.
  std::chrono::milliseconds next() {
    std::chrono::milliseconds ceiling = max_;
    // Past 2^20 * min the cap has long been reached; stop doubling to avoid overflow.
    if (attempt_ < 20) ceiling = std::min(max_, min_ * (std::int64_t{1} << attempt_));
    ++attempt_;
    std::uniform_int_distribution<std::int64_t> draw(0, ceiling.count());
    return std::chrono::milliseconds(draw(rng_));
  }

  /// The ceiling the next call to next() draws under (for tests and diagnostics).
  std::chrono::milliseconds ceiling() const {
    if (attempt_ >= 20) return max_;
    return std::min(max_, min_ * (std::int64_t{1} << attempt_));
  }

  void reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  unsigned attempt_ = 0;
  std::minstd_rand rng_;
};

}  // namespace cachet::resp3::detail

#endif
