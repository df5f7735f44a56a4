#ifndef CACHET_DETAIL_KEY_TEMPLATE_HPP
#define CACHET_DETAIL_KEY_TEMPLATE_HPP

// Key templates ("user:{}", "order:{1}:{0}") parsed and checked at compile time, as fmt checks
// format strings: {} numbers placeholders automatically, {N} by position, {{ and }} are literal
// braces. Used by cachet::key and cachet::tags.

#include <cachet/detail/fixed_string.hpp>
#include <cachet/detail/key/alphabet.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/key_encoding.hpp>

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cachet::detail {

// Which policy a template belongs to: it picks the facility name in messages, and whether every
// argument must appear (a key must tell calls apart; a tag may name any subset).
enum class template_use { key, tags };

enum class template_error { none, malformed, mixed_numbering };

struct template_segment {
  bool is_argument = false;
  std::size_t argument = 0;       // when is_argument
  std::size_t literal_begin = 0;  // otherwise: a range of parsed_template::literals
  std::size_t literal_size = 0;
};

// Literal runs are stored unescaped ({{ -> {), adjacent ones merged, so rendering appends each
// run with one call. Sized by the template length: no template has more segments than characters.
template <std::size_t Length>
struct parsed_template {
  template_error error = template_error::none;
  char literals[Length + 1]{};
  std::size_t literals_size = 0;
  template_segment segments[Length + 1]{};
  std::size_t segment_count = 0;
  // One past the largest argument index used; 0 without placeholders.
  std::size_t argument_bound = 0;

  constexpr std::string_view literal(const template_segment& segment) const {
    return {literals + segment.literal_begin, segment.literal_size};
  }

  constexpr bool uses_argument(std::size_t index) const {
    for (std::size_t i = 0; i < segment_count; ++i) {
      if (segments[i].is_argument && segments[i].argument == index) return true;
    }
    return false;
  }

  // False when two placeholders are joined by nothing or by argument characters only, which would
  // let different arguments give the same text: {}{} with "1","23" and "12","3".
  constexpr bool placeholders_separated() const {
    bool after_argument = false;
    for (std::size_t i = 0; i < segment_count; ++i) {
      if (segments[i].is_argument) {
        if (after_argument) return false;
        after_argument = true;
      } else {
        for (char c : literal(segments[i])) {
          if (!is_argument_char(c)) after_argument = false;
        }
      }
    }
    return true;
  }
};

// Longer indices are rejected as malformed rather than risk overflow.
inline constexpr std::size_t max_index_digits = 6;

template <fixed_string S>
consteval parsed_template<S.size()> parse_key_template() {
  parsed_template<S.size()> parsed;
  const std::string_view text = S.view();
  bool automatic = false;
  bool manual = false;
  std::size_t next_automatic = 0;

  const auto add_literal = [&parsed](char c) {
    if (parsed.segment_count == 0 || parsed.segments[parsed.segment_count - 1].is_argument) {
      parsed.segments[parsed.segment_count++] = {false, 0, parsed.literals_size, 0};
    }
    parsed.literals[parsed.literals_size++] = c;
    ++parsed.segments[parsed.segment_count - 1].literal_size;
  };
  const auto fail = [&parsed](template_error error) {
    parsed.error = error;
    return parsed;
  };

  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      add_literal(c);
      i += 2;
      continue;
    }
    if (c == '}') return fail(template_error::malformed);
    if (c != '{') {
      add_literal(c);
      ++i;
      continue;
    }
    // A loop, not string_view::find: g++ -fsanitize=undefined rejects find on a template
    // parameter object in a constant expression.
    std::size_t close = i + 1;
    while (close < text.size() && text[close] != '}') ++close;
    if (close == text.size()) return fail(template_error::malformed);
    const std::string_view content = text.substr(i + 1, close - i - 1);
    std::size_t index = 0;
    if (content.empty()) {
      if (manual) return fail(template_error::mixed_numbering);
      automatic = true;
      index = next_automatic++;
    } else {
      if (content.size() > max_index_digits) return fail(template_error::malformed);
      for (char digit : content) {
        if (digit < '0' || digit > '9') return fail(template_error::malformed);
        index = index * 10 + static_cast<std::size_t>(digit - '0');
      }
      if (automatic) return fail(template_error::mixed_numbering);
      manual = true;
    }
    parsed.segments[parsed.segment_count++] = {true, index, 0, 0};
    if (index + 1 > parsed.argument_bound) parsed.argument_bound = index + 1;
    i = close + 1;
  }
  return parsed;
}

