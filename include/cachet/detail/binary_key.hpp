#ifndef CACHET_DETAIL_BINARY_KEY_HPP
#define CACHET_DETAIL_BINARY_KEY_HPP

#include <cachet/key_encoding.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

namespace cachet::detail {

inline void append_length_prefixed(std::string& out, std::string_view text) {
  const auto length = static_cast<std::uint64_t>(text.size());
  char bytes[sizeof length];
  std::memcpy(bytes, &length, sizeof length);
  out.append(bytes, sizeof length);
  out.append(text);
}

// Appends what render(out) appends, prefixed with its length.
template <class Render>
void append_length_prefixed_by(std::string& out, Render&& render) {
  const std::size_t start = out.size();
  std::uint64_t length = 0;
  out.append(sizeof length, '\0');
  render(out);
  length = out.size() - start - sizeof length;
  std::memcpy(out.data() + start, &length, sizeof length);
}

// Arguments whose binary key is their bytes (see append_binary_key).
template <class T>
concept fixed_size_key_argument =
    std::is_integral_v<std::remove_cvref_t<T>> || std::is_enum_v<std::remove_cvref_t<T>> ||
    std::is_same_v < std::remove_cvref_t<T>,
float > || std::is_same_v<std::remove_cvref_t<T>, double>;

// Arguments whose key text is their decimal value: a key<> template's text reads back into
// their bytes (see key<S>::parse), so cachet::tiered can key memory by the bytes.
template <class T>
concept integer_key_argument = encoding_kind_of<std::remove_cvref_t<T>>()
== encoding_kind::integer;

// Copies the bytes of a number argument to `out`. Every NaN is copied as the same quiet NaN, so
// NaNs of different bits share one entry, as they share the key text `nan`.
template <fixed_size_key_argument T>
void copy_key_bytes(char* out, const T& value) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(value)) {
      const T canonical = std::numeric_limits<T>::quiet_NaN();
      std::memcpy(out, &canonical, sizeof(T));
      return;
    }
  }
  std::memcpy(out, &value, sizeof(T));
}

// The in-process key of one argument. An in-process store never shows its keys to anyone, so it
// skips the text rendering a remote backend needs: numbers are their bytes, strings are
// length-prefixed, anything else is its key text, length-prefixed. The argument types at each
// position are fixed for a cached function, so the result is as unambiguous as the text.
template <class T>
void append_binary_key(std::string& out, const T& value) {
  using U = std::remove_cvref_t<T>;
  // long double has padding bytes of no defined value, so it goes the text way.
  if constexpr (fixed_size_key_argument<U>) {
    char bytes[sizeof(U)];
    copy_key_bytes<U>(bytes, value);
    out.append(bytes, sizeof(U));
  } else if constexpr (std::is_same_v<U, std::string> || std::is_same_v<U, std::string_view>) {
    append_length_prefixed(out, std::string_view(value));
  } else {
    append_length_prefixed_by(out, [&](std::string& o) { render_key_argument(o, value); });
  }
}

}  // namespace cachet::detail

#endif
