#ifndef CACHET_DETAIL_FUNCTION_NAME_HPP
#define CACHET_DETAIL_FUNCTION_NAME_HPP

#include <string_view>

namespace cachet::detail {

// The qualified name of the function F points to, e.g. "shop::load_user" or "Repo::find", read
// from the compiler's own spelling of this function's signature. g++ writes "[with auto F =
// shop::load_user]" and clang "[F = &shop::load_user]"; both are reduced to the bare name, so a
// default key is the same whichever of them built the program.
template <auto F>
constexpr std::string_view function_name() {
  std::string_view s = __PRETTY_FUNCTION__;
  const std::size_t eq = s.rfind("F = ");
  s.remove_prefix(eq + 4);
  s.remove_suffix(s.size() - s.find_first_of(";]"));
  while (!s.empty() && (s.front() == '&' || s.front() == '(')) s.remove_prefix(1);
  while (!s.empty() && s.back() == ')') s.remove_suffix(1);
  return s;
}

}  // namespace cachet::detail

#endif
