#ifndef CACHET_KEY_ENCODING_HPP
#define CACHET_KEY_ENCODING_HPP

/// \file
/// How a cached function's arguments become text in its cache key.
///
/// The format is documented and stable (across runs, processes, compilers and platforms), because
/// the same text names Redis keys that other processes and operators read:
///
/// | argument                                   | text                                          |
/// |--------------------------------------------|-----------------------------------------------|
/// | `bool`                                     | `true`, `false`                               |
/// | integers, `signed char`, `unsigned char`   | decimal: `42`, `-7`                           |
/// | enumerations                               | the underlying integer in decimal             |
/// | `float`, `double`, `long double`           | shortest round-trip std::to_chars text: `0.5`,
/// `-0`, `1e+100`, `inf`, `-inf`; every NaN is `nan` | | `char`, `std::string`, `std::string_view`,
/// `const char*`, `char[N]` | the bytes, each byte outside `[A-Za-z0-9_.-]` written as `%XX`
/// (upper-case hex): `a:b` -> `a%3Ab`; a null `const char*` is `~` | | `std::optional<T>` | `~`
/// when empty, else the value's text; `(text)` when T's own text can be `~` | | `std::vector`,
/// `std::array`, `std::set`, `std::map`, other ordered ranges | `(e1,e2,...)`, `()` when empty | |
/// `std::tuple`, `std::pair`, structs adapted with `BOOST_HANA_DEFINE_STRUCT` | `(e1,e2,...)` in
/// declaration order | | types with a `cachet::key_encoding` specialisation | their fields: one
/// field bare, several as `(f1,f2,...)` |
///
/// Inside `( )` an element whose text is empty (an empty string) is written `""`, so `()` (no
/// elements) and `("")` (one empty string) differ.

///
/// A `std::chrono::duration` is its value in nanoseconds followed by `ns`, so `seconds(120)` and
/// `minutes(2)` are both `120000000000ns`; a floating-point count gives floating-point text
/// (`1.5e+09ns`). A period finer than a nanosecond (std::pico) has no encoding.
///
/// So a rendered argument only ever contains `[A-Za-z0-9_.+%(),~"-]`: the *argument alphabet*.
/// Any other character (`:` `/` `|` `#` `{` ...) never occurs in an argument, which is what makes
/// keys unambiguous (key templates must separate placeholders with one) and keeps Redis glob
/// characters (`* ? [ ] \`) and cluster hash-tag braces out of arguments.
///
/// Pointers other than `const char*` and unordered containers have no encoding: a pointer value
/// and a hash-table order differ between processes.

#include <cachet/detail/key/alphabet.hpp>
#include <cachet/detail/policy.hpp>

#include <boost/hana/accessors.hpp>
#include <boost/hana/concept/struct.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/unpack.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <optional>
#include <ranges>
#include <ratio>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cachet {

class key_writer;

/// Customisation point: specialise it to give a type of yours a key encoding.
/// Write the fields through `key_writer::field`, so they use the built-in encodings and stay
/// unambiguous; write the same sequence of field types for every value.
/// \code
/// struct account { long id; std::string region; };
/// template <>
/// struct cachet::key_encoding<account> {
///   static void render(cachet::key_writer& out, const account& value) {
///     out.field(value.id);
///     out.field(value.region);
///   }
/// };
/// // account{7, "eu west"} renders as (7,eu%20west); a type writing one field renders bare: 7
/// \endcode
template <class T>
struct key_encoding {};

