#ifndef CACHET_DETAIL_RESILIENCE_GCRA_HPP
#define CACHET_DETAIL_RESILIENCE_GCRA_HPP

#include <cachet/clock.hpp>
#include <cachet/error.hpp>
#include <cachet/rate_limit_decision.hpp>
#include <cachet/rate_limited.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>

namespace cachet {

namespace detail {

// GCRA, the generic cell rate algorithm: a key's whole state is its "theoretical arrival time"
// (TAT), the time at which its bucket will be full again; a TAT at or before now is a full bucket,
// the state of a key never seen. A call at `now` is admitted when the backlog max(TAT, now) - now
// is at most `tolerance` = interval * (limit - 1), and then moves the TAT one interval on. The
// Lua script of cachet::redis_rate_limiter takes exactly these steps, so that a limit kept in
// Redis decides as a local one does.
struct gcra {
  using rep = clock::duration::rep;

  rep interval;
  rep tolerance;

  static gcra checked(std::uint64_t limit, clock::duration period) {
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
    const rep interval = period.count() / static_cast<rep>(limit);
    return {interval, interval * static_cast<rep>(limit - 1)};
  }

  struct step {
    rate_limit_decision decision;
    rep next;  // the TAT to store when admitted
  };

  // Without `Remaining`, decision.remaining is left 0: callers that only admit or refuse (the
  // rate_limit policy) skip its division, the slowest instruction of the step.
  template <bool Remaining = true>
  step decide(rep seen, rep now) const noexcept {
    const rep start = std::max(seen, now);
    const rep backlog = start - now;
    if (backlog > tolerance) return {{false, clock::duration(backlog - tolerance), 0}, seen};
    const rep next = start + interval;
    std::uint64_t remaining = 0;
    if constexpr (Remaining) {
      const rep room = tolerance - (next - now);
      remaining = room < 0 ? 0 : static_cast<std::uint64_t>(room / interval) + 1;
    }
    return {{true, clock::duration::zero(), remaining}, next};
  }

  template <bool Remaining, class Atomic>
  rate_limit_decision admit(Atomic arrival, rep now) const noexcept {
    rep seen = arrival.load(std::memory_order_relaxed);
    for (;;) {
      const step s = decide<Remaining>(seen, now);
      if (!s.decision.allowed ||
          arrival.compare_exchange_weak(seen, s.next, std::memory_order_relaxed)) {
        return s.decision;
      }
    }
  }
};

// The steps of a rate_limiter on a state kept elsewhere: the Gate (see detail/memory/store.hpp)
// of an in-memory store into which cached<> fuses a rate_limit whose key is the store's, so that
// a hit checks the limit on the entry it has found. Same rule and retry_after as the limiter the
// policy builds otherwise; the time is the store's, read once for the entry's expiry and the
// limit: options::clock, else the memory backend's, which is the same coarse steady clock as
// the limiter's unless the backend was given a clock of its own (then the limit follows it, as
// options::clock says).
struct gcra_gate {
  using state = gcra::rep;
  using decision = rate_limit_decision;
  static constexpr state initial = std::numeric_limits<state>::min();

  gcra rule;
  clock::duration slack;  // as rate_limiter's: how far behind the time read may be

  decision admit(std::atomic_ref<state> arrival, state at) const noexcept {
    return rule.admit<false>(arrival, at);
  }
  // A full bucket, the state of a key never seen.
  static bool idle(state arrival, state at) noexcept { return arrival <= at; }
  [[noreturn]] void refuse(const decision& d) const { throw rate_limited(d.retry_after + slack); }
};

}  // namespace detail

}  // namespace cachet

#endif
