#ifndef CACHET_CODEC_HPP
#define CACHET_CODEC_HPP

/// \file
/// How a remote backend turns a cached result into bytes and back.
///
/// The default is JSON (Boost.JSON), so that services in other languages can read the values:
/// numbers, bool, strings, `std::optional` (null when empty), sequence containers (arrays),
/// maps with string keys (objects), `std::tuple`/`std::pair` (arrays) and structs adapted with
/// `BOOST_HANA_DEFINE_STRUCT` (objects keyed by field name) all work out of the box, nested in any
/// way; other types take a Boost.JSON `tag_invoke` overload. Strings must be UTF-8.
/// \code
/// struct User {
///   BOOST_HANA_DEFINE_STRUCT(User, (long, id), (std::string, name), (std::optional<int>, age));
/// };
/// cachet::json_codec::encode(User{7, "Ann", {}});  // {"id":7,"name":"Ann","age":null}
/// \endcode
/// Reading a struct ignores unknown keys and leaves a missing std::optional field empty; any
/// other mismatch throws cachet::decode_error. Linking: Boost.JSON is a compiled library
/// (`-lboost_json`; the CMake target cachet::redis links it).

#include <cachet/detail/json/hana.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/detail/redis/store_selection.hpp>
#include <cachet/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

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

/// The default codec: JSON through Boost.JSON's value_from / value_to.
///
///     std::string text = cachet::json_codec::encode(std::vector<int>{1, 2});      // [1,2]
///     auto v = cachet::json_codec::decode<std::vector<int>>(text);
struct json_codec {
  /// The value's JSON text.
  template <class T>
  static std::string encode(const T& value) {
    return boost::json::serialize(to_json(value));
  }

  /// The value written in `text`.
  /// \throws cachet::decode_error when `text` is not JSON, or not JSON of a T.
  template <class T>
  static T decode(std::string_view text) {
    boost::json::value parsed;
    try {
      parsed = boost::json::parse(text);
    } catch (const std::exception& e) {
      throw decode_error(std::string("cachet::json_codec: the text is not valid JSON (") +
                         e.what() + "); it was not written by this codec");
    }
    return from_json<T>(parsed);
  }

  /// The value as a Boost.JSON value (what encode serialises).
  template <class T>
  static boost::json::value to_json(const T& value) {
    static_assert(boost::json::has_value_from<T>::value,
                  "cachet::json_codec: the type has no JSON conversion; adapt the struct with "
                  "BOOST_HANA_DEFINE_STRUCT, or give it a Boost.JSON tag_invoke overload");
    return boost::json::value_from(value);
  }

  /// The value that `json` holds.
  /// \throws cachet::decode_error when `json` does not hold a T.
  template <class T>
  static T from_json(const boost::json::value& json) {
    static_assert(boost::json::has_value_to<T>::value,
                  "cachet::json_codec: the type has no JSON conversion; adapt the struct with "
                  "BOOST_HANA_DEFINE_STRUCT, or give it a Boost.JSON tag_invoke overload");
    try {
      return boost::json::value_to<T>(json);
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
/// as templates, `C::template decode<T>(text)`. The Redis backend keeps the text as a JSON
/// string inside its envelope, so it must be UTF-8 (base64 binary formats).
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

template <class C, class T>
T codec_decode(std::string_view text) {
  if constexpr (template_decoder<C, T>) {
    return C::template decode<T>(text);
  } else {
    return C::decode(text);
  }
}

}  // namespace detail
}  // namespace cachet

#endif
