#ifndef CACHET_DETAIL_REDIS_IMPL_PARSER_IPP
#define CACHET_DETAIL_REDIS_IMPL_PARSER_IPP

// Bodies of <cachet/detail/redis/parser.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/parser.hpp>

namespace cachet::resp3::detail {

CACHET_DECL std::size_t parser::parse(std::string_view input, std::optional<value>& out,
                                      std::error_code& ec) {
  out.reset();
  if (state_ == state::failed) {
    ec = error_;
    return 0;
  }
  ec.clear();
  out_ = &out;
  const char* const begin = input.data();
  const char* p = begin;
  const char* const end = begin + input.size();
  while (p != end) {
    switch (state_) {
      case state::type_byte:
        start_value(*p++);
        break;
      case state::line:
        p = scan_line(p, end);
        break;
      case state::line_lf:
        if (*p++ != '\n') {
          fail(error::expected_crlf);
        } else {
          finish_line(static_cast<std::size_t>(end - p));
        }
        break;
      case state::bulk_body:
        p = read_bulk(p, end);
        break;
      case state::bulk_cr:
        if (*p++ != '\r') {
          fail(error::expected_crlf);
        } else {
          state_ = state::bulk_lf;
        }
        break;
      case state::bulk_lf:
        if (*p++ != '\n') {
          fail(error::expected_crlf);
        } else {
          state_ = state::type_byte;
          complete_scalar();
        }
        break;
      case state::failed:
        break;
    }
    if (state_ == state::failed) {
      ec = error_;
      out.reset();
      break;
    }
    if (out.has_value()) break;
  }
  out_ = nullptr;
  return static_cast<std::size_t>(p - begin);
}

CACHET_DECL void parser::reset() {
  state_ = state::type_byte;
  error_ = {};
  stack_.clear();
  pending_attributes_.clear();
  current_ = value{};  // releases a partly read long string
  line_size_ = 0;
}

CACHET_DECL void parser::start_value(char kind) {
  switch (kind) {
    case '+':
    case '-':
    case '(':
      clear(current_);
      break;
    case ':':
    case ',':
    case '#':
    case '_':
    case '$':
    case '!':
    case '=':
    case '*':
    case '%':
    case '~':
    case '|':
    case '>':
      line_size_ = 0;
      break;
    default:
      fail(error::invalid_type_byte);
      return;
  }
  kind_ = kind;
  state_ = state::line;
}

CACHET_DECL const char* parser::scan_line(const char* p, const char* end) {
  const auto available = static_cast<std::size_t>(end - p);
  const char* cr = static_cast<const char*>(std::memchr(p, '\r', available));
  const char* stop = cr != nullptr ? cr : end;
  const auto n = static_cast<std::size_t>(stop - p);
  const bool text = is_text_line(kind_);
  const std::size_t room =
      text ? limits_.max_bulk_length - current_.text.size() : max_short_line - line_size_;
  // Errors are reported in byte order (a bare LF within the limit comes before the limit), so
  // the outcome never depends on where the input was split.
  const void* lf = std::memchr(p, '\n', n);
  if (lf != nullptr && static_cast<std::size_t>(static_cast<const char*>(lf) - p) <= room) {
    fail(error::expected_crlf);
    return p;
  }
  if (n > room) {
    fail(text ? error::bulk_too_large : short_line_error());
    return p;
  }
  if (text) {
    current_.text.append(p, n);
  } else {
    std::memcpy(line_ + line_size_, p, n);
    line_size_ += n;
  }
  if (cr == nullptr) return end;
  state_ = state::line_lf;
  return cr + 1;
}

CACHET_DECL error parser::short_line_error() const noexcept {
  switch (kind_) {
    case ':':
      return error::invalid_number;
    case ',':
      return error::invalid_double;
    case '#':
      return error::invalid_boolean;
    case '_':
      return error::expected_crlf;
    default:
      return error::invalid_length;
  }
}

CACHET_DECL void parser::finish_line(std::size_t available) {
  state_ = state::type_byte;
  const std::string_view line(line_, line_size_);
  switch (kind_) {
    case '+':
      current_.type = type::simple_string;
      complete_scalar();
      return;
    case '-':
      current_.type = type::simple_error;
      complete_scalar();
      return;
    case '(':
      if (!is_integer_text(current_.text)) return fail(error::invalid_number);
      current_.type = type::big_number;
      complete_scalar();
      return;
    case ':': {
      clear(current_);
      current_.type = type::number;
      const auto [ptr, ec] =
          std::from_chars(line.data(), line.data() + line.size(), current_.integer);
      if (line.empty() || ec != std::errc{} || ptr != line.data() + line.size()) {
        return fail(error::invalid_number);
      }
      complete_scalar();
      return;
    }
    case ',':
      clear(current_);
      current_.type = type::double_type;
      if (!parse_double(line, current_.real)) return fail(error::invalid_double);
      complete_scalar();
      return;
    case '#':
      if (line != "t" && line != "f") return fail(error::invalid_boolean);
      clear(current_);
      current_.type = type::boolean;
      current_.boolean = line == "t";
      complete_scalar();
      return;
    case '_':
      if (!line.empty()) return fail(error::expected_crlf);
      clear(current_);
      complete_scalar();
      return;
    case '$':
    case '!':
    case '=':
      return start_bulk(line, available);
    default:
      return start_aggregate(line, available);
  }
}

CACHET_DECL bool parser::parse_length(std::string_view line, bool allow_null,
                                      std::optional<std::size_t>& n) {
  if (allow_null && line == "-1") {
    n.reset();
    return true;
  }
  if (line.empty()) return false;
  std::size_t result = 0;
  for (const char c : line) {
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<std::size_t>(c - '0');
    if (result > (std::numeric_limits<std::size_t>::max() - digit) / 10) return false;
    result = result * 10 + digit;
  }
  n = result;
  return true;
}

CACHET_DECL void parser::start_bulk(std::string_view line, std::size_t available) {
  std::optional<std::size_t> length;
  if (!parse_length(line, kind_ == '$', length)) return fail(error::invalid_length);
  clear(current_);
  if (!length) return complete_scalar();  // $-1
  if (*length > limits_.max_bulk_length) return fail(error::bulk_too_large);
  switch (kind_) {
    case '$':
      current_.type = type::blob_string;
      break;
    case '!':
      current_.type = type::blob_error;
      break;
    default:
      if (*length < 4) return fail(error::invalid_length);  // no room for "txt:"
      current_.type = type::verbatim_string;
      verbatim_prefix_ = 0;
      break;
  }
  // Only what has arrived is reserved: the announced length is a claim, not yet a cost.
  current_.text.reserve(std::min(*length, available));
  bulk_remaining_ = *length;
  state_ = *length == 0 ? state::bulk_cr : state::bulk_body;
}

CACHET_DECL const char* parser::read_bulk(const char* p, const char* end) {
  if (current_.type == type::verbatim_string && verbatim_prefix_ < 4) {
    if (verbatim_prefix_ < 3) {
      current_.verbatim_format += *p;
    } else if (*p != ':') {
      fail(error::invalid_length);
      return p;
    }
    ++verbatim_prefix_;
    if (--bulk_remaining_ == 0) state_ = state::bulk_cr;
    return p + 1;
  }
  const std::size_t n = std::min(bulk_remaining_, static_cast<std::size_t>(end - p));
  std::string& text = current_.text;
  if (text.capacity() - text.size() < n) {
    // Grow by 4x (a long body is moved at most ~1/3 extra), never beyond the announced
    // length, and never to more than 4x what has arrived: a length is a claim, not a cost.
    const std::size_t total = text.size() + bulk_remaining_;
    text.reserve(std::min(total, std::max(text.size() + n, 4 * text.capacity())));
  }
  text.append(p, n);
  bulk_remaining_ -= n;
  if (bulk_remaining_ == 0) state_ = state::bulk_cr;
  return p + n;
}

CACHET_DECL void parser::start_aggregate(std::string_view line, std::size_t available) {
  std::optional<std::size_t> count;
  if (!parse_length(line, kind_ == '*', count)) return fail(error::invalid_length);
  if (!count) {  // *-1
    clear(current_);
    return complete_scalar();
  }
  const bool pairs = kind_ == '%' || kind_ == '|';
  if (*count > limits_.max_elements / (pairs ? 2 : 1)) return fail(error::too_many_elements);
  if (stack_.size() >= limits_.max_depth) return fail(error::nesting_too_deep);
  const std::size_t elements = pairs ? 2 * *count : *count;
  value aggregate;
  switch (kind_) {
    case '*':
      aggregate.type = type::array;
      break;
    case '%':
      aggregate.type = type::map;
      break;
    case '~':
      aggregate.type = type::set;
      break;
    case '|':
      aggregate.type = type::attribute;
      break;
    default:
      aggregate.type = type::push;
      break;
  }
  // Attributes read before this aggregate belong to it; for an attribute they are carried
  // along and joined with its own pairs when it completes.
  aggregate.attributes = std::exchange(pending_attributes_, {});
  if (elements == 0) return complete(std::move(aggregate));
  // Every value takes at least 3 bytes, so no more than that can be present yet.
  aggregate.elements.reserve(std::min(elements, available / 3 + 1));
  stack_.push_back(frame{std::move(aggregate), elements});
}

CACHET_DECL void parser::complete_scalar() {
  if (!pending_attributes_.empty()) {
    current_.attributes = std::exchange(pending_attributes_, {});
  }
  complete(std::move(current_));
}

CACHET_DECL void parser::complete(value&& finished) {
  value* v = &finished;
  value closed;
  for (;;) {
    if (v->type == type::attribute) {
      pending_attributes_ = std::move(v->attributes);
      pending_attributes_.insert(pending_attributes_.end(),
                                 std::make_move_iterator(v->elements.begin()),
                                 std::make_move_iterator(v->elements.end()));
      return;
    }
    if (stack_.empty()) {
      *out_ = std::move(*v);
      return;
    }
    frame& top = stack_.back();
    top.aggregate.elements.push_back(std::move(*v));
    if (--top.remaining != 0) return;
    closed = std::move(top.aggregate);
    stack_.pop_back();
    v = &closed;
  }
}

CACHET_DECL void parser::clear(value& v) noexcept {
  v.type = type::null;
  v.text.clear();
  v.verbatim_format.clear();
  v.integer = 0;
  v.real = 0;
  v.boolean = false;
  v.elements.clear();
  v.attributes.clear();
}

CACHET_DECL bool parser::parse_double(std::string_view line, double& out) noexcept {
  std::string_view unsigned_part = line;
  const bool negative = !line.empty() && line.front() == '-';
  if (negative) unsigned_part.remove_prefix(1);
  if (equals_lower(unsigned_part, "inf") || equals_lower(unsigned_part, "infinity")) {
    out = negative ? -std::numeric_limits<double>::infinity()
                   : std::numeric_limits<double>::infinity();
    return true;
  }
  if (equals_lower(unsigned_part, "nan") ||
      (unsigned_part.size() > 4 && equals_lower(unsigned_part.substr(0, 4), "nan(") &&
       unsigned_part.back() == ')')) {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  std::size_t i = skip_digits(unsigned_part, 0);
  if (i == 0) return false;
  if (i < unsigned_part.size() && unsigned_part[i] == '.') {
    const std::size_t fraction = i + 1;
    i = skip_digits(unsigned_part, fraction);
    if (i == fraction) return false;
  }
  if (i < unsigned_part.size() && (unsigned_part[i] == 'e' || unsigned_part[i] == 'E')) {
    ++i;
    if (i < unsigned_part.size() && (unsigned_part[i] == '+' || unsigned_part[i] == '-')) ++i;
    const std::size_t exponent = i;
    i = skip_digits(unsigned_part, exponent);
    if (i == exponent) return false;
  }
  if (i != unsigned_part.size()) return false;
  const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), out);
  return ec == std::errc{} && ptr == line.data() + line.size();
}

}  // namespace cachet::resp3::detail

#endif
