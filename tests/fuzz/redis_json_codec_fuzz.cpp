// libFuzzer target for json_codec::decode (named redis_* so that CMake links Boost.JSON, as the
// Redis backend does). Build and run (from the repository root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include
//       tests/fuzz/redis_json_codec_fuzz.cpp -lboost_json -o redis_json_codec_fuzz
//   ./redis_json_codec_fuzz -max_total_time=120 tests/fuzz/corpus_redis_json_codec_fuzz
// The first input byte picks the type to decode; the rest is the text. Foreign input may only
// throw cachet::decode_error; what decodes must encode to UTF-8 JSON that reads back to the
// same text.
#include <cachet/codec.hpp>
#include <cachet/detail/utf8.hpp>

#include <boost/hana/define_struct.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace fuzz {

struct record {
  BOOST_HANA_DEFINE_STRUCT(record, (std::string, blob), (double, ratio),
                           (std::optional<float>, weight),
                           (std::map<std::string, std::vector<double>>, series));
};

}  // namespace fuzz

namespace {

void check(bool condition, const char* what, std::string_view text) {
  if (!condition) {
    std::fprintf(stderr, "redis_json_codec_fuzz: %s for %.*s\n", what,
                 static_cast<int>(text.size()), text.data());
    std::abort();
  }
}

template <class T>
void decode_and_check(std::string_view text) {
  using cachet::json_codec;
  std::optional<T> decoded;
  try {
    decoded.emplace(json_codec::decode<T>(text));
  } catch (const cachet::decode_error&) {
    return;
  }
  const std::string encoded = json_codec::encode(*decoded);
  check(cachet::detail::utf8::valid(encoded), "the encoding is not UTF-8", text);
  const std::string again = json_codec::encode(json_codec::decode<T>(encoded));
  check(again == encoded, "the encoding does not read back to itself", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      decode_and_check<std::string>(text);
      break;
    case 1:
      decode_and_check<double>(text);
      break;
    case 2:
      decode_and_check<float>(text);
      break;
    case 3:
      decode_and_check<std::map<std::string, double>>(text);
      break;
    case 4:
      decode_and_check<std::multimap<std::string, std::set<std::string>>>(text);
      break;
    case 5:
      decode_and_check<std::vector<std::tuple<float, std::string, std::int64_t>>>(text);
      break;
    default:
      decode_and_check<fuzz::record>(text);
      break;
  }
  return 0;
}