template <fixed_string S>
inline constexpr auto parsed_key_template = parse_key_template<S>();

template <template_use Use>
using use_constant = std::integral_constant<template_use, Use>;

// The report_* functions carry the offending numbers as template arguments of these, so the
// compiler's notes read e.g. wrong<argument_index<2>, argument_count<2>> next to the message.
template <std::size_t Index>
struct argument_index {};
template <std::size_t Count>
struct argument_count {};

template <template_use Use>
constexpr void report_malformed() {
  if constexpr (Use == template_use::key) {
    static_assert(wrong<use_constant<Use>>,
                  "cachet::key: malformed template; write {} or {N}, and {{ or }} for a literal "
                  "brace");
  } else {
    static_assert(wrong<use_constant<Use>>,
                  "cachet::tags: malformed template; write {} or {N}, and {{ or }} for a literal "
                  "brace");
  }
}

template <template_use Use>
constexpr void report_mixed_numbering() {
  if constexpr (Use == template_use::key) {
    static_assert(wrong<use_constant<Use>>,
                  "cachet::key: a template cannot mix automatic {} and numbered {N} placeholders; "
                  "number all of them or none");
  } else {
    static_assert(wrong<use_constant<Use>>,
                  "cachet::tags: a template cannot mix automatic {} and numbered {N} "
                  "placeholders; number all of them or none");
  }
}

template <template_use Use, std::size_t ArgumentIndex, std::size_t ArgumentCount>
constexpr void report_placeholder_out_of_range() {
  if constexpr (Use == template_use::key) {
    static_assert(wrong<argument_index<ArgumentIndex>, argument_count<ArgumentCount>>,
                  "cachet::key: a placeholder refers to argument N but the function takes fewer "
                  "arguments (N and the count are argument_index and argument_count in the notes); "
                  "count {N} from 0 and write no more {} than arguments");
  } else {
    static_assert(wrong<argument_index<ArgumentIndex>, argument_count<ArgumentCount>>,
                  "cachet::tags: a placeholder refers to argument N but the function takes fewer "
                  "arguments (N and the count are argument_index and argument_count in the notes); "
                  "count {N} from 0 and write no more {} than arguments");
  }
}

template <template_use Use>
constexpr void report_placeholders_not_separated() {
  if constexpr (Use == template_use::key) {
    static_assert(wrong<use_constant<Use>>,
                  "cachet::key: two placeholders must be separated by text with a character no "
                  "argument contains, like : / | #; arguments may contain A-Z a-z 0-9 _ . + - % ( "
                  ") , ~ \" so {}{} or {}-{} could give two calls the same key");
  } else {
    static_assert(wrong<use_constant<Use>>,
                  "cachet::tags: two placeholders must be separated by text with a character no "
                  "argument contains, like : / | #; arguments may contain A-Z a-z 0-9 _ . + - % ( "
                  ") , ~ \" so {}{} or {}-{} could give two calls the same tag");
  }
}

template <std::size_t ArgumentIndex>
constexpr void report_argument_missing_from_key() {
  static_assert(wrong<argument_index<ArgumentIndex>>,
                "cachet::key: every argument must appear in the template, otherwise calls that "
                "differ only in it would share an entry; add {} or {N} for argument N (N is "
                "argument_index in the notes)");
}

template <template_use Use, class Argument>
constexpr void report_argument_not_encodable() {
  if constexpr (Use == template_use::key) {
    static_assert(wrong<Argument>,
                  "cachet::key: argument type has no key encoding; specialise "
                  "cachet::key_encoding<T> or adapt the struct with BOOST_HANA_DEFINE_STRUCT");
  } else {
    static_assert(wrong<Argument>,
                  "cachet::tags: argument type has no key encoding; specialise "
                  "cachet::key_encoding<T> or adapt the struct with BOOST_HANA_DEFINE_STRUCT");
  }
}

template <fixed_string S, template_use Use, std::size_t Index, class Argument>
constexpr bool check_argument() {
  if constexpr (!parsed_key_template<S>.uses_argument(Index)) {
    if constexpr (Use == template_use::key) report_argument_missing_from_key<Index>();
    return Use != template_use::key;
  } else if constexpr (!key_encodable<Argument>) {
    report_argument_not_encodable<Use, Argument>();
    return false;
  } else {
    return true;
  }
}

template <fixed_string S, template_use Use, class... Args, std::size_t... I>
constexpr bool check_arguments(std::index_sequence<I...>) {
  // Naming each check instantiates it, so every missing argument is reported, not just the first.
  return (check_argument<S, Use, I, Args>() && ...);
}

