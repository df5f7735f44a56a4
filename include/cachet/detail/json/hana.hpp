#ifndef CACHET_DETAIL_JSON_HANA_HPP
#define CACHET_DETAIL_JSON_HANA_HPP

// Structs adapted with BOOST_HANA_DEFINE_STRUCT as JSON objects whose keys are the field names,
// in declaration order: the walk over the fields, shared by json_codec's own conversion
// (convert.hpp) and by the Boost.JSON conversions below.
//
// Boost.JSON 1.81 finds conversions by argument-dependent lookup of tag_invoke, and it has no
// conversion contexts yet; the namespaces ADL searches are boost::json (the tag's) and the
// struct's own, which is the user's. So the overloads live here and a using-declaration makes
// them members of boost::json for lookup purposes. They are constrained to Hana structs, and a
// user's own tag_invoke for a type (a non-template) still wins overload resolution. They let a
// user's tag_invoke for another type convert a Hana struct member with boost::json::value_from.

#include <boost/hana/accessors.hpp>
#include <boost/hana/concept/struct.hpp>
#include <boost/hana/core/to.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace cachet::detail::json {

template <class T>
concept hana_struct = boost::hana::Struct<T>::value;

template <class T>
inline constexpr bool is_optional = false;
template <class T>
inline constexpr bool is_optional<std::optional<T>> = true;

// `write_field(field, json)` fills the JSON of each field.
template <hana_struct T, class WriteField>
void write_struct(const T& from, boost::json::value& out, WriteField write_field) {
  boost::json::object& object = out.emplace_object();
  boost::hana::for_each(boost::hana::accessors<T>(), [&](auto accessor) {
    constexpr auto name = boost::hana::to<const char*>(boost::hana::first(accessor));
    write_field(boost::hana::second(accessor)(from), object[name]);
  });
}

// `read_field(field, json)` sets each field from its JSON. Unknown keys are ignored, so a writer
// in another language (or a newer schema) may add fields; a missing key is an error unless the
// field is a std::optional, which then stays empty.
template <hana_struct T, class ReadField>
T read_struct(const boost::json::value& from, ReadField read_field) {
  static_assert(std::is_default_constructible_v<T>,
                "cachet::json: a struct read from JSON is built field by field, so it must be "
                "default constructible; add a default constructor");
  const boost::json::object* object = from.if_object();
  if (object == nullptr) throw std::invalid_argument("expected a JSON object for a struct");
  T result{};
  boost::hana::for_each(boost::hana::accessors<T>(), [&](auto accessor) {
    constexpr auto name = boost::hana::to<const char*>(boost::hana::first(accessor));
    auto& field = boost::hana::second(accessor)(result);
    const boost::json::value* item = object->if_contains(name);
    if (item == nullptr) {
      if constexpr (is_optional<std::remove_cvref_t<decltype(field)>>) return;
      throw std::invalid_argument("the JSON object has no field \"" + std::string(name) + "\"");
    }
    read_field(field, *item);
  });
  return result;
}

template <class T>
requires hana_struct<std::remove_cvref_t<T>>
void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const T& from) {
  detail::json::write_struct<std::remove_cvref_t<T>>(
      from, out,
      [](const auto& field, boost::json::value& json) { boost::json::value_from(field, json); });
}

template <class T>
requires hana_struct<T> T tag_invoke(boost::json::value_to_tag<T>, const boost::json::value& from) {
  return detail::json::read_struct<T>(from, [](auto& field, const boost::json::value& json) {
    field = boost::json::value_to<std::remove_cvref_t<decltype(field)>>(json);
  });
}

}  // namespace cachet::detail::json

namespace boost::json {
using cachet::detail::json::tag_invoke;
}  // namespace boost::json

#endif
