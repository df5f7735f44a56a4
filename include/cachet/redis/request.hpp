#ifndef CACHET_REDIS_REQUEST_HPP
#define CACHET_REDIS_REQUEST_HPP

#include <cachet/detail/policy.hpp>
#include <cachet/error.hpp>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <ranges>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace cachet::resp3 {

namespace detail {

template <class T>
inline constexpr bool is_character_v =
    std::is_same_v<T, char> || std::is_same_v<T, wchar_t> || std::is_same_v<T, char8_t> ||
    std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>;

template <class T>
inline constexpr bool is_duration_v = false;
template <class Rep, class Period>
inline constexpr bool is_duration_v<std::chrono::duration<Rep, Period>> = true;

template <class T>
inline constexpr bool is_pair_v = false;
template <class A, class B>
inline constexpr bool is_pair_v<std::pair<A, B>> = true;

template <class T>
inline constexpr bool is_char_array_v = false;
template <std::size_t N>
inline constexpr bool is_char_array_v<char[N]> = true;

// One argument: a number or a string. (T has no cv-ref qualifiers.)
template <class T>
concept scalar_argument =
    !std::is_same_v<T, bool> && !is_character_v<T> && !is_duration_v<T> &&
    (std::is_integral_v<T> || std::is_floating_point_v<T> || is_char_array_v<T> ||
     std::is_same_v<T, const char*> || std::is_same_v<T, char*> ||
     (!std::is_pointer_v<T> && !std::is_array_v<T> && !std::is_null_pointer_v<T> &&
      std::is_convertible_v<const T&, std::string_view>));

// A pair of arguments, e.g. a field and its value from a std::map for HSET.
template <class T>
concept pair_argument =
    is_pair_v<T> && scalar_argument<std::remove_cvref_t<typename T::first_type>> &&
    scalar_argument<std::remove_cvref_t<typename T::second_type>>;

template <class T>
concept element_argument = scalar_argument<T> || pair_argument<T>;

// A range expands to one argument per element; it is traversed twice (count, then encode).
template <class T>
concept range_argument =
    !scalar_argument<T> && std::ranges::forward_range<const T> &&
    element_argument<std::remove_cvref_t<std::ranges::range_reference_t<const T>>>;

/// True if T can be passed to request::push (after removing cv and references).
template <class T>
concept request_argument =
    element_argument<std::remove_cvref_t<T>> || range_argument<std::remove_cvref_t<T>>;

// Fires one static_assert naming the rule a rejected argument type breaks.
template <class T>
constexpr void check_argument() {
  using U = std::remove_cvref_t<T>;
  if constexpr (request_argument<U>) {
    return;
  } else if constexpr (std::is_same_v<U, bool>) {
    static_assert(cachet::detail::wrong<T>,
                  "cachet::redis::request: bool is not a Redis argument; pass 1/0 or a string");
  } else if constexpr (is_character_v<U>) {
    static_assert(cachet::detail::wrong<T>,
                  "cachet::redis::request: a single character is ambiguous (number or text?); "
                  "pass std::string_view(&c, 1) or an integer type");
  } else if constexpr (is_duration_v<U>) {
    static_assert(cachet::detail::wrong<T>,
                  "cachet::redis::request: a std::chrono duration has no unit on the wire; "
                  "pass .count() of the unit the command expects (EX: seconds, PX: ms)");
  } else if constexpr (std::ranges::range<const U>) {
    static_assert(cachet::detail::wrong<T>,
                  "cachet::redis::request: a range argument must be a forward range of numbers, "
                  "strings or pairs of them; convert the elements or collect them in a vector");
  } else {
    static_assert(cachet::detail::wrong<T>,
                  "cachet::redis::request: unsupported argument type; pass an integer, floating "
                  "point, string (std::string, std::string_view, const char*) or a range of them");
  }
}

template <class T>
std::size_t argument_count(const T& arg) {
  if constexpr (scalar_argument<T>) {
    return 1;
  } else if constexpr (pair_argument<T>) {
    return 2;
  } else {
    using element = std::remove_cvref_t<std::ranges::range_reference_t<const T>>;
    const auto n = static_cast<std::size_t>(std::ranges::distance(arg));
    return pair_argument<element> ? 2 * n : n;
  }
}

}  // namespace detail

