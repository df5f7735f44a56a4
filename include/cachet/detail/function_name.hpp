#ifndef CACHET_DETAIL_FUNCTION_NAME_HPP
#define CACHET_DETAIL_FUNCTION_NAME_HPP

#include <cstddef>
#include <string_view>

namespace cachet::detail {

// The compiler's own spelling of F, read from this function's signature: g++ writes
// "[with auto F = shop::load_user]", clang "[F = &shop::load_user]".
template <auto F>
constexpr std::string_view spelled_function_name() {
  std::string_view s = __PRETTY_FUNCTION__;
  s.remove_prefix(s.rfind("F = ") + 4);
  s.remove_suffix(s.size() - s.find_first_of(";]"));
  return s;
}

template <std::size_t N>
struct name_text {
  char chars[N + 1]{};
  std::size_t size = 0;
};

// Drops what the compilers spell differently: clang's leading '&', and the anonymous namespace
// ("{anonymous}::" for g++, "(anonymous namespace)::" for clang), so a default key is the same
// whichever of them built the program.
template <std::size_t N>
constexpr name_text<N> normalized_name(std::string_view s) {
  constexpr std::string_view gcc_anonymous = "{anonymous}::";
  constexpr std::string_view clang_anonymous = "(anonymous namespace)::";
  name_text<N> out;
  std::size_t i = 0;
  while (i < s.size() && s[i] == '&') ++i;
  while (i < s.size()) {
    if (s.substr(i, gcc_anonymous.size()) == gcc_anonymous) {
      i += gcc_anonymous.size();
    } else if (s.substr(i, clang_anonymous.size()) == clang_anonymous) {
      i += clang_anonymous.size();
    } else {
      out.chars[out.size++] = s[i++];
    }
  }
  return out;
}

template <auto F>
inline constexpr auto function_name_text =
    normalized_name<spelled_function_name<F>().size()>(spelled_function_name<F>());

// The qualified name of the function F points to, e.g. "shop::load_user" or "Repo::find". A
// function in an anonymous namespace is named without it (it is then only unique within its
// translation unit: give it a key<> when several share a Redis server).
template <auto F>
constexpr std::string_view function_name() {
  return {function_name_text<F>.chars, function_name_text<F>.size};
}

}  // namespace cachet::detail

#endif
