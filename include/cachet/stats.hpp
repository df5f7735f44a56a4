#ifndef CACHET_STATS_HPP
#define CACHET_STATS_HPP

#include <cstdint>

namespace cachet {

/// Counters of one cached function since it was constructed.
/// `misses` counts calls that found no fresh entry; `loads` counts calls of the wrapped function,
/// so concurrent misses on one key add one load (single flight) but several misses.
struct stats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t loads = 0;          ///< calls of the function that returned a value
  std::uint64_t load_errors = 0;    ///< calls of the function that threw (never cached)
  std::uint64_t evictions = 0;      ///< entries dropped to respect the capacity
  std::uint64_t expirations = 0;    ///< entries dropped because their ttl had passed
  std::uint64_t invalidations = 0;  ///< entries found stale by a tag invalidation
  std::uint64_t decode_errors = 0;  ///< stored values that could not be read back (remote backends)
  std::uint64_t backend_errors = 0;  ///< failed backend operations the call survived
  /// Calls answered by cachet::fail_safe with a result past its ttl, because no fresh one could
  /// be had (the function threw, its breaker was open, or the call was rate limited).
  std::uint64_t stale_served = 0;
  /// Backend operations (a call's read or write, a peek, a stale read) skipped because the
  /// backend's breaker was open: Redis was unreachable, so the call went on without it.
  std::uint64_t backend_skipped = 0;
  /// Hits answered by the memory tier of a cachet::tiered backend, without asking Redis (also
  /// counted in `hits`; the rest of `hits` were Redis's).
  std::uint64_t memory_tier_hits = 0;

  friend bool operator==(const stats&, const stats&) = default;
};

}  // namespace cachet

#endif
