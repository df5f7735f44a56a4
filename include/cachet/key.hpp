#ifndef CACHET_KEY_HPP
#define CACHET_KEY_HPP

#include <cachet/detail/fixed_string.hpp>
#include <cachet/detail/key/template.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/key_encoding.hpp>

#include <string>
#include <string_view>

namespace cachet {
namespace detail {

/// The family of cachet::key.
struct key_kind {};

/// How a cached function keys its entries when no cachet::key is given: the arguments' key texts
/// joined by ':' (`f(42, "a:b")` -> `42:a%3Ab`; no arguments -> empty). ':' never occurs in an
/// argument's text, so the result is unambiguous. The caller adds the function's name.
struct default_key {
  template <class... Args>
  static void render([[maybe_unused]] std::string& out, const Args&... args) {
    [[maybe_unused]] bool first = true;
    ((first ? void(first = false) : out.push_back(':'), render_key_argument(out, args)), ...);
  }
  // Every argument type with a key encoding fits; cached<> checks that of each argument itself.
  template <class...>
  static constexpr bool check() {
    return true;
  }
};

}  // namespace detail

/// Policy: the cache key of a call, as a template over the function's arguments, checked at
/// compile time like a fmt format string. `{}` takes the next argument, `{N}` argument N (from 0;
/// do not mix the two), `{{` and `}}` are literal braces. Every argument must appear, and two
/// placeholders must be separated by a character no argument text contains (see
/// key_encoding.hpp), e.g. ':' '/' '|' '#'.
/// \code
/// cachet::cached<&load_order, cachet::key<"order:{1}/{0}">> get_order;  // (7, "eu") -> order:eu/7
/// \endcode
template <detail::fixed_string S>
struct key : detail::policy<detail::key_kind> {
  /// The template as written.
  static constexpr std::string_view text = S.view();

  /// Checks the template against the argument types (cv/ref ignored): fails to compile with a
  /// "cachet::key: ..." message when they do not fit; otherwise returns true.
  template <class... Args>
  static constexpr bool check() {
    return detail::check_key_template<S, detail::template_use::key, Args...>();
  }

  /// Appends the key of a call with `args` to `out`.
  template <class... Args>
  static void render(std::string& out, const Args&... args) {
    if constexpr (check<Args...>()) detail::render_key_template<S>(out, args...);
  }

  /// Reads back into `args` the integer arguments whose key is `rendered`; false when no integer
  /// arguments render as `rendered` under this template (the caller renders them again and
  /// compares: a key such as "user:007" parses but is not rendered so).
  template <class... Args>
  static bool parse(std::string_view rendered, Args&... args) {
    return detail::parse_integer_key_template<S>(rendered, args...);
  }
};

}  // namespace cachet

#endif
