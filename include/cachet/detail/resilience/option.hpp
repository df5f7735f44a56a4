#ifndef CACHET_DETAIL_RESILIENCE_OPTION_HPP
#define CACHET_DETAIL_RESILIENCE_OPTION_HPP

#include <cachet/clock.hpp>

#include <chrono>
#include <cstddef>
#include <type_traits>

namespace cachet::detail {

// The options inside a resilience policy (per<60> in rate_limit<100, per<60>>) derive from
// option<Kind>, not policy<Kind>: they mean nothing as a policy of cached<> on their own.
template <class Kind>
struct option {
  using option_kind = Kind;
};

template <class T, class = void>
struct option_kind_of {
  using type = void;
};
template <class T>
struct option_kind_of<T, std::void_t<typename T::option_kind>> {
  using type = std::conditional_t<std::is_base_of_v<option<typename T::option_kind>, T>,
                                  typename T::option_kind, void>;
};

template <class T, class... Kinds>
inline constexpr bool is_option_of = (std::is_same_v<typename option_kind_of<T>::type, Kinds> ||
                                      ...);

template <class Kind, class... Options>
inline constexpr std::size_t option_count =
    (std::size_t{0} + ... + (std::is_same_v<typename option_kind_of<Options>::type, Kind> ? 1 : 0));

template <class Kind, class Default, class... Options>
struct find_option {
  using type = Default;
};
template <class Kind, class Default, class First, class... Rest>
struct find_option<Kind, Default, First, Rest...> {
  using type = std::conditional_t<std::is_same_v<typename option_kind_of<First>::type, Kind>, First,
                                  typename find_option<Kind, Default, Rest...>::type>;
};

// The option of Kind among Options, or Default.
template <class Kind, class Default, class... Options>
using find_option_t = typename find_option<Kind, Default, Options...>::type;

// What the policies read when no clock is injected.
class steady_clock_source final : public cachet::clock {
 public:
  time_point now() const noexcept override { return std::chrono::steady_clock::now(); }
};

inline const cachet::clock& clock_or_steady(const cachet::clock* injected) noexcept {
  static const steady_clock_source steady;
  return injected != nullptr ? *injected : steady;
}

}  // namespace cachet::detail

#endif
