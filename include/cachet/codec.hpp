#ifndef CACHET_CODEC_HPP
#define CACHET_CODEC_HPP

/// \file
/// How a remote backend turns a cached result into bytes and back.
///
/// The default is JSON (Boost.JSON), so that services in other languages can read the values:
/// numbers, bool, strings, `std::optional` (null when empty), sequence containers (arrays),
/// maps (objects), `std::tuple`/`std::pair`/`std::array` (arrays) and structs adapted with
/// `BOOST_HANA_DEFINE_STRUCT` (objects keyed by field name) all work out of the box, nested in any
/// way; other types take a Boost.JSON `tag_invoke` overload.
/// \code
/// struct User {
///   BOOST_HANA_DEFINE_STRUCT(User, (long, id), (std::string, name), (std::optional<int>, age));
/// };
/// cachet::json_codec::encode(User{7, "Ann", {}});  // {"id":7,"name":"Ann","age":null}
/// \endcode
/// Every value reads back exactly, byte for byte and bit for bit, wherever it is nested. Valid
/// UTF-8 stays a plain JSON string and finite numbers plain JSON numbers; what JSON cannot spell
/// takes a form any JSON reader accepts:
///
/// | value                                   | JSON                                          |
/// |-----------------------------------------|-----------------------------------------------|
/// | `std::string` that is not UTF-8         | `{"base64": "<RFC 4648 base64, padded>"}`     |
/// | +/- infinity (float, double)            | `"Infinity"`, `"-Infinity"`                   |
/// | the quiet NaN, the same with sign bit   | `"NaN"`, `"-NaN"`                             |
/// | any other NaN                           | `"NaN(0x7ff8000000000001)"`: its bits in hex  |
/// | -0.0                                    | `-0E0` (a number)                             |
/// | map with a std::string key not UTF-8    | `[[key, value], ...]`, keys encoded as above  |
/// | multimap that repeats a std::string key | `[[key, value], ...]`                         |
/// | map whose key is not a std::string      | `[[key, value], ...]` (as Boost.JSON writes)  |
///
/// Strings of non-finite numbers are read only where a float or double is expected, the base64
/// object only where a std::string is. Not UTF-8 means ill-formed by the Unicode standard:
/// invalid bytes, truncated sequences, overlong forms, surrogates (U+D800-DFFF encoded as bytes)
/// and code points above U+10FFFF. A user's own `tag_invoke` that writes such a string or a
/// non-finite double makes encode throw cachet::error (its members can use to_json/from_json).
///
/// Reading a struct ignores unknown keys and leaves a missing std::optional field empty; any
/// other mismatch throws cachet::decode_error. Numbers are read exactly (std::from_chars;
/// Boost.JSON 1.81's own parser misreads about one double in five by an ulp). Linking: Boost.JSON
/// is a compiled library (`-lboost_json`; the CMake target cachet::redis links it).

#include <cachet/detail/json/convert.hpp>
#include <cachet/detail/json/parse.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/detail/redis/store_selection.hpp>
#include <cachet/error.hpp>

#include <boost/json/error.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <concepts>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>

namespace cachet {

/// Thrown by a codec's decode when the text is not a value of the requested type.
/// A store treats it (and any other exception of decode) as a miss and counts a decode error.
class decode_error : public cachet::error {
 public:
  using cachet::error::error;
};

/// The default codec: JSON through Boost.JSON, with the encodings above for what JSON cannot
/// spell. Its text is always valid UTF-8 and valid JSON.
///
///     std::string text = cachet::json_codec::encode(std::vector<int>{1, 2});      // [1,2]
///     auto v = cachet::json_codec::decode<std::vector<int>>(text);
struct json_codec {
  /// The value's JSON text.
  /// \throws cachet::error when a user's own conversion writes what JSON cannot carry.
  template <class T>
  static std::string encode(const T& value) {
    return boost::json::serialize(to_json(value));
  }

  /// The value written in `text`.
  /// \throws cachet::decode_error when `text` is not JSON, or not JSON of a T.
  template <class T>
  static T decode(std::string_view text) {
    boost::json::error_code ec;
    const boost::json::value parsed = detail::json::parse(text, ec);
    if (ec) {
      throw decode_error("cachet::json_codec: the text is not valid JSON (" + ec.message() +
                         "); it was not written by this codec");
    }
    return from_json<T>(parsed);
  }

  /// The value as a Boost.JSON value (what encode serialises).
  /// \throws cachet::error when a user's own conversion writes what JSON cannot carry.
  template <class T>
  static boost::json::value to_json(const T& value) {
    return detail::json::write(value);
  }

  /// The value that `json` holds.
  /// \throws cachet::decode_error when `json` does not hold a T.
  template <class T>
  static T from_json(const boost::json::value& json) {
    try {
      return detail::json::read<T>(json);
    } catch (const std::exception& e) {
      throw decode_error(std::string("cachet::json_codec: the JSON does not hold the expected "
                                     "type (") +
                         e.what() + "); it was written for another type or schema");
    }
  }
};

/// Policy: the codec a remote backend stores results with, instead of JSON.
/// `C` has `static std::string encode(const T&)` and `static T decode(std::string_view)`
/// (throwing on bad input; cachet::decode_error preferably), either for the one result type T or
/// as templates, `C::template decode<T>(text)`. The Redis backend keeps the text as it is, in the
/// `v` field of the entry's hash, so any bytes will do (binary formats too).
/// \code
/// struct csv_codec {
///   static std::string encode(const Point& p);
///   static Point decode(std::string_view text);
/// };
/// cachet::cached<&load_point, cachet::codec<csv_codec>, cachet::backend<cachet::redis>> get_point;
/// \endcode
template <class C>
struct codec : detail::policy<detail::codec_kind> {
  using type = C;
};

namespace detail {

template <class C, class T>
concept template_decoder = requires(std::string_view text) {
  { C::template decode<T>(text) } -> std::convertible_to<T>;
};

template <class C, class T>
concept codec_for = requires(const T& value, std::string_view text) {
  { C::encode(value) } -> std::convertible_to<std::string>;
}
&&(template_decoder<C, T> || requires(std::string_view text) {
  { C::decode(text) } -> std::convertible_to<T>;
});

// The Redis store embeds JSON codecs' output as JSON, and other codecs' output as a string.
template <class C>
inline constexpr bool is_json_codec = std::is_same_v<C, json_codec>;

template <class C, class T>
std::string codec_encode(const T& value) {
  static_assert(codec_for<C, T>,
                "cachet::codec: the codec cannot handle the cached result type; give it static "
                "std::string encode(const T&) and static T decode(std::string_view)");
  return std::string(C::encode(value));
}

// Asserts as codec_encode does: the store instantiates either first.
template <class C, class T>
T codec_decode(std::string_view text) {
  static_assert(codec_for<C, T>,
                "cachet::codec: the codec cannot handle the cached result type; give it static "
                "std::string encode(const T&) and static T decode(std::string_view)");
  if constexpr (!codec_for<C, T>) {
    std::terminate();  // never runs: the program does not compile
  } else if constexpr (template_decoder<C, T>) {
    return C::template decode<T>(text);
  } else {
    return C::decode(text);
  }
}

}  // namespace detail
}  // namespace cachet

#endif