/// Checks template S for a function taking Args, with static_asserts whose messages name the
/// policy (Use). Returns whether S is valid, so callers can skip code that would only add errors.
template <fixed_string S, template_use Use, class... Args>
constexpr bool check_key_template() {
  constexpr const auto& parsed = parsed_key_template<S>;
  constexpr std::size_t argument_count = sizeof...(Args);
  if constexpr (parsed.error == template_error::malformed) {
    report_malformed<Use>();
    return false;
  } else if constexpr (parsed.error == template_error::mixed_numbering) {
    report_mixed_numbering<Use>();
    return false;
  } else if constexpr (parsed.argument_bound > argument_count) {
    report_placeholder_out_of_range<Use, parsed.argument_bound - 1, argument_count>();
    return false;
  } else if constexpr (!parsed.placeholders_separated()) {
    report_placeholders_not_separated<Use>();
    return false;
  } else {
    return check_arguments<S, Use, std::remove_cvref_t<Args>...>(
        std::index_sequence_for<Args...>{});
  }
}

/// True for a valid template; for an invalid one the static_asserts inside fire.
template <fixed_string S, template_use Use, class... Args>
inline constexpr bool key_template_valid = check_key_template<S, Use, Args...>();

/// Appends template S with args rendered in its placeholders. Check S first (check_key_template).
template <fixed_string S, class... Args>
void render_key_template(std::string& out, const Args&... args) {
  [[maybe_unused]] const std::tuple<const Args&...> arguments(args...);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          constexpr template_segment segment = parsed_key_template<S>.segments[I];
          if constexpr (segment.is_argument) {
            render_key_argument(out, std::get<segment.argument>(arguments));
          } else {
            out.append(parsed_key_template<S>.literal(segment));
          }
        }(),
        ...);
  }
  (std::make_index_sequence<parsed_key_template<S>.segment_count>{});
}

// Reads back the arguments of a key text that render_key_template<S> made from integer
// arguments (cachet::tiered keys its memory tier by the arguments' bytes, while Redis names a
// changed entry by its text). Each placeholder's text ends where the literal after it begins:
// placeholders are separated by a character no argument contains, so the first such character
// after the argument is the literal's first one. Returns false for a text S cannot render from
// such arguments (another function's key); the caller renders the arguments again and compares,
// so a text with leading zeros or "+1" is not taken for the key it is not.
template <fixed_string S, class... Args>
bool parse_integer_key_template(std::string_view text, Args&... args) {
  constexpr const auto& parsed = parsed_key_template<S>;
  const std::tuple<Args&...> arguments(args...);
  std::size_t position = 0;
  bool ok = true;
  const auto read_number = [&](auto& argument, std::size_t end) {
    const char* first = text.data() + position;
    const char* last = text.data() + end;
    const auto [stop, error] = std::from_chars(first, last, argument);
    ok = error == std::errc() && stop == last && first != last;
    position = end;
  };
  const auto field_end = [&](std::size_t segment_index) -> std::size_t {
    if (segment_index + 1 == parsed.segment_count) return text.size();
    const std::string_view next = parsed.literal(parsed.segments[segment_index + 1]);
    std::size_t in_literal = 0;
    while (in_literal < next.size() && is_argument_char(next[in_literal])) ++in_literal;
    if (in_literal == next.size()) {
      // Only a template's last literal can be all argument characters (see
      // placeholders_separated): the argument ends where that suffix begins.
      return text.size() >= position + next.size() ? text.size() - next.size() : std::size_t(-1);
    }
    std::size_t in_text = position;
    while (in_text < text.size() && is_argument_char(text[in_text])) ++in_text;
    if (in_text == text.size() || in_text - position < in_literal) return std::size_t(-1);
    return in_text - in_literal;
  };
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          if (!ok) return;
          constexpr template_segment segment = parsed.segments[I];
          if constexpr (segment.is_argument) {
            const std::size_t end = field_end(I);
            if (end == std::size_t(-1) || end < position) {
              ok = false;
              return;
            }
            read_number(std::get<segment.argument>(arguments), end);
          } else {
            const std::string_view literal = parsed.literal(segment);
            ok = text.substr(position).starts_with(literal);
            position += literal.size();
          }
        }(),
        ...);
  }
  (std::make_index_sequence<parsed.segment_count>{});
  return ok && position == text.size();
}

}  // namespace cachet::detail

#endif
