#ifndef CACHET_DETAIL_JSON_CONVERT_HPP
#define CACHET_DETAIL_JSON_CONVERT_HPP

// json_codec's conversion between C++ values and Boost.JSON values: Boost.JSON's own, except
// where it writes what JSON cannot carry. Boost.JSON writes a string's bytes as they are (invalid
// JSON when they are not UTF-8) and non-finite doubles as bare NaN/Infinity (invalid JSON too),
// so strings and floating-point numbers get the encodings below, and so do they inside every
// container, optional, tuple, pair and Hana struct, which this walk converts itself:
//
//   std::string   valid UTF-8: a JSON string; any other bytes: {"base64": "<RFC 4648 base64>"}
//   float/double  finite: a JSON number (-0.0 as -0E0); "Infinity", "-Infinity", "NaN" (the
//                 quiet NaN), "-NaN" (the same with the sign bit), "NaN(0x<bits in hex>)" (any
//                 other NaN: 8 hex digits for a float, 16 for a double)
//   map<std::string, V>  an object when every key is UTF-8 and unique; otherwise, like maps with
//                 other keys, an array of [key, value] pairs, each key encoded as above
//
// The string forms of numbers are read only where a float or double is expected, the base64
// object only where a std::string is. Other types (integers, bool, a user's tag_invoke) are
// Boost.JSON's; a user's conversion that writes a non-UTF-8 string or a non-finite double is
// reported when encoding instead of producing JSON that cannot be read back.

#include <cachet/detail/json/base64.hpp>
#include <cachet/detail/json/hana.hpp>
#include <cachet/detail/linkage.hpp>
#include <cachet/detail/utf8.hpp>
#include <cachet/error.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cachet::detail::json {

template <class T>
boost::json::value write(const T& value);
template <class T>
T read(const boost::json::value& json);

template <class T>
concept floating = std::same_as<T, float> || std::same_as<T, double>;

template <class T>
concept boost_json_type =
    std::same_as<T, boost::json::value> || std::same_as<T, boost::json::array> ||
    std::same_as<T, boost::json::object> || std::same_as<T, boost::json::string>;

// std::pair, std::tuple, std::array: a JSON array of exactly their elements.
template <class T>
concept tuple_like = requires {
  std::tuple_size<T>::value;
};

template <class T>
concept map_like = std::ranges::input_range<const T> && !boost_json_type<T> && requires {
  typename T::key_type;
  typename T::mapped_type;
};

template <class T>
concept sequence = std::ranges::input_range<const T> && !map_like<T> && !tuple_like<T> &&
                   !boost_json_type<T> && !std::is_convertible_v<const T&, std::string_view> &&
                   requires(T & container, typename T::value_type item) {
  container.insert(container.end(), std::move(item));
};

// ---- floating point

template <floating T>
using float_bits = std::conditional_t<std::same_as<T, float>, std::uint32_t, std::uint64_t>;

template <floating T>
inline constexpr float_bits<T> quiet_nan_bits =
    std::bit_cast<float_bits<T>>(std::numeric_limits<T>::quiet_NaN());

template <floating T>
inline constexpr float_bits<T> sign_bit = float_bits<T>{1} << (sizeof(T) * 8 - 1);

inline constexpr std::string_view nan_bits_prefix = "NaN(0x";

template <floating T>
boost::json::value write_floating(T number) {
  if (std::isfinite(number)) return static_cast<double>(number);
  if (std::isinf(number)) return number > 0 ? "Infinity" : "-Infinity";
  const auto bits = std::bit_cast<float_bits<T>>(number);
  if (bits == quiet_nan_bits<T>) return "NaN";
  if (bits == (quiet_nan_bits<T> | sign_bit<T>)) return "-NaN";
  char hex[sizeof(T) * 2];
  std::string text(nan_bits_prefix);
  for (std::size_t i = 0; i < sizeof(hex); ++i) {
    hex[i] = "0123456789abcdef"[(bits >> (4 * (sizeof(hex) - 1 - i))) & 0xF];
  }
  text.append(hex, sizeof(hex));
  text += ')';
  return boost::json::value(text);
}

// A NaN written with its bits by a `Source` (as many hex digits as it has nibbles).
template <floating Source, floating T>
std::optional<T> read_nan_bits(std::string_view hex) {
  if (hex.size() != 2 * sizeof(Source)) return std::nullopt;
  float_bits<Source> bits = 0;
  const auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), bits, 16);
  if (ec != std::errc{} || end != hex.data() + hex.size()) return std::nullopt;
  const auto nan = std::bit_cast<Source>(bits);
  if (!std::isnan(nan)) return std::nullopt;
  return static_cast<T>(nan);
}