/// Several Redis commands encoded into one buffer, to be written to the server in one go
/// (pipelining). Each command is a RESP array of blob strings: `*<n>\r\n$<len>\r\n<bytes>\r\n...`.
///   cachet::redis::request req;
///   req.push("SET", "user:42", payload, "EX", 300);
///   req.push("MGET", std::vector<std::string>{"a", "b"});  // ranges expand: MGET a b
///   write(socket, req.payload());                          // req.size() replies will follow
/// Arguments: integers (decimal), floating point (shortest text that reads back the same value),
/// strings (std::string, std::string_view, const char*, char arrays: binary-safe), std::pair of
/// those (two arguments), and forward ranges of any of these. bool, characters, durations and
/// anything else are rejected at compile time.
class request {
 public:
  /// Appends one command with its arguments. If it throws (a null `const char*`, or no memory),
  /// the request is unchanged.
  template <class... Args>
  void push(std::string_view command, const Args&... args) {
    (detail::check_argument<Args>(), ...);
    // Only valid arguments are encoded, so a rejected one yields its static_assert alone.
    if constexpr ((detail::request_argument<Args> && ...)) {
      const std::size_t old_size = payload_.size();
      // One allocation for the whole command in the common case (strings and numbers).
      payload_.reserve(old_size + 16 + command.size() + (std::size_t{0} + ... + size_hint(args)));
      try {
        append_header('*', 1 + (std::size_t{0} + ... + detail::argument_count(args)));
        append_bulk(command);
        (append_argument(args), ...);
      } catch (...) {
        payload_.resize(old_size);
        throw;
      }
      ++size_;
    }
  }

  /// The number of commands pushed (the number of replies to expect).
  std::size_t size() const noexcept { return size_; }

  /// The encoding of all commands pushed so far, ready to write to the socket.
  std::string_view payload() const noexcept { return payload_; }

  /// Removes all commands; keeps the buffer's capacity for reuse.
  void clear() noexcept {
    payload_.clear();
    size_ = 0;
  }

 private:
  // Roughly the encoded size of a string or number argument; ranges grow the buffer as needed.
  template <class T>
  static std::size_t size_hint(const T& arg) {
    if constexpr (std::is_convertible_v<const T&, std::string_view> && !std::is_pointer_v<T> &&
                  !detail::is_char_array_v<T>) {
      return std::string_view(arg).size() + 16;
    } else {
      return 32;
    }
  }

  void append_header(char marker, std::size_t n) {
    char buffer[24];
    buffer[0] = marker;
    const auto result = std::to_chars(buffer + 1, buffer + sizeof buffer, n);
    payload_.append(buffer, result.ptr);
    payload_ += "\r\n";
  }

  void append_bulk(std::string_view bytes) {
    append_header('$', bytes.size());
    payload_ += bytes;
    payload_ += "\r\n";
  }

  template <class T>
  void append_argument(const T& arg) {
    if constexpr (std::is_integral_v<T> || std::is_floating_point_v<T>) {
      char buffer[64];  // fits the shortest form of any integer, double or long double
      const auto result = std::to_chars(buffer, buffer + sizeof buffer, arg);
      append_bulk(std::string_view(buffer, static_cast<std::size_t>(result.ptr - buffer)));
    } else if constexpr (detail::is_char_array_v<T>) {
      // A literal ends in its terminator; a filled buffer may not have one.
      std::size_t n = 0;
      while (n < std::extent_v<T> && arg[n] != '\0') ++n;
      append_bulk(std::string_view(arg, n));
    } else if constexpr (std::is_pointer_v<T>) {
      if (arg == nullptr) {
        throw cachet::error(
            "cachet::redis::request: a null const char* argument; pass a string (\"\" for empty)");
      }
      append_bulk(std::string_view(arg));
    } else if constexpr (detail::scalar_argument<T>) {
      append_bulk(std::string_view(arg));
    } else if constexpr (detail::pair_argument<T>) {
      append_argument(arg.first);
      append_argument(arg.second);
    } else {
      for (const auto& element : arg) append_argument(element);
    }
  }

  std::string payload_;
  std::size_t size_ = 0;
};

}  // namespace cachet::resp3

#endif
