#ifndef CACHET_DETAIL_REDIS_STORE_ENVELOPE_HPP
#define CACHET_DETAIL_REDIS_STORE_ENVELOPE_HPP

// The Redis backend stores each result in an envelope, a JSON object that other languages can
// read:
//
//     {"value": <the result>, "fn": 0, "tags": {"users": 3, "user:42": 0}}
//
// "value" is the result's JSON (json_codec), or the codec's text as a JSON string (other codecs).
// "fn" and "tags" are the generations, read before the result was computed, of the function's
// clear() counter (<prefix>:v<schema>:fn:<function name>) and of each tag's counter
// (<prefix>:v<schema>:tag:<tag>); a counter that does not exist is 0. The entry is fresh while
// every one of those counters still holds the generation written here.

#include <cachet/codec.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace cachet::detail {

// The function's generation, then one per tag, in the order of the tags.
using generations = std::vector<std::int64_t>;

enum class envelope_state {
  fresh,    // the value is in `out`
  stale,    // well formed, but a generation moved on since it was written
  corrupt,  // not an envelope, or a value the codec cannot read
};

template <class Codec, class Value>
std::string encode_envelope(const Value& value, const generations& gens,
                            const std::vector<std::string>& tags) {
  boost::json::object envelope;
  if constexpr (is_json_codec<Codec>) {
    envelope["value"] = json_codec::to_json(value);
  } else {
    envelope["value"] = boost::json::string(codec_encode<Codec>(value));
  }
  envelope["fn"] = gens.at(0);
  boost::json::object& stamps = envelope["tags"].emplace_object();
  for (std::size_t i = 0; i < tags.size(); ++i) stamps[tags[i]] = gens.at(i + 1);
  return boost::json::serialize(envelope);
}

template <class Codec, class Value>
envelope_state decode_envelope(std::string_view text, const generations& gens,
                               const std::vector<std::string>& tags, std::optional<Value>& out) {
  boost::json::error_code ec;
  const boost::json::value parsed = boost::json::parse(text, ec);
  if (ec) return envelope_state::corrupt;
  const boost::json::object* envelope = parsed.if_object();
  if (envelope == nullptr) return envelope_state::corrupt;
  const boost::json::value* value = envelope->if_contains("value");
  const boost::json::value* fn = envelope->if_contains("fn");
  const boost::json::value* stamps_value = envelope->if_contains("tags");
  if (value == nullptr || fn == nullptr || !fn->is_int64() || stamps_value == nullptr ||
      !stamps_value->is_object()) {
    return envelope_state::corrupt;
  }
  const boost::json::object& stamps = stamps_value->get_object();
  bool current = fn->get_int64() == gens.at(0);
  for (std::size_t i = 0; i < tags.size(); ++i) {
    const boost::json::value* stamp = stamps.if_contains(tags[i]);
    if (stamp == nullptr || !stamp->is_int64()) return envelope_state::corrupt;
    current = current && stamp->get_int64() == gens.at(i + 1);
  }
  if (!current) return envelope_state::stale;
  try {
    if constexpr (is_json_codec<Codec>) {
      out.emplace(json_codec::from_json<Value>(*value));
    } else {
      const boost::json::string* encoded = value->if_string();
      if (encoded == nullptr) return envelope_state::corrupt;
      out.emplace(codec_decode<Codec, Value>(std::string_view(encoded->data(), encoded->size())));
    }
  } catch (const std::exception&) {
    // Whatever the codec throws on foreign input, the entry is unreadable, hence a miss.
    return envelope_state::corrupt;
  }
  return envelope_state::fresh;
}

}  // namespace cachet::detail

#endif