template <floating T>
std::optional<T> read_non_finite(std::string_view text) {
  if (text == "Infinity") return std::numeric_limits<T>::infinity();
  if (text == "-Infinity") return -std::numeric_limits<T>::infinity();
  if (text == "NaN") return std::bit_cast<T>(quiet_nan_bits<T>);
  if (text == "-NaN") return std::bit_cast<T>(quiet_nan_bits<T> | sign_bit<T>);
  if (!text.starts_with(nan_bits_prefix) || !text.ends_with(')')) return std::nullopt;
  const std::string_view hex =
      text.substr(nan_bits_prefix.size(), text.size() - nan_bits_prefix.size() - 1);
  if (auto own_width = read_nan_bits<T, T>(hex)) return own_width;
  // Written by the other width: still a NaN, though its bits cannot all be kept.
  return read_nan_bits<std::conditional_t<std::same_as<T, float>, double, float>, T>(hex);
}

template <floating T>
T read_floating(const boost::json::value& json) {
  if (const auto* text = json.if_string()) {
    if (auto number = read_non_finite<T>(std::string_view(text->data(), text->size()))) {
      return *number;
    }
    throw std::invalid_argument(
        "expected a JSON number, or \"NaN\", \"-NaN\", \"NaN(0x<hex bits>)\", \"Infinity\" or "
        "\"-Infinity\"");
  }
  if (json.is_int64()) return static_cast<T>(json.get_int64());
  if (json.is_uint64()) return static_cast<T>(json.get_uint64());
  if (!json.is_double()) throw std::invalid_argument("expected a JSON number");
  const double number = json.get_double();
  if constexpr (std::same_as<T, float>) {
    // Rounding to the nearest float is exact for what a float wrote; a number beyond float's
    // range (infinity after rounding) was not written by one.
    if (std::isinf(static_cast<float>(number))) {
      throw std::invalid_argument("the number is out of the range of float");
    }
  }
  return static_cast<T>(number);
}

// ---- strings

/// A string's bytes as JSON: the string when they are UTF-8, else {"base64": "..."}.
CACHET_DECL boost::json::value write_string(std::string_view bytes);

/// What write_string() wrote. \throws std::invalid_argument on anything else.
CACHET_DECL std::string read_string(const boost::json::value& json);

// ---- what a user's own conversion wrote

inline bool json_can_carry(const boost::json::value& json) {
  switch (json.kind()) {
    case boost::json::kind::double_:
      return std::isfinite(json.get_double());
    case boost::json::kind::string:
      return utf8::valid(json.get_string());
    case boost::json::kind::array:
      for (const auto& item : json.get_array()) {
        if (!json_can_carry(item)) return false;
      }
      return true;
    case boost::json::kind::object:
      for (const auto& member : json.get_object()) {
        if (!utf8::valid(member.key()) || !json_can_carry(member.value())) return false;
      }
      return true;
    default:
      return true;
  }
}

// ---- containers

template <map_like T>
boost::json::value write_map(const T& map) {
  using key_type = typename T::key_type;
  using mapped_type = typename T::mapped_type;
  boost::json::value out;
  if constexpr (std::same_as<key_type, std::string>) {
    const bool keys_are_text =
        std::ranges::all_of(map, [](const auto& entry) { return utf8::valid(entry.first); });
    if (keys_are_text) {
      boost::json::object& object = out.emplace_object();
      for (const auto& [key, mapped] : map) object[key] = detail::json::write<mapped_type>(mapped);
      // A multimap's repeated key would be lost in an object.
      if (object.size() == static_cast<std::size_t>(std::ranges::distance(map))) return out;
    }
  }
  boost::json::array& pairs = out.emplace_array();
  for (const auto& [key, mapped] : map) {
    pairs.push_back(boost::json::array{detail::json::write<key_type>(key),
                                       detail::json::write<mapped_type>(mapped)});
  }
  return out;
}

template <map_like T>
T read_map(const boost::json::value& json) {
  using key_type = typename T::key_type;
  using mapped_type = typename T::mapped_type;
  T map;
  if (const auto* object = json.if_object()) {
    if constexpr (std::same_as<key_type, std::string>) {
      for (const auto& member : *object) {
        map.emplace(std::string(member.key()), detail::json::read<mapped_type>(member.value()));
      }
      return map;
    }
  }
  const auto* pairs = json.if_array();
  if (pairs == nullptr) throw std::invalid_argument("expected a JSON array of [key, value] pairs");
  for (const auto& item : *pairs) {
    const auto* pair = item.if_array();
    if (pair == nullptr || pair->size() != 2) {
      throw std::invalid_argument("expected a [key, value] pair in the map's array");
    }
    map.emplace(detail::json::read<key_type>((*pair)[0]),
                detail::json::read<mapped_type>((*pair)[1]));
  }
  return map;
}

