#ifndef CACHET_DETAIL_JSON_PARSE_HPP
#define CACHET_DETAIL_JSON_PARSE_HPP

// JSON text to a Boost.JSON value, with every number read exactly.
//
// Boost.JSON 1.81's own parser rounds some decimal numbers to a neighbouring double (about one
// random double in five, FLT_MAX widened to double among them), while its serializer writes the
// shortest text that reads back exactly. So this parser takes Boost.JSON's tokens but converts
// the text of each non-integer number itself, with std::from_chars, which rounds correctly.

#include <cachet/detail/linkage.hpp>

#include <boost/json/error.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <string_view>

namespace cachet::detail::json {

// Deeper than Boost.JSON's default of 32, so that any nesting of containers and structs a program
// caches reads back; still a bound for corrupt input.
inline constexpr std::size_t max_parse_depth = 256;

/// The value `text` holds: strict JSON (no comments or trailing commas, UTF-8 strings), one value
/// and nothing after it but whitespace. On error, `ec` says why and the value is null.
CACHET_DECL boost::json::value parse(std::string_view text, boost::json::error_code& ec);

}  // namespace cachet::detail::json

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/json/impl/parse.ipp>
#endif

#endif
