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
//
// With cachet::fail_safe (store_settings::max_stale > 0, and a ttl), the entry also says until
// when it is fresh, and Redis keeps it max_stale longer than its ttl (PX = ttl + max_stale):
//
//     {"value": ..., "fn": 0, "tags": {}, "fresh_until": 1718000000000}
//
// "fresh_until" is in milliseconds since the epoch of the store's clock: the system clock (Unix
// time) unless cachet::options::clock gives one, which only tests should, since the entry is read
// by other processes whose clocks have other epochs. Past it the entry is expired: a miss for
// calls (recomputed and overwritten), still served by stale() if no generation moved on. Entries
// without "fresh_until" are fresh until Redis drops them.

#include <cachet/codec.hpp>
#include <cachet/error.hpp>

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
  fresh,        // the value is in `out`
  expired,      // past its "fresh_until"; the value is in `out` (for stale())
  invalidated,  // well formed, but a generation moved on since it was written
  corrupt,      // not an envelope, or a value the codec cannot read
};

// Boost.JSON writes the bytes of a string as they are, and then cannot parse invalid UTF-8
// back: such an entry would be written on every call and never read.
inline bool valid_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80           ? 1
                               : (lead >> 5) == 0x6  ? 2
                               : (lead >> 4) == 0xE  ? 3
                               : (lead >> 3) == 0x1E ? 4
                                                     : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

// `fresh_until`: milliseconds, see above; none for an entry fresh until Redis drops it.
// \throws cachet::error when the result holds a string that is not UTF-8.
template <class Codec, class Value>
std::string encode_envelope(const Value& value, const generations& gens,
                            const std::vector<std::string>& tags,
                            std::optional<std::int64_t> fresh_until = std::nullopt) {
  boost::json::object envelope;
  if constexpr (is_json_codec<Codec>) {
    envelope["value"] = json_codec::to_json(value);
  } else {
    envelope["value"] = boost::json::string(codec_encode<Codec>(value));
  }
  envelope["fn"] = gens.at(0);
  boost::json::object& stamps = envelope["tags"].emplace_object();
  for (std::size_t i = 0; i < tags.size(); ++i) stamps[tags[i]] = gens.at(i + 1);
  if (fresh_until) envelope["fresh_until"] = *fresh_until;
  std::string text = boost::json::serialize(envelope);
  if (!valid_utf8(text)) {
    throw cachet::error(
        "cachet::redis: the result holds a string that is not UTF-8, which JSON cannot carry; "
        "it was not stored (use a codec<> that writes text, e.g. base64)");
  }
  return text;
}

// `now_ms`: the store's time, in the unit and epoch of "fresh_until".
template <class Codec, class Value>
envelope_state decode_envelope(std::string_view text, const generations& gens,
                               const std::vector<std::string>& tags, std::int64_t now_ms,
                               std::optional<Value>& out) {
  boost::json::error_code ec;
  const boost::json::value parsed = boost::json::parse(text, ec);
  if (ec) return envelope_state::corrupt;
  const boost::json::object* envelope = parsed.if_object();
  if (envelope == nullptr) return envelope_state::corrupt;
  const boost::json::value* value = envelope->if_contains("value");
  const boost::json::value* fn = envelope->if_contains("fn");
  const boost::json::value* stamps_value = envelope->if_contains("tags");
  const boost::json::value* fresh_until = envelope->if_contains("fresh_until");
  if (value == nullptr || fn == nullptr || !fn->is_int64() || stamps_value == nullptr ||
      !stamps_value->is_object() || (fresh_until != nullptr && !fresh_until->is_int64())) {
    return envelope_state::corrupt;
  }
  const boost::json::object& stamps = stamps_value->get_object();
  bool current = fn->get_int64() == gens.at(0);
  for (std::size_t i = 0; i < tags.size(); ++i) {
    const boost::json::value* stamp = stamps.if_contains(tags[i]);
    if (stamp == nullptr || !stamp->is_int64()) return envelope_state::corrupt;
    current = current && stamp->get_int64() == gens.at(i + 1);
  }
  if (!current) return envelope_state::invalidated;
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
  if (fresh_until != nullptr && now_ms >= fresh_until->get_int64()) return envelope_state::expired;
  return envelope_state::fresh;
}

}  // namespace cachet::detail

#endif
