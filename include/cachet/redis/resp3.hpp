#ifndef CACHET_REDIS_RESP3_HPP
#define CACHET_REDIS_RESP3_HPP

#include <cachet/detail/linkage.hpp>
#include <cachet/redis/error.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace cachet::resp3 {

/// The RESP3 type of a reply value (RESP2 null bulk strings and arrays arrive as `null`).
/// `attribute` is never the type of a parsed value: an attribute (`|`) is attached to the reply
/// that follows it, in that reply's value::attributes.
enum class type {
  blob_string,      ///< `$`: binary-safe string
  simple_string,    ///< `+`: e.g. OK
  simple_error,     ///< `-`: e.g. ERR unknown command
  blob_error,       ///< `!`: binary-safe error
  number,           ///< `:`: signed 64-bit integer
  double_type,      ///< `,`: double, including inf, -inf and nan
  big_number,       ///< `(`: integer beyond 64 bits, kept as its decimal digits
  boolean,          ///< `#`: t or f
  null,             ///< `_`, or RESP2 `$-1` / `*-1`
  array,            ///< `*`
  map,              ///< `%`
  set,              ///< `~`
  attribute,        ///< `|`: see value::attributes
  push,             ///< `>`: out-of-band data (pub/sub messages, invalidations)
  verbatim_string,  ///< `=`: text with a 3-character format ("txt", "mkd")
};

/// The name of a type, e.g. "blob_string".
constexpr std::string_view to_string(type t) noexcept {
  switch (t) {
    case type::blob_string:
      return "blob_string";
    case type::simple_string:
      return "simple_string";
    case type::simple_error:
      return "simple_error";
    case type::blob_error:
      return "blob_error";
    case type::number:
      return "number";
    case type::double_type:
      return "double";
    case type::big_number:
      return "big_number";
    case type::boolean:
      return "boolean";
    case type::null:
      return "null";
    case type::array:
      return "array";
    case type::map:
      return "map";
    case type::set:
      return "set";
    case type::attribute:
      return "attribute";
    case type::push:
      return "push";
    case type::verbatim_string:
      return "verbatim_string";
  }
  return "unknown";
}

/// One RESP3 reply, as parsed by cachet::redis::detail::parser. Only the members that belong to
/// `type` are meaningful; the others keep their defaults.
///   value v = ...;                      // e.g. the reply to GET
///   if (v.is_null()) return std::nullopt;
///   return v.as_string();               // throws server_error on an error reply
struct value {
  resp3::type type = resp3::type::null;  ///< which RESP3 type this is
  /// blob/simple/verbatim string body, error text, big number digits
  std::string text;
  std::string verbatim_format;  ///< "txt", "mkd", ... for verbatim strings
  std::int64_t integer = 0;     ///< number
  double real = 0;              ///< double
  bool boolean = false;         ///< boolean
  /// array/set/push elements; map: key0, value0, key1, value1, ...
  std::vector<value> elements;
  /// the attribute (`|`) that preceded this reply: key0, value0, key1, value1, ...
  std::vector<value> attributes;

  /// True for simple and blob errors (the server refused the command).
  bool is_error() const noexcept {
    return type == resp3::type::simple_error || type == resp3::type::blob_error;
  }

  /// True for null (`_`, `$-1`, `*-1`), e.g. GET of a missing key.
  bool is_null() const noexcept { return type == resp3::type::null; }

  /// True for blob, simple and verbatim strings.
  bool is_string() const noexcept {
    return type == resp3::type::blob_string || type == resp3::type::simple_string ||
           type == resp3::type::verbatim_string;
  }

  /// The text of a blob, simple or verbatim string.
  /// Throws server_error on an error reply, request_error(error::unexpected_reply) otherwise.
  const std::string& as_string() const {
    if (!is_string()) fail("a string");
    return text;
  }

  /// The integer of a number reply (`:`).
  /// Throws server_error on an error reply, request_error(error::unexpected_reply) otherwise.
  std::int64_t as_int() const {
    if (type != resp3::type::number) fail("a number");
    return integer;
  }

  /// The value of a double reply (`,`); a number reply (`:`) is converted.
  /// Throws server_error on an error reply, request_error(error::unexpected_reply) otherwise.
  double as_double() const {
    if (type == resp3::type::number) return static_cast<double>(integer);
    if (type != resp3::type::double_type) fail("a double");
    return real;
  }

  /// The value of a boolean reply (`#`).
  /// Throws server_error on an error reply, request_error(error::unexpected_reply) otherwise.
  bool as_bool() const {
    if (type != resp3::type::boolean) fail("a boolean");
    return boolean;
  }

  /// The elements of an array, set or push reply.
  /// Throws server_error on an error reply, request_error(error::unexpected_reply) otherwise.
  const std::vector<value>& as_array() const {
    if (type != resp3::type::array && type != resp3::type::set && type != resp3::type::push) {
      fail("an array, set or push");
    }
    return elements;
  }

  /// The elements of a map reply: key0, value0, key1, value1, ...
  /// Throws server_error on an error reply, request_error(error::unexpected_reply) otherwise.
  const std::vector<value>& as_map() const {
    if (type != resp3::type::map) fail("a map");
    return elements;
  }

  /// Structural equality (a nan double is unequal to itself, as for double).
  friend bool operator==(const value&, const value&) = default;

 private:
  [[noreturn]] CACHET_DECL void fail(std::string_view expected) const;
};

namespace detail {

CACHET_DECL void append_quoted(std::string& out, std::string_view s);

CACHET_DECL void append_elements(std::string& out, const std::vector<value>& elements, bool pairs);

CACHET_DECL void append_value(std::string& out, const value& v);

}  // namespace detail

/// A one-line rendering for diagnostics and test failures, e.g. `["a", 1, {"k": true}]`.
/// Strings are quoted with non-printable bytes as \xNN; errors print as error("...").
inline std::string to_string(const value& v) {
  std::string out;
  detail::append_value(out, v);
  return out;
}

/// Writes to_string(v), so GoogleTest and loggers print values readably.
inline std::ostream& operator<<(std::ostream& os, const value& v) { return os << to_string(v); }

}  // namespace cachet::resp3

#if CACHET_INCLUDE_BODIES
#include <cachet/redis/impl/resp3.ipp>
#endif

#endif