template <tuple_like T>
boost::json::value write_tuple(const T& tuple) {
  return std::apply(
      [](const auto&... items) {
        return boost::json::value(boost::json::array{
            detail::json::write<std::remove_cvref_t<decltype(items)>>(items)...});
      },
      tuple);
}

template <tuple_like T>
T read_tuple(const boost::json::value& json) {
  constexpr std::size_t size = std::tuple_size_v<T>;
  const auto* array = json.if_array();
  if (array == nullptr || array->size() != size) {
    throw std::invalid_argument("expected a JSON array of " + std::to_string(size) + " items");
  }
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return T{detail::json::read<std::tuple_element_t<I, T>>((*array)[I])...};
  }
  (std::make_index_sequence<size>());
}

template <sequence T>
boost::json::value write_sequence(const T& items) {
  boost::json::value out;
  boost::json::array& array = out.emplace_array();
  for (const auto& item : items) array.push_back(detail::json::write<typename T::value_type>(item));
  return out;
}

template <sequence T>
T read_sequence(const boost::json::value& json) {
  const auto* array = json.if_array();
  if (array == nullptr) throw std::invalid_argument("expected a JSON array");
  T items;
  for (const auto& item : *array)
    items.insert(items.end(), detail::json::read<typename T::value_type>(item));
  return items;
}

// ---- every type

/// The JSON of `value`, which any JSON parser reads back.
/// \throws cachet::error when a user's own Boost.JSON conversion writes what JSON cannot carry.
template <class T>
boost::json::value write(const T& value) {
  if constexpr (std::same_as<T, std::string>) {
    return detail::json::write_string(value);
  } else if constexpr (floating<T>) {
    return detail::json::write_floating(value);
  } else if constexpr (std::is_integral_v<T>) {
    return boost::json::value_from(value);
  } else if constexpr (is_optional<T>) {
    if (!value) return nullptr;
    return detail::json::write<typename T::value_type>(*value);
  } else if constexpr (hana_struct<T>) {
    boost::json::value out;
    detail::json::write_struct(value, out, [](const auto& field, boost::json::value& json) {
      json = detail::json::write<std::remove_cvref_t<decltype(field)>>(field);
    });
    return out;
  } else if constexpr (map_like<T>) {
    return detail::json::write_map(value);
  } else if constexpr (tuple_like<T>) {
    return detail::json::write_tuple(value);
  } else if constexpr (sequence<T>) {
    return detail::json::write_sequence(value);
  } else {
    static_assert(boost::json::has_value_from<T>::value,
                  "cachet::json_codec: the type has no JSON conversion; adapt the struct with "
                  "BOOST_HANA_DEFINE_STRUCT, or give it a Boost.JSON tag_invoke overload");
    boost::json::value out = boost::json::value_from(value);
    if (!json_can_carry(out)) {
      throw cachet::error(
          "cachet::json_codec: a type's own Boost.JSON conversion wrote a string that is not "
          "UTF-8 or a number that is not finite, which JSON cannot carry; convert such members "
          "with cachet::json_codec::to_json and from_json");
    }
    return out;
  }
}

/// The T that `json` holds.
/// \throws std::exception (std::invalid_argument, or Boost.JSON's) when it holds no T.
template <class T>
T read(const boost::json::value& json) {
  if constexpr (std::is_const_v<T>) {
    return detail::json::read<std::remove_const_t<T>>(json);
  } else if constexpr (std::same_as<T, std::string>) {
    return detail::json::read_string(json);
  } else if constexpr (floating<T>) {
    return detail::json::read_floating<T>(json);
  } else if constexpr (std::is_integral_v<T>) {
    return boost::json::value_to<T>(json);
  } else if constexpr (is_optional<T>) {
    if (json.is_null()) return T{};
    return T{detail::json::read<typename T::value_type>(json)};
  } else if constexpr (hana_struct<T>) {
    return detail::json::read_struct<T>(json, [](auto& field, const boost::json::value& item) {
      field = detail::json::read<std::remove_cvref_t<decltype(field)>>(item);
    });
  } else if constexpr (map_like<T>) {
    return detail::json::read_map<T>(json);
  } else if constexpr (tuple_like<T>) {
    return detail::json::read_tuple<T>(json);
  } else if constexpr (sequence<T>) {
    return detail::json::read_sequence<T>(json);
  } else {
    static_assert(boost::json::has_value_to<T>::value,
                  "cachet::json_codec: the type has no JSON conversion; adapt the struct with "
                  "BOOST_HANA_DEFINE_STRUCT, or give it a Boost.JSON tag_invoke overload");
    return boost::json::value_to<T>(json);
  }
}

}  // namespace cachet::detail::json

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/json/impl/convert.ipp>
#endif

#endif