namespace detail {

template <class T>
concept has_user_key_encoding = requires(key_writer& out, const T& value) {
  key_encoding<T>::render(out, value);
};

enum class encoding_kind {
  none,
  pointer,
  unordered,
  user,
  boolean,
  character,
  integer,
  enumeration,
  floating,
  string,
  c_string,
  char_array,
  optional,
  tuple,
  duration,
  range,
  hana_struct,
};

template <class T>
inline constexpr bool is_std_string = false;
template <class Allocator>
inline constexpr bool is_std_string<std::basic_string<char, std::char_traits<char>, Allocator>> =
    true;
template <>
inline constexpr bool is_std_string<std::string_view> = true;

template <class T>
inline constexpr bool is_std_optional = false;
template <class T>
inline constexpr bool is_std_optional<std::optional<T>> = true;

template <class T>
inline constexpr bool is_std_duration = false;
template <class Rep, class Period>
inline constexpr bool is_std_duration<std::chrono::duration<Rep, Period>> = true;

// A duration with a count of whole nanoseconds (every standard period from nanoseconds up) or a
// floating-point count, whose nanosecond value is then a floating-point number too.
template <class Duration>
inline constexpr bool has_nanosecond_value =
    std::is_floating_point_v<typename Duration::rep> ||
    (std::is_integral_v<typename Duration::rep> && sizeof(typename Duration::rep) <= 8 &&
     std::ratio_divide<typename Duration::period, std::nano>::den == 1);

template <class T>
inline constexpr bool is_std_tuple_or_pair = false;
template <class... E>
inline constexpr bool is_std_tuple_or_pair<std::tuple<E...>> = true;
template <class A, class B>
inline constexpr bool is_std_tuple_or_pair<std::pair<A, B>> = true;

// T has no cv or reference qualifiers. A user specialisation wins over every built-in rule.
template <class T>
consteval encoding_kind encoding_kind_of() {
  using enum encoding_kind;
  if constexpr (has_user_key_encoding<T>) {
    return user;
  } else if constexpr (std::same_as<T, bool>) {
    return boolean;
  } else if constexpr (std::same_as<T, char>) {
    return character;
  } else if constexpr (std::same_as<T, wchar_t> || std::same_as<T, char8_t> ||
                       std::same_as<T, char16_t> || std::same_as<T, char32_t>) {
    return none;
  } else if constexpr (std::integral<T>) {
    return integer;
  } else if constexpr (std::is_enum_v<T>) {
    return enumeration;
  } else if constexpr (std::floating_point<T>) {
    return floating;
  } else if constexpr (is_std_string<T>) {
    return string;
  } else if constexpr (std::same_as<T, const char*>) {
    return c_string;
  } else if constexpr (std::is_pointer_v<T> || std::is_member_pointer_v<T> ||
                       std::is_null_pointer_v<T>) {
    return pointer;
  } else if constexpr (std::is_bounded_array_v<T> && std::same_as<std::remove_extent_t<T>, char>) {
    return char_array;
  } else if constexpr (is_std_optional<T>) {
    return optional;
  } else if constexpr (is_std_tuple_or_pair<T>) {
    return tuple;
  } else if constexpr (is_std_duration<T>) {
    if constexpr (has_nanosecond_value<T>) {
      return duration;
    } else {
      return none;
    }
  } else if constexpr (requires { typename T::hasher; }) {
    return unordered;
  } else if constexpr (std::ranges::input_range<const T>) {
    // A range of itself (std::filesystem::path) would recurse forever.
    if constexpr (std::same_as<std::remove_cv_t<std::ranges::range_value_t<const T>>, T>) {
      return none;
    } else {
      return range;
    }
  } else if constexpr (boost::hana::Struct<T>::value) {
    return hana_struct;
  } else {
    return none;
  }
}

template <class T>
consteval bool is_encodable() {
  using enum encoding_kind;
  constexpr encoding_kind kind = encoding_kind_of<T>();
  if constexpr (kind == none || kind == pointer || kind == unordered) {
    return false;
  } else if constexpr (kind == optional) {
    return is_encodable<std::remove_cv_t<typename T::value_type>>();
  } else if constexpr (kind == tuple) {
    return []<template <class...> class Tuple, class... E>(std::type_identity<Tuple<E...>>) {
      return (is_encodable<std::remove_cvref_t<E>>() && ...);
    }(std::type_identity<T>{});
  } else if constexpr (kind == range) {
    return is_encodable<std::remove_cv_t<std::ranges::range_value_t<const T>>>();
  } else if constexpr (kind == hana_struct) {
    return boost::hana::unpack(boost::hana::accessors<T>(), [](auto... accessor) {
      return (is_encodable<std::remove_cvref_t<decltype(boost::hana::second(accessor)(
                  std::declval<const T&>()))>>() &&
              ...);
    });
  } else {
    return true;
  }
}

// Whether T's text can be exactly "~", the text of an empty optional; an engaged optional of
// such a T wraps the value in ( ) to stay distinct. User encodings are assumed to be able to.
template <class T>
inline constexpr bool may_render_tilde = encoding_kind_of<T>() == encoding_kind::optional
                                         || encoding_kind_of<T>() == encoding_kind::c_string
                                         || encoding_kind_of<T>() == encoding_kind::user;

// One static_assert per reason, so the message says what to change.
template <class T>
constexpr void require_key_encoding() {
  constexpr encoding_kind kind = encoding_kind_of<std::remove_cv_t<T>>();
  if constexpr (kind == encoding_kind::pointer) {
    static_assert(wrong<T>,
                  "cachet::key_encoding: a pointer has no key encoding because its value differs "
                  "between processes; pass the pointed-to value (only const char* is read, as a C "
                  "string)");
  } else if constexpr (kind == encoding_kind::unordered) {
    static_assert(wrong<T>,
                  "cachet::key_encoding: an unordered container has no key encoding because its "
                  "iteration order is not stable; pass a std::set, std::map or sorted std::vector");
  } else if constexpr (!is_encodable<std::remove_cv_t<T>>()) {
    static_assert(wrong<T>,
                  "cachet::key_encoding: this argument type has no key encoding; specialise "
                  "cachet::key_encoding<T> or adapt the struct with BOOST_HANA_DEFINE_STRUCT");
  }
}

template <class T>
void render_value(std::string& out, const T& value);

// An element inside ( ) is never empty, so () and ("") differ.
template <class T>
void render_element(std::string& out, const T& value) {
  const std::size_t before = out.size();
  render_value(out, value);
  if (out.size() == before) out.append("\"\"");
}

inline void append_escaped(std::string& out, std::string_view text) {
  constexpr std::string_view hex = "0123456789ABCDEF";
  std::size_t run_begin = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (is_safe_string_char(text[i])) continue;
    out.append(text.data() + run_begin, i - run_begin);
    const auto byte = static_cast<unsigned char>(text[i]);
    const char escape[3] = {'%', hex[byte >> 4], hex[byte & 0xF]};
    out.append(escape, sizeof escape);
    run_begin = i + 1;
  }
  out.append(text.data() + run_begin, text.size() - run_begin);
}

