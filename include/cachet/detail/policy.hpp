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

// Runs the static_asserts on a policy's or option's values (`capacity<0>`, `per<0>`), which live
// in its `check_values()` rather than in its class body: clang marks a class whose body fails a
// static_assert invalid, and every later use of that class would add errors to the one that
// names the rule. Always true, so the caller's own static_assert never adds a bare message.
template <class T>
constexpr bool check_values() {
  if constexpr (requires { T::check_values(); }) T::check_values();
  return true;
}

// For `static_assert(reported(check<...>()))`: runs a check whose own static_asserts say what is
// wrong, without a second, bare "static assertion failed" when it returns false.
constexpr bool reported(bool) { return true; }

// Makes a static_assert depend on a template parameter, so it fires only when instantiated.
template <class...>
inline constexpr bool wrong = false;

}  // namespace cachet::detail

#endif
