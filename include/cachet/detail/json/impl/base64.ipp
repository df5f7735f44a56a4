#ifndef CACHET_DETAIL_JSON_IMPL_BASE64_IPP
#define CACHET_DETAIL_JSON_IMPL_BASE64_IPP

// Bodies of <cachet/detail/json/base64.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/json/base64.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

namespace cachet::detail::json {

CACHET_DECL std::string encode_base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group =
        static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
        static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
        static_cast<unsigned char>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += base64_alphabet[(group >> shift) & 0x3F];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t group = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2)
      group |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += base64_alphabet[(group >> 18) & 0x3F];
    out += base64_alphabet[(group >> 12) & 0x3F];
    out += rest == 2 ? base64_alphabet[(group >> 6) & 0x3F] : '=';
    out += '=';
  }
  return out;
}

CACHET_DECL std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  constexpr auto digit_values = [] {
    std::array<int, 256> values{};
    values.fill(-1);
    for (std::size_t d = 0; d < base64_alphabet.size(); ++d) {
      values[static_cast<unsigned char>(base64_alphabet[d])] = static_cast<int>(d);
    }
    return values;
  }();
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const std::size_t padding = !last ? 0 : text[i + 3] != '=' ? 0 : text[i + 2] != '=' ? 1 : 2;
    std::uint32_t group = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      int value = 0;
      if (k < 4 - padding) {
        value = digit_values[static_cast<unsigned char>(text[i + k])];
        if (value < 0) return std::nullopt;
      }
      group = group << 6 | static_cast<std::uint32_t>(value);
    }
    if ((padding == 1 && (group & 0xFF) != 0) || (padding == 2 && (group & 0xFFFF) != 0)) {
      return std::nullopt;
    }
    out += static_cast<char>(group >> 16);
    if (padding < 2) out += static_cast<char>(group >> 8 & 0xFF);
    if (padding < 1) out += static_cast<char>(group & 0xFF);
  }
  return out;
}

}  // namespace cachet::detail::json

#endif
