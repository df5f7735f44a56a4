#ifndef CACHET_DETAIL_UTF8_HPP
#define CACHET_DETAIL_UTF8_HPP

#include <cstddef>
#include <string_view>

namespace cachet::detail::utf8 {

// Well-formed UTF-8 exactly as Unicode defines it (Table 3-7), which is also what JSON parsers
// accept: the second byte's range excludes overlong forms (after E0, F0), surrogates U+D800-DFFF
// (after ED) and code points above U+10FFFF (after F4); C0, C1 and F5-FF never lead.
constexpr bool valid(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) second_min = 0xA0;
      if (lead == 0xED) second_max = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) second_min = 0x90;
      if (lead == 0xF4) second_max = 0x8F;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    const auto second = static_cast<unsigned char>(text[i + 1]);
    if (second < second_min || second > second_max) return false;
    for (std::size_t k = 2; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace cachet::detail::utf8

#endif
