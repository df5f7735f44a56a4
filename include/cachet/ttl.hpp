#ifndef CACHET_TTL_HPP
#define CACHET_TTL_HPP

#include <cachet/detail/policy.hpp>

#include <chrono>
#include <cstdint>

namespace cachet {
namespace detail {
struct ttl_kind {};
}  // namespace detail

/// How long a stored result stays fresh, in seconds; `ttl<0>` never expires.
/// A default: `cachet::options::ttl` overrides it at run time.
///
///     cachet::cached<&load_user, cachet::ttl<300>> get_user;
template <std::uint64_t Seconds>
struct ttl : detail::policy<detail::ttl_kind> {
  static constexpr std::chrono::seconds value{Seconds};
};

}  // namespace cachet

#endif
