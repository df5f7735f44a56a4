#ifndef CACHET_DETAIL_POLICY_HPP
#define CACHET_DETAIL_POLICY_HPP

#include <concepts>

namespace cachet::detail {

// Every policy derives from policy<Kind>. The kind names the policy's family, so a pack can be
// searched by kind, and two policies of one kind in a pack are a duplicate however their
// arguments differ (ttl<1> and ttl<2>).
template <class Kind>
struct policy {
  using policy_kind = Kind;
};

template <class T>
concept is_policy = requires {
  typename T::policy_kind;
}
&&std::derived_from<T, policy<typename T::policy_kind>>;

// Makes a static_assert depend on a template parameter, so it fires only when instantiated.
template <class...>
inline constexpr bool wrong = false;

}  // namespace cachet::detail

#endif
