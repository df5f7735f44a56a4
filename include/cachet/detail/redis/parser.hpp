#ifndef CACHET_DETAIL_REDIS_PARSER_HPP
#define CACHET_DETAIL_REDIS_PARSER_HPP

#include <cachet/detail/linkage.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/resp3.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace cachet::resp3::detail {

/// Bounds on what the parser accepts from the server, checked before any memory is reserved,
/// so a corrupt or hostile stream cannot make it allocate without limit.
struct parse_limits {
  /// Longest blob, verbatim or simple string (and error, big number) in bytes.
  std::size_t max_bulk_length = std::size_t{512} * 1024 * 1024;
  /// Most values held by one aggregate (a map or attribute of n pairs holds 2n).
  std::size_t max_elements = std::size_t{1} << 20;
  /// Most aggregates open at once (an array in an array has depth 2). Keep it modest: a parsed
  /// value is destroyed and printed recursively.
  std::size_t max_depth = 64;
};

/// Incremental RESP3 parser without I/O: feed it bytes as they arrive, get whole replies out.
///   parser p;
///   std::optional<value> reply;
///   std::error_code ec;
///   std::size_t used = p.parse(buffer, reply, ec);  // then drop `used` bytes from buffer
///   if (ec) close_connection(ec); else if (reply) route(std::move(*reply));
/// Input may be split at any byte; every byte is examined once (a partial string is copied into
/// the reply as it arrives and never rescanned). Nested aggregates use an explicit stack bounded
/// by parse_limits::max_depth, never recursion.
/// An attribute (`|`) is attached to the value that follows it (value::attributes), at any
/// nesting level. RESP2 nulls `$-1` and `*-1` parse as type::null. Streamed strings and
/// aggregates (`$?`, `*?`, `;`, `.`), which Redis 7 never sends, are rejected with
/// error::invalid_length (or error::invalid_type_byte for the chunk markers).
class parser {
 public:
  /// A parser that enforces `limits`.
  explicit parser(parse_limits limits = {}) : limits_(limits) {}

  /// Consumes bytes from the front of `input` and returns how many it consumed. When a whole
  /// top-level reply (with any attribute prefix and nested aggregates) has been read, stores it
  /// in `out` and stops right after it, leaving the rest unconsumed; otherwise `out` is left
  /// empty and all of `input` is consumed (the partial reply is kept inside the parser).
  /// On malformed input sets `ec` to a cachet::redis::error (the returned count then means
  /// nothing); the parser refuses all further input (returns 0 with the same error) until
  /// reset(), and the connection must be closed. If it throws (std::bad_alloc), reset() it too.
  CACHET_DECL std::size_t parse(std::string_view input, std::optional<value>& out,
                                std::error_code& ec);

  /// Forgets any partial reply and any error, ready for a new connection. Keeps the limits.
  CACHET_DECL void reset();

  /// True when no reply is partly read (a connection may be handed over or closed cleanly).
  bool idle() const noexcept {
    return state_ == state::type_byte && stack_.empty() && pending_attributes_.empty();
  }

  /// The limits this parser enforces.
  const parse_limits& limits() const noexcept { return limits_; }

 private:
  enum class state : unsigned char {
    type_byte,
    line,
    line_lf,
    bulk_body,
    bulk_cr,
    bulk_lf,
    failed
  };

  struct frame {
    value aggregate;        // for an attribute, its `attributes` carries earlier pending ones
    std::size_t remaining;  // values still to read
  };

  // Header and number lines are short; anything longer is malformed (a length has at most 20
  // digits, a double from Redis at most ~24 characters).
  static constexpr std::size_t max_short_line = 64;

  static constexpr bool is_text_line(char kind) noexcept {
    return kind == '+' || kind == '-' || kind == '(';
  }

  void fail(error e) noexcept {
    state_ = state::failed;
    error_ = e;
  }

  CACHET_DECL void start_value(char kind);

  // Copies line bytes up to CR into the line's destination; a bare LF is malformed.
  CACHET_DECL const char* scan_line(const char* p, const char* end);

  CACHET_DECL error short_line_error() const noexcept;

  // The line (without CR LF) is complete; `available` bytes of input follow it.
  CACHET_DECL void finish_line(std::size_t available);

  // Parses a length or count; -1 (RESP2 null) only where `allow_null`.
  CACHET_DECL static bool parse_length(std::string_view line, bool allow_null,
                                       std::optional<std::size_t>& n);

  CACHET_DECL void start_bulk(std::string_view line, std::size_t available);

  CACHET_DECL const char* read_bulk(const char* p, const char* end);

  CACHET_DECL void start_aggregate(std::string_view line, std::size_t available);

  CACHET_DECL void complete_scalar();

  // Hands a finished value to its parent aggregate, closing every aggregate it fills.
  CACHET_DECL void complete(value&& finished);

  // Empties a value for reuse without giving up the memory of its members.
  CACHET_DECL static void clear(value& v) noexcept;

  static bool is_integer_text(std::string_view s) noexcept {
    if (!s.empty() && s.front() == '-') s.remove_prefix(1);
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  }

  static bool equals_lower(std::string_view s, std::string_view lower) noexcept {
    return s.size() == lower.size() &&
           std::equal(s.begin(), s.end(), lower.begin(), [](char a, char b) {
             return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
           });
  }

  static std::size_t skip_digits(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i;
  }

  // RESP3 doubles: [-]digits[.digits][(e|E)[+|-]digits], inf, -inf, nan. Redis before 7.2 may
  // also send "-nan", "NAN" or "nan(...)", so nan is accepted in any case with either sign.
  CACHET_DECL static bool parse_double(std::string_view line, double& out) noexcept;

  parse_limits limits_;
  state state_ = state::type_byte;
  error error_{};
  char kind_ = 0;                   // type byte of the value being read
  char line_[max_short_line] = {};  // a header or number line read so far
  std::size_t line_size_ = 0;
  std::size_t bulk_remaining_ = 0;         // body bytes still to read
  unsigned verbatim_prefix_ = 0;           // bytes of "txt:" read so far
  value current_;                          // the scalar being read
  std::vector<frame> stack_;               // open aggregates, innermost last
  std::vector<value> pending_attributes_;  // attribute pairs for the next value to start
  std::optional<value>* out_ = nullptr;    // where a finished top-level reply goes
};

}  // namespace cachet::resp3::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/parser.ipp>
#endif

#endif
