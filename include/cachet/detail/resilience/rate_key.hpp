#ifndef CACHET_DETAIL_RESILIENCE_RATE_KEY_HPP
#define CACHET_DETAIL_RESILIENCE_RATE_KEY_HPP

#include <cachet/detail/binary_key.hpp>
#include <cachet/detail/fixed_string.hpp>
#include <cachet/detail/key/template.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/key_encoding.hpp>

#include <array>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cachet::detail {

// Checks of a cachet::by<> template against the function's arguments. The key templates' own
// checks name cachet::key or cachet::tags in their messages; these name cachet::by. Like a tag, a
// rate key may use any subset of the arguments (by<"{}"> limits per first argument).

template <fixed_string S, std::size_t Index, class Argument>
constexpr bool check_rate_key_argument() {
  if constexpr (parsed_key_template<S>.uses_argument(Index) && !key_encodable<Argument>) {
    static_assert(wrong<Argument>,
                  "cachet::by: an argument the rate key uses has no key encoding (the type is "
                  "named in this instantiation); specialise cachet::key_encoding<T> or adapt the "
                  "struct with BOOST_HANA_DEFINE_STRUCT");
    return false;
  } else {
    return true;
  }
}

template <fixed_string S, class... Args, std::size_t... I>
constexpr bool check_rate_key_arguments(std::index_sequence<I...>) {
  return (check_rate_key_argument<S, I, Args>() && ...);
}

/// Whether template S fits a function taking Args; otherwise a static_assert names the rule.
template <fixed_string S, class... Args>
constexpr bool check_rate_key_template() {
  constexpr const auto& parsed = parsed_key_template<S>;
  if constexpr (parsed.error == template_error::malformed) {
    static_assert(wrong<Args...>,
                  "cachet::by: malformed rate key template; write {} or {N}, and {{ or }} for a "
                  "literal brace");
    return false;
  } else if constexpr (parsed.error == template_error::mixed_numbering) {
    static_assert(wrong<Args...>,
                  "cachet::by: a rate key template cannot mix automatic {} and numbered {N} "
                  "placeholders; number all of them or none");
    return false;
  } else if constexpr (parsed.argument_bound > sizeof...(Args)) {
    static_assert(wrong<argument_index<parsed.argument_bound - 1>, argument_count<sizeof...(Args)>>,
                  "cachet::by: a placeholder of the rate key refers to argument N but the "
                  "function takes fewer arguments (N and the count are argument_index and "
                  "argument_count in the notes); count {N} from 0 and write no more {} than "
                  "arguments");
    return false;
  } else if constexpr (!parsed.placeholders_separated()) {
    static_assert(wrong<Args...>,
                  "cachet::by: two placeholders of the rate key must be separated, or two callers "
                  "could share a limit; put a character no argument contains between them, e.g. "
                  "cachet::by<\"{0}:{1}\">");
    return false;
  } else {
    return check_rate_key_arguments<S, std::remove_cvref_t<Args>...>(
        std::index_sequence_for<Args...>{});
  }
}

// The in-process form of a rate key: the binary keys (detail/binary_key.hpp) of the arguments
// the template names, in its order. Its literal text is the same for every call, so it is left
// out; the text form is only needed where others read the key (Redis).
template <fixed_string S, class... Args>
void render_binary_rate_key(std::string& out, const Args&... args) {
  [[maybe_unused]] const std::tuple<const Args&...> arguments(args...);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          constexpr template_segment segment = parsed_key_template<S>.segments[I];
          if constexpr (segment.is_argument) {
            append_binary_key(out, std::get<segment.argument>(arguments));
          }
        }(),
        ...);
  }
  (std::make_index_sequence<parsed_key_template<S>.segment_count>{});
}

inline constexpr std::size_t variable_size = static_cast<std::size_t>(-1);

// When every argument the template names is a number, the binary rate key has a size known at
// compile time and is built on the stack: rate_key_bytes<S, Args...> is that size, or
// variable_size when some named argument's key has a variable size.
template <fixed_string S, class... Args>
inline constexpr std::size_t rate_key_bytes = [] {
  using types = std::tuple<std::remove_cvref_t<Args>...>;
  std::size_t total = 0;
  bool fixed = true;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          constexpr template_segment segment = parsed_key_template<S>.segments[I];
          if constexpr (segment.is_argument) {
            using argument = std::tuple_element_t<segment.argument, types>;
            if constexpr (fixed_size_key_argument<argument>) {
              total += sizeof(argument);
            } else {
              fixed = false;
            }
          }
        }(),
        ...);
  }
  (std::make_index_sequence<parsed_key_template<S>.segment_count>{});
  return fixed ? total : variable_size;
}();

template <fixed_string S, class... Args>
std::array<char, rate_key_bytes<S, Args...>> binary_rate_key_bytes(const Args&... args) {
  std::array<char, rate_key_bytes<S, Args...>> bytes;
  [[maybe_unused]] const std::tuple<const Args&...> arguments(args...);
  [[maybe_unused]] char* out = bytes.data();
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          constexpr template_segment segment = parsed_key_template<S>.segments[I];
          if constexpr (segment.is_argument) {
            const auto& value = std::get<segment.argument>(arguments);
            copy_key_bytes<std::remove_cvref_t<decltype(value)>>(out, value);
            out += sizeof value;
          }
        }(),
        ...);
  }
  (std::make_index_sequence<parsed_key_template<S>.segment_count>{});
  return bytes;
}

}  // namespace cachet::detail

#endif
