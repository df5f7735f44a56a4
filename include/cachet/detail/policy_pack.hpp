#ifndef CACHET_DETAIL_POLICY_PACK_HPP
#define CACHET_DETAIL_POLICY_PACK_HPP

#include <cachet/detail/policy.hpp>

#include <cstddef>
#include <type_traits>

namespace cachet::detail {

template <class T>
struct require_policy {
  static_assert(
      is_policy<T>,
      "cachet::cached: every template argument after the function must be a cachet "
      "policy, such as cachet::ttl<60>, cachet::key<\"user:{}\"> or cachet::capacity<1000>");
  // True either way: the assert above has said what is wrong, and a second, bare "static
  // assertion failed" from the caller's assert would only repeat it.
  static constexpr bool value = true;
};

template <class Kind, std::size_t Count>
struct require_unique_kind {
  static_assert(Count <= 1,
                "cachet::cached: a policy is given twice (the kind named in this instantiation); "
                "keep one, policies do not override each other");
  static constexpr bool value = true;  // as require_policy's
};

template <class T>
struct kind_of {
  using type = void;
};
template <is_policy T>
struct kind_of<T> {
  using type = typename T::policy_kind;
};

template <class T>
using kind_of_t = typename kind_of<T>::type;

// The first of Policies whose kind is Kind, else Default. Only the chosen branch is instantiated.
template <class Kind, class Default, class... Policies>
struct find_kind {
  using type = Default;
};
template <class Kind, class Default, class First, class... Rest>
struct find_kind<Kind, Default, First, Rest...>
    : std::conditional_t<std::is_same_v<kind_of_t<First>, Kind>, std::type_identity<First>,
                         find_kind<Kind, Default, Rest...>> {};

// The policies given to one cached<>, in any order. It is parsed once: every element must be a
// policy, no kind may appear twice, and each facility asks for its own kind with a default.
template <class... Policies>
struct policy_pack {
  static constexpr bool all_policies = (require_policy<Policies>::value && ...);

  template <class Kind>
  static constexpr std::size_t count = (std::size_t{0} + ... +
                                        std::size_t{std::is_same_v<kind_of_t<Policies>, Kind>});

  static constexpr bool unique =
      all_policies &&
      (require_unique_kind<kind_of_t<Policies>, count<kind_of_t<Policies>>>::value && ...);

  // Every policy's values checked (see check_values); always true, like the two above.
  static constexpr bool values_checked = (check_values<Policies>() && ...);

  template <class Kind>
  static constexpr bool has = count<Kind> != 0;

  // The policy of Kind, or Default when the pack has none.
  template <class Kind, class Default>
  using find = typename find_kind<Kind, Default, Policies...>::type;
};

}  // namespace cachet::detail

#endif
