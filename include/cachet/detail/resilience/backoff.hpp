#ifndef CACHET_DETAIL_RESILIENCE_BACKOFF_HPP
#define CACHET_DETAIL_RESILIENCE_BACKOFF_HPP

#include <cachet/errors.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <random>
#include <thread>
#include <utility>

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
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::uniform_int_distribution<std::chrono::nanoseconds::rep> pick(0, cap.count());
  return std::chrono::nanoseconds(pick(generator));
}

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
