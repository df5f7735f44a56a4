#ifndef CACHET_DETAIL_POLICY_PACK_HPP
#define CACHET_DETAIL_POLICY_PACK_HPP

#include <cachet/detail/policy.hpp>

#include <boost/hana/basic_tuple.hpp>
#include <boost/hana/count_if.hpp>
#include <boost/hana/find_if.hpp>
#include <boost/hana/type.hpp>

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

// A Hana predicate on type_c<P>: is P a policy of Kind?
template <class Kind>
struct of_kind {
  template <class T>
  constexpr auto operator()(T) const {
    return boost::hana::bool_c<std::is_same_v<typename kind_of<typename T::type>::type, Kind>>;
  }
};

// The policies given to one cached<>, in any order. It is parsed once: every element must be a
// policy, no kind may appear twice, and each facility asks for its own kind with a default.
template <class... Policies>
struct policy_pack {
  static constexpr auto types = boost::hana::make_basic_tuple(boost::hana::type_c<Policies>...);

  static constexpr bool all_policies = (require_policy<Policies>::value && ...);

  template <class Kind>
  static constexpr std::size_t count =
      decltype(boost::hana::count_if(types, of_kind<Kind>{}))::value;

  static constexpr bool unique =
      all_policies && (require_unique_kind<typename kind_of<Policies>::type,
                                           count<typename kind_of<Policies>::type>>::value &&
                       ...);

  // Every policy's values checked (see check_values); always true, like the two above.
  static constexpr bool values_checked = (check_values<Policies>() && ...);

  template <class Kind>
  static constexpr bool has = count<Kind> != 0;

  // The policy of Kind, or Default when the pack has none.
  template <class Kind, class Default>
  using find =
      typename std::remove_cvref_t<decltype(boost::hana::find_if(types, of_kind<Kind>{})
                                                .value_or(boost::hana::type_c<Default>))>::type;
};

}  // namespace cachet::detail

#endif
