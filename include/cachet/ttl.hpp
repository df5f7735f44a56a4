#ifndef CACHET_TTL_HPP
#define CACHET_TTL_HPP

#include <cachet/detail/policy.hpp>

#include <chrono>
#include <cstdint>

namespace cachet {
namespace detail {
struct ttl_kind {};
}  // namespace detail

/// The longest ttl, 100 years: a longer one would overflow the nanosecond expiry times. cachet::ttl
/// rejects more at compile time; a longer `options::ttl` never expires, as `ttl<0>`.
inline constexpr std::chrono::seconds max_ttl{3'155'760'000};

/// How long a stored result stays fresh, in seconds, at most cachet::max_ttl; `ttl<0>` never
/// expires.
/// A default: `cachet::options::ttl` overrides it at run time.
///
///     cachet::cached<&load_user, cachet::ttl<300>> get_user;
template <std::uint64_t Seconds>
struct ttl : detail::policy<detail::ttl_kind> {
  static constexpr void check_values() {
    static_assert(Seconds <= max_ttl.count(),
                  "cachet::ttl: a ttl must be at most 100 years (cachet::max_ttl, 3155760000 s), "
                  "or its expiry time would overflow; write cachet::ttl<0> to never expire");
  }
  static constexpr std::chrono::seconds value{Seconds};
};

}  // namespace cachet

#endif
