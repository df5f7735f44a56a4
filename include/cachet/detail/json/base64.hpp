#ifndef CACHET_DETAIL_JSON_BASE64_HPP
#define CACHET_DETAIL_JSON_BASE64_HPP

// Base64 with the standard alphabet and padding (RFC 4648, section 4), the form every language's
// library reads, for the bytes of strings that are not UTF-8.

#include <cachet/detail/linkage.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace cachet::detail::json {

inline constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `bytes` in base64, padded.
CACHET_DECL std::string encode_base64(std::string_view bytes);

/// The bytes `text` encodes; nullopt unless it is the canonical form (padded, no whitespace,
/// unused bits zero), so that each byte string has one text and a corrupted one is noticed
/// rather than read as other bytes.
CACHET_DECL std::optional<std::string> decode_base64(std::string_view text);

}  // namespace cachet::detail::json

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/json/impl/base64.ipp>
#endif

#endif