template <class Number>
void append_number(std::string& out, Number value) {
  // Large enough for any integer and for the shortest form of any long double.
  char buffer[64];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr);
}

// Appends a duration's value in nanoseconds. An integer count times its period in nanoseconds
// needs up to 127 bits (years(1'000'000'000)), so the product is taken in 128 bits.
template <class Rep, class Period>
void append_nanoseconds(std::string& out, std::chrono::duration<Rep, Period> value) {
  if constexpr (std::is_floating_point_v<Rep>) {
    const Rep nanoseconds = std::chrono::duration<Rep, std::nano>(value).count();
    if (std::isnan(nanoseconds)) {
      out.append("nan");
    } else {
      append_number(out, nanoseconds);
    }
  } else {
    __extension__ using wide = __int128;
    __extension__ using wide_magnitude = unsigned __int128;
    constexpr auto per_unit = std::ratio_divide<Period, std::nano>::num;
    const wide product = static_cast<wide>(value.count()) * static_cast<wide>(per_unit);
    wide_magnitude magnitude = product < 0
                                   ? wide_magnitude{0} - static_cast<wide_magnitude>(product)
                                   : static_cast<wide_magnitude>(product);
    char digits[40];
    char* first = digits + sizeof digits;
    do {
      *--first = static_cast<char>('0' + static_cast<int>(magnitude % 10));
      magnitude /= 10;
    } while (magnitude != 0);
    if (product < 0) out.push_back('-');
    out.append(first, digits + sizeof digits);
  }
  out.append("ns");
}

struct key_writer_access;

}  // namespace detail

/// Writes the fields of a user type's key encoding; see cachet::key_encoding.
/// One field renders bare (`7`), several render as `(f1,f2,...)`, none as `()`.
class key_writer {
 public:
  key_writer(const key_writer&) = delete;
  key_writer& operator=(const key_writer&) = delete;

  /// Appends one field, rendered with its own key encoding.
  template <class T>
  void field(const T& value) {
    detail::require_key_encoding<T>();
    if constexpr (detail::is_encodable<std::remove_cv_t<T>>()) {
      // Parentheses are only needed once there is a second field; add the opening one then.
      if (fields_ == 1) out_.insert(start_, 1, '(');
      if (fields_ >= 1) out_.push_back(',');
      detail::render_element(out_, value);
      ++fields_;
    }
  }

 private:
  friend struct detail::key_writer_access;

