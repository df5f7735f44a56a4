#ifndef CACHET_DETAIL_FIXED_STRING_HPP
#define CACHET_DETAIL_FIXED_STRING_HPP

#include <cstddef>
#include <string_view>

namespace cachet::detail {

/// A string literal held by value, so it can be a class template argument:
/// `template <detail::fixed_string S> struct key` lets users write `cachet::key<"user:{}">`.
/// The data member is public because a class NTTP must be structural.
template <std::size_t N>
struct fixed_string {
  static_assert(N > 0,
                "cachet::detail::fixed_string: an empty array is not a string literal; pass a "
                "string literal, e.g. cachet::key<\"user:{}\">");

  char chars[N]{};

  /// Copies a string literal, including its terminating NUL.
  constexpr fixed_string(const char (&literal)[N]) noexcept {  // NOLINT: implicit on purpose
    for (std::size_t i = 0; i < N; ++i) chars[i] = literal[i];
  }

  /// The text without the terminating NUL.
  constexpr std::string_view view() const noexcept { return {chars, N - 1}; }
  /// The number of characters without the terminating NUL.
  constexpr std::size_t size() const noexcept { return N - 1; }
};

template <std::size_t N>
fixed_string(const char (&)[N]) -> fixed_string<N>;

}  // namespace cachet::detail

#endif
