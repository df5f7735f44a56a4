#ifndef CACHET_DETAIL_KEY_ALPHABET_HPP
#define CACHET_DETAIL_KEY_ALPHABET_HPP

namespace cachet::detail {

// The bytes a string argument keeps as they are; every other byte is written as %XX.
// No locale: std::isalnum would depend on it.
constexpr bool is_safe_string_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// Every character a rendered argument can contain: the safe string bytes, '%' of an escape, '+'
// of a float exponent, and the structure characters of composites ( ) , ~ ". Key templates need a
// character outside this set between two placeholders; that is what keeps keys unambiguous.
constexpr bool is_argument_char(char c) noexcept {
  switch (c) {
    case '%':
    case '+':
    case '(':
    case ')':
    case ',':
    case '~':
    case '"':
      return true;
    default:
      return is_safe_string_char(c);
  }
}

}  // namespace cachet::detail

#endif
