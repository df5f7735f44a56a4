#ifndef CACHET_DETAIL_RESILIENCE_BACKOFF_HPP
#define CACHET_DETAIL_RESILIENCE_BACKOFF_HPP

// The one backoff of cachet: cachet::retry's delays and the Redis client's reconnect delays. It
// depends on nothing but the standard library and detail/random_bits.hpp (which includes nothing
// of cachet), so the RESP3 client includes it without depending on the cache.

#include <cachet/detail/random_bits.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>

namespace cachet::detail {

// The cap of retry `attempt` (0 for the first retry): base * 2^attempt, at most max_delay.
inline std::chrono::nanoseconds backoff_cap(std::size_t attempt, std::chrono::nanoseconds base,
                                            std::chrono::nanoseconds max_delay) noexcept {
  std::chrono::nanoseconds cap = std::min(base, max_delay);
  for (std::size_t i = 0; i < attempt && cap < max_delay; ++i) {
    cap = cap > max_delay / 2 ? max_delay : cap * 2;
  }
  return cap;
}

// "Full jitter": uniform in [0, cap], so clients that failed together do not retry together.
inline std::chrono::nanoseconds full_jitter(std::chrono::nanoseconds cap) {
  if (cap.count() <= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(
      static_cast<std::int64_t>(random_at_most(static_cast<std::uint64_t>(cap.count()))));
}

/// Successive delays of one reconnecting client: full jitter under a cap that doubles from
/// `min_delay` up to `max_delay` (both at least 1 ms). reset() after a success.
class backoff_schedule {
 public:
  backoff_schedule(std::chrono::milliseconds min_delay, std::chrono::milliseconds max_delay)
      : min_(std::max(min_delay, std::chrono::milliseconds(1))),
        max_(std::max(std::chrono::nanoseconds(max_delay), min_)) {}

  /// The delay before the next attempt; each call doubles the cap until it reaches max_delay.
  std::chrono::nanoseconds next() { return full_jitter(backoff_cap(attempt_++, min_, max_)); }

  /// The cap the next call to next() draws under (for tests and diagnostics).
  std::chrono::nanoseconds ceiling() const noexcept { return backoff_cap(attempt_, min_, max_); }

  void reset() noexcept { attempt_ = 0; }

 private:
  std::chrono::nanoseconds min_;
  std::chrono::nanoseconds max_;
  std::size_t attempt_ = 0;
};

inline void sleep_for(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); }

// Customisation point of cachet::retry in cached<>::async(): a backend with coroutines
// specialises it with
//   static Awaitable<void> wait(std::chrono::nanoseconds);
// which waits on a timer of the awaiting coroutine's executor, so no thread sleeps. This header
// knows no Asio: the specialisation lives with the backend (<cachet/redis.hpp> for Redis).
template <class Backend>
struct backoff_timers {};

template <class Backend>
concept awaits_backoffs = requires(std::chrono::nanoseconds d) {
  backoff_timers<Backend>::wait(d);
};

}  // namespace cachet::detail

#endif