  explicit key_writer(std::string& out) noexcept : out_(out), start_(out.size()) {}

  void finish() {
    if (fields_ == 0) {
      out_.append("()");
    } else if (fields_ > 1) {
      out_.push_back(')');
    }
  }

  std::string& out_;
  std::size_t start_;
  std::size_t fields_ = 0;
};

namespace detail {

struct key_writer_access {
  template <class T>
  static void render(std::string& out, const T& value) {
    key_writer writer(out);
    key_encoding<T>::render(writer, value);
    writer.finish();
  }
};

template <class T>
void render_value(std::string& out, const T& value) {
  using enum encoding_kind;
  constexpr encoding_kind kind = encoding_kind_of<T>();
  if constexpr (kind == user) {
    key_writer_access::render(out, value);
  } else if constexpr (kind == boolean) {
    out.append(value ? "true" : "false");
  } else if constexpr (kind == character) {
    append_escaped(out, std::string_view(&value, 1));
  } else if constexpr (kind == integer) {
    append_number(out, value);
  } else if constexpr (kind == enumeration) {
    // Unary + turns a char or bool underlying type into an integer.
    append_number(out, +static_cast<std::underlying_type_t<T>>(value));
  } else if constexpr (kind == floating) {
    // The sign and payload of a NaN vary by platform and operation; all NaNs render alike.
    if (std::isnan(value)) {
      out.append("nan");
    } else {
      append_number(out, value);
    }
  } else if constexpr (kind == string) {
    append_escaped(out, value);
  } else if constexpr (kind == c_string) {
    if (value == nullptr) {
      out.push_back('~');
    } else {
      append_escaped(out, value);
    }
  } else if constexpr (kind == char_array) {
    const std::string_view whole(value, std::extent_v<T>);
    append_escaped(out, whole.substr(0, whole.find('\0')));
  } else if constexpr (kind == optional) {
    using value_type = std::remove_cv_t<typename T::value_type>;
    if (!value.has_value()) {
      out.push_back('~');
    } else if constexpr (may_render_tilde<value_type>) {
      out.push_back('(');
      render_value<value_type>(out, *value);
      out.push_back(')');
    } else {
      render_value<value_type>(out, *value);
    }
  } else if constexpr (kind == tuple) {
    out.push_back('(');
    std::apply(
        [&out](const auto&... element) {
          bool first = true;
          ((first ? void(first = false) : out.push_back(','), render_element(out, element)), ...);
        },
        value);
    out.push_back(')');
  } else if constexpr (kind == duration) {
    append_nanoseconds(out, value);
  } else if constexpr (kind == range) {
    using value_type = std::remove_cv_t<std::ranges::range_value_t<const T>>;
    out.push_back('(');
    bool first = true;
    for (auto&& element : value) {
      if (!first) out.push_back(',');
      first = false;
      // Converts proxy references (std::vector<bool>) to the value type.
      render_element<value_type>(out, element);
    }
    out.push_back(')');
  } else if constexpr (kind == hana_struct) {
    out.push_back('(');
    bool first = true;
    boost::hana::for_each(boost::hana::accessors<T>(), [&](auto accessor) {
      if (!first) out.push_back(',');
      first = false;
      render_element(out, boost::hana::second(accessor)(value));
    });
    out.push_back(')');
  }
}

/// Appends the key text of `value` to `out` (the entry point cached<> uses for each argument).
/// Allocates only when `out` lacks capacity.
template <class T>
void render_key_argument(std::string& out, const T& value) {
  require_key_encoding<T>();
  if constexpr (is_encodable<std::remove_cv_t<T>>()) render_value<std::remove_cv_t<T>>(out, value);
}

}  // namespace detail

/// True exactly for the types that have a key encoding (cv and reference qualifiers ignored).
/// \code
/// static_assert(cachet::key_encodable<std::vector<std::optional<int>>>);
/// static_assert(!cachet::key_encodable<int*>);
/// \endcode
template <class T>
concept key_encodable = detail::is_encodable<std::remove_cvref_t<T>>();

/// The key text of one value, e.g. to build the text for `invalidate_tag` from a value that may
/// need escaping: `"user:" + cachet::to_key_text(std::string("bob smith"))` is `user:bob%20smith`.
template <class T>
std::string to_key_text(const T& value) {
  std::string text;
  detail::render_key_argument(text, value);
  return text;
}

}  // namespace cachet

#endif
