#ifndef CACHET_REDIS_IMPL_RESP3_IPP
#define CACHET_REDIS_IMPL_RESP3_IPP

// Bodies of <cachet/redis/resp3.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/redis/resp3.hpp>

namespace cachet::resp3 {

CACHET_DECL void value::fail(std::string_view expected) const {
  if (is_error()) throw server_error(text);
  throw request_error(error::unexpected_reply,
                      "cachet::redis: expected " + std::string(expected) + " reply, got " +
                          std::string(to_string(type)) +
                          "; check the command's reply type (RESP3) or read value::type first");
}

namespace detail {

CACHET_DECL void append_quoted(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

CACHET_DECL void append_value(std::string& out, const value& v) {
  if (!v.attributes.empty()) {
    out += "|";
    append_elements(out, v.attributes, true);
    out += ' ';
  }
  switch (v.type) {
    case type::blob_string:
    case type::simple_string:
      append_quoted(out, v.text);
      break;
    case type::verbatim_string:
      out += v.verbatim_format;
      out += ':';
      append_quoted(out, v.text);
      break;
    case type::simple_error:
    case type::blob_error:
      out += "error(";
      append_quoted(out, v.text);
      out += ')';
      break;
    case type::number:
      out += std::to_string(v.integer);
      break;
    case type::double_type:
      if (std::isnan(v.real)) {
        out += "nan";
      } else if (std::isinf(v.real)) {
        out += v.real < 0 ? "-inf" : "inf";
      } else {
        char buffer[32];  // the shortest round-trip form of any double fits
        const auto result = std::to_chars(buffer, buffer + sizeof buffer, v.real);
        out.append(buffer, result.ptr);
      }
      break;
    case type::big_number:
      out += "big(" + v.text + ')';
      break;
    case type::boolean:
      out += v.boolean ? "true" : "false";
      break;
    case type::null:
      out += "null";
      break;
    case type::array:
      append_elements(out, v.elements, false);
      break;
    case type::set:
      out += '~';
      append_elements(out, v.elements, false);
      break;
    case type::push:
      out += '>';
      append_elements(out, v.elements, false);
      break;
    case type::map:
    case type::attribute:
      append_elements(out, v.elements, true);
      break;
  }
}

CACHET_DECL void append_elements(std::string& out, const std::vector<value>& elements, bool pairs) {
  out += pairs ? '{' : '[';
  for (std::size_t i = 0; i < elements.size(); ++i) {
    if (i != 0) out += (pairs && i % 2 == 1) ? ": " : ", ";
    append_value(out, elements[i]);
  }
  out += pairs ? '}' : ']';
}

}  // namespace detail

}  // namespace cachet::resp3

#endif
