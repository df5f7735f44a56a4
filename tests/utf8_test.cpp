#include <cachet/detail/utf8.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace {

using cachet::detail::utf8::valid;

static_assert(valid("caf\xc3\xa9"), "the validator runs at compile time");

// The definition spelled another way: decode the code point, then reject what is too long for it,
// a surrogate or past U+10FFFF. The validator under test decides by byte ranges instead.
bool valid_by_decoding(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if (lead < 0x80) {
      length = 1;
      code_point = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1Fu;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0Fu;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07u;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = code_point << 6 | (next & 0x3Fu);
    }
    constexpr std::uint32_t shortest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < shortest[length]) return false;
    if (code_point >= 0xD800 && code_point <= 0xDFFF) return false;
    if (code_point > 0x10FFFF) return false;
    i += length;
  }
  return true;
}

TEST(Utf8, AcceptsWellFormedText) {
  for (std::string_view text : {
           std::string_view(""),
           std::string_view("ascii \x01\x7f"),
           std::string_view("\0", 1),
           std::string_view("\xc2\x80"),          // U+0080, the first two-byte
           std::string_view("\xdf\xbf"),          // U+07FF
           std::string_view("\xe0\xa0\x80"),      // U+0800, the first three-byte
           std::string_view("\xed\x9f\xbf"),      // U+D7FF, below the surrogates
           std::string_view("\xee\x80\x80"),      // U+E000, above them
           std::string_view("\xef\xbf\xbf"),      // U+FFFF
           std::string_view("\xf0\x90\x80\x80"),  // U+10000, the first four-byte
           std::string_view("\xf4\x8f\xbf\xbf"),  // U+10FFFF, the last code point
           std::string_view("\xe6\x97\xa5\xf0\x9f\x98\x80"),
       }) {
    EXPECT_TRUE(valid(text)) << testing::PrintToString(std::string(text));
  }
}

TEST(Utf8, RejectsEachKindOfIllFormedSequence) {
  for (std::string_view text : {
           std::string_view("\x80"),  // a continuation byte without a lead
           std::string_view("\xbf"),
           std::string_view("\xc0\x80"),                  // overlong NUL
           std::string_view("\xc1\xbf"),                  // overlong U+007F
           std::string_view("\xe0\x9f\xbf"),              // overlong U+07FF
           std::string_view("\xf0\x8f\xbf\xbf"),          // overlong U+FFFF
           std::string_view("\xed\xa0\x80"),              // U+D800, a surrogate
           std::string_view("\xed\xbf\xbf"),              // U+DFFF
           std::string_view("\xed\xa0\xbd\xed\xb8\x80"),  // a surrogate pair, CESU-8 style
           std::string_view("\xf4\x90\x80\x80"),          // U+110000
           std::string_view("\xf5\x80\x80\x80"),          // a lead past F4
           std::string_view("\xf8\x88\x80\x80\x80"),      // a five-byte form
           std::string_view("\xfe"),
           std::string_view("\xff"),
           std::string_view("\xc3"),  // truncated at the end
           std::string_view("\xe2\x82"),
           std::string_view("\xf0\x9f\x98"),
           std::string_view("\xc3(", 2),        // a lead followed by ASCII
           std::string_view("\xe2\x28\xa1"),    // the second byte not a continuation
           std::string_view("\xe2\x82\x28"),    // the third byte not a continuation
           std::string_view("ok\xc3\xa9\xff"),  // a bad byte after good text
       }) {
    EXPECT_FALSE(valid(text)) << testing::PrintToString(std::string(text));
  }
}

// Every string of up to three bytes, and four-byte strings with every lead and second byte and
// the edges of the continuation range after them.
TEST(Utf8, AgreesWithDecodingOnEveryShortString) {
  std::uint64_t disagreements = 0;
  std::uint64_t checked = 0;
  auto check = [&](std::string_view text) {
    ++checked;
    if (valid(text) != valid_by_decoding(text)) ++disagreements;
  };
  char bytes[4];
  for (int a = 0; a < 256; ++a) {
    bytes[0] = static_cast<char>(a);
    check(std::string_view(bytes, 1));
    for (int b = 0; b < 256; ++b) {
      bytes[1] = static_cast<char>(b);
      check(std::string_view(bytes, 2));
      if (a < 0x80) continue;  // ASCII then two bytes: the cases above
      for (int c = 0; c < 256; ++c) {
        bytes[2] = static_cast<char>(c);
        check(std::string_view(bytes, 3));
      }
      if (a < 0xF0) continue;
      for (int c : {0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xFF}) {
        for (int d : {0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xFF}) {
          bytes[2] = static_cast<char>(c);
          bytes[3] = static_cast<char>(d);
          check(std::string_view(bytes, 4));
        }
      }
    }
  }
  EXPECT_EQ(disagreements, 0u) << "of " << checked;
}

}  // namespace
