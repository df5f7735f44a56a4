#ifndef CACHET_DETAIL_JSON_IMPL_CONVERT_IPP
#define CACHET_DETAIL_JSON_IMPL_CONVERT_IPP

// Bodies of <cachet/detail/json/convert.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/json/convert.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace cachet::detail::json {

CACHET_DECL boost::json::value write_string(std::string_view bytes) {
  if (utf8::valid(bytes)) return boost::json::value(bytes);
  boost::json::value out;
  out.emplace_object()["base64"] = encode_base64(bytes);
  return out;
}

CACHET_DECL std::string read_string(const boost::json::value& json) {
  if (const auto* text = json.if_string()) return std::string(text->data(), text->size());
  if (const auto* object = json.if_object(); object != nullptr && object->size() == 1) {
    if (const auto* encoded = object->if_contains("base64"); encoded && encoded->is_string()) {
      const boost::json::string& text = encoded->get_string();
      if (auto bytes = decode_base64(std::string_view(text.data(), text.size()))) return *bytes;
      throw std::invalid_argument("the \"base64\" string is not canonical padded base64");
    }
  }
  throw std::invalid_argument(
      "expected a JSON string, or {\"base64\": \"...\"} for bytes that are not UTF-8");
}

}  // namespace cachet::detail::json

#endif
