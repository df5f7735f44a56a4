#ifndef CACHET_NAME_HPP
#define CACHET_NAME_HPP

#include <cachet/detail/fixed_string.hpp>
#include <cachet/detail/policy.hpp>

#include <string_view>

namespace cachet {
namespace detail {
struct name_kind {};
}  // namespace detail

/// The name a cached function goes by in observer events (event::cache) and in metrics (the
/// label cache="..."). Without it, the name is the key template, else the function's qualified
/// name, else (a function object without key<>) "anonymous".
///
///     cachet::cached<&load_user, cachet::ttl<300>, cachet::name<"users">> get_user;
template <detail::fixed_string S>
struct name : detail::policy<detail::name_kind> {
  static constexpr void check_values() {
    static_assert(S.size() > 0,
                  "cachet::name: the name is empty, and metrics and events need one to tell "
                  "caches apart; give a name such as cachet::name<\"users\">, or leave the policy "
                  "out to use the key template or the function's name");
  }
  static constexpr std::string_view value = S.view();
};

}  // namespace cachet

#endif
