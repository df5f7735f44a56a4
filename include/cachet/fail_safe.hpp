#ifndef CACHET_FAIL_SAFE_HPP
#define CACHET_FAIL_SAFE_HPP

#include <cachet/detail/policy.hpp>
#include <cachet/ttl.hpp>

#include <chrono>
#include <cstdint>

namespace cachet {
namespace detail {
struct fail_safe_kind {};

// What cached<> uses without a fail_safe<> policy: nothing is kept past its ttl.
struct no_fail_safe {
  static constexpr std::chrono::seconds max_stale{0};
};
}  // namespace detail

/// Policy: keeps each result for `MaxStaleSeconds` past its ttl, and serves it when a fresh one
/// cannot be had: the function threw (after any cachet::retry), cachet::circuit_breaker is open,
/// or cachet::rate_limit rejected the call. A call that succeeds never sees a stale result; the
/// stale one is served only in place of an exception, and counted in `stats().stale_served`.
///
///     // prices fresh for 30 s; if the price service fails, the last good price up to 1 h old
///     cachet::cached<&prices, cachet::ttl<30>, cachet::fail_safe<3600>, cachet::retry<3>> price;
///
/// It needs a ttl (`ttl<N>` with N > 0): without one a result never goes stale, and there is
/// nothing for fail_safe to serve.
///
/// An entry that was invalidated (invalidate, invalidate_tag, clear) is gone: it is never served,
/// however recent. `options::fail_safe_max_stale` overrides the policy's value at run time.
template <std::uint64_t MaxStaleSeconds>
struct fail_safe : detail::policy<detail::fail_safe_kind> {
  static constexpr void check_values() {
    static_assert(MaxStaleSeconds > 0,
                  "cachet::fail_safe: the maximum staleness must be at least 1 second; leave the "
                  "policy out to never serve a result past its ttl");
    static_assert(MaxStaleSeconds <= max_ttl.count(),
                  "cachet::fail_safe: the maximum staleness must be at most 100 years "
                  "(cachet::max_ttl), or the time an entry is kept would overflow; give fewer "
                  "seconds");
  }
  static constexpr std::chrono::seconds max_stale{MaxStaleSeconds};
};

}  // namespace cachet

#endif
