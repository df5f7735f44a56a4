#ifndef CACHET_CAPACITY_HPP
#define CACHET_CAPACITY_HPP

#include <cachet/detail/policy.hpp>

#include <cstddef>

namespace cachet {
namespace detail {
struct capacity_kind {};

// What cached<> uses without a capacity<> policy: unbounded.
struct no_capacity {
  static constexpr std::size_t value = 0;
};
}  // namespace detail

/// The most entries the cache keeps before it evicts the least recently used ones.
/// Without this policy the in-memory cache is unbounded (expired entries are still reclaimed).
/// A default: `cachet::options::capacity` overrides it at run time.
///
///     auto sq = cachet::make_cached<cachet::capacity<1024>>([](int x) { return x * x; });
template <std::size_t Entries>
struct capacity : detail::policy<detail::capacity_kind> {
  static constexpr void check_values() {
    static_assert(Entries > 0,
                  "cachet::capacity: the capacity must be at least 1; leave the policy out for an "
                  "unbounded cache");
  }
  static constexpr std::size_t value = Entries;
};

}  // namespace cachet

#endif
