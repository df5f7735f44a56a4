#include <cachet/codec.hpp>
#include <cachet/detail/utf8.hpp>

#include <boost/hana/define_struct.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace app {

struct address {
  BOOST_HANA_DEFINE_STRUCT(address, (std::string, city), (std::string, zip));
  friend bool operator==(const address&, const address&) = default;
};

struct user {
  BOOST_HANA_DEFINE_STRUCT(user, (std::int64_t, id), (std::string, name), (std::optional<int>, age),
                           (std::vector<address>, addresses), (bool, admin), (double, score));
  friend bool operator==(const user&, const user&) = default;
};

struct custom {
  int n = 0;
};

// Every kind of field that once could not be cached.
struct record {
  BOOST_HANA_DEFINE_STRUCT(record, (std::string, blob), (double, ratio), (float, weight),
                           (std::map<std::string, std::string>, labels),
                           (std::optional<std::string>, note),
                           (std::pair<std::string, double>, pair),
                           (std::tuple<float, std::string>, tuple));
};

// A type with its own Boost.JSON conversion, which writes what it likes.
struct reading {
  double value = 0;
};
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const reading& r) {
  out = r.value;
}

}  // namespace app

namespace {

using cachet::json_codec;

boost::json::value parse(const std::string& text) { return boost::json::parse(text); }

TEST(JsonCodec, HanaStructIsAnObjectKeyedByFieldName) {
  const app::user u{7, "Ann", 41, {{"Paris", "75001"}}, true, 0.5};
  const boost::json::value json = parse(json_codec::encode(u));
  ASSERT_TRUE(json.is_object());
  const auto& o = json.get_object();
  EXPECT_EQ(o.size(), 6u);
  EXPECT_EQ(o.at("id").as_int64(), 7);
  EXPECT_EQ(o.at("name").as_string(), "Ann");
  EXPECT_EQ(o.at("age").as_int64(), 41);
  EXPECT_EQ(o.at("addresses").as_array().at(0).as_object().at("city").as_string(), "Paris");
  EXPECT_EQ(o.at("admin").as_bool(), true);
  EXPECT_EQ(o.at("score").as_double(), 0.5);
}

TEST(JsonCodec, HanaStructRoundTrips) {
  const app::user u{
      -3, "Bob \"the\" builder \xc3\xa9", std::nullopt, {{"A", "1"}, {"B", "2"}}, false, 0.1};
  EXPECT_EQ(json_codec::decode<app::user>(json_codec::encode(u)), u);
}

TEST(JsonCodec, EmptyOptionalIsNull) {
  const app::user u{1, "x", std::nullopt, {}, false, 0};
  EXPECT_TRUE(parse(json_codec::encode(u)).get_object().at("age").is_null());
  EXPECT_EQ(json_codec::encode(std::optional<int>{}), "null");
  EXPECT_EQ(json_codec::decode<std::optional<int>>("null"), std::nullopt);
  EXPECT_EQ(json_codec::decode<std::optional<int>>("5"), 5);
}

// What a service in another language writes: keys in any order, extra keys, a missing optional.
TEST(JsonCodec, ReadsForeignJsonOfAStruct) {
  const auto u = json_codec::decode<app::user>(
      R"({"score": 2.5, "name": "Cy", "extra": [1, 2], "id": 9, "addresses": [],
          "admin": true})");
  EXPECT_EQ(u, (app::user{9, "Cy", std::nullopt, {}, true, 2.5}));
}

TEST(JsonCodec, ContainersAndScalarsRoundTrip) {
  const std::map<std::string, std::vector<int>> m{{"a", {1, 2}}, {"b", {}}};
  EXPECT_EQ(parse(json_codec::encode(m)), parse(R"({"a": [1, 2], "b": []})"));
  EXPECT_EQ(json_codec::decode<decltype(m)>(json_codec::encode(m)), m);

  const std::tuple<int, std::string, bool> t{1, "x", true};
  EXPECT_EQ(json_codec::encode(t), R"([1,"x",true])");
  EXPECT_EQ(json_codec::decode<decltype(t)>(json_codec::encode(t)), t);

  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(json_codec::decode<std::int64_t>(json_codec::encode(big)), big);
  const double third = 1.0 / 3.0;
  EXPECT_EQ(json_codec::decode<double>(json_codec::encode(third)), third);
  EXPECT_EQ(json_codec::decode<std::string>(json_codec::encode(std::string("a\nb\0c", 5))),
            std::string("a\nb\0c", 5));
  const std::array<app::address, 1> nested{{{"Oslo", "0150"}}};
  EXPECT_EQ((json_codec::decode<std::array<app::address, 1>>(json_codec::encode(nested))), nested);
}

TEST(JsonCodec, NotJsonIsADecodeError) {
  EXPECT_THROW(json_codec::decode<int>("{not json"), cachet::decode_error);
  EXPECT_THROW(json_codec::decode<int>("1 2"), cachet::decode_error);
  EXPECT_THROW(json_codec::decode<int>(""), cachet::decode_error);
}

TEST(JsonCodec, JsonOfAnotherTypeIsADecodeError) {
  EXPECT_THROW(json_codec::decode<int>(R"("42")"), cachet::decode_error);
  EXPECT_THROW(json_codec::decode<std::vector<int>>(R"({"a": 1})"), cachet::decode_error);
  EXPECT_THROW(json_codec::decode<std::uint8_t>("300"), cachet::decode_error);
  // A struct needs an object, and every field that is not optional.
  EXPECT_THROW(json_codec::decode<app::user>("[]"), cachet::decode_error);
  EXPECT_THROW(json_codec::decode<app::user>(R"({"id": 1})"), cachet::decode_error);
  EXPECT_THROW(json_codec::decode<app::user>(
                   R"({"id": "1", "name": "x", "addresses": [], "admin": true, "score": 1})"),
               cachet::decode_error);
}

TEST(JsonCodec, DecodeErrorIsACachetErrorThatSaysWhy) {
  try {
    json_codec::decode<app::user>(R"({"id": 1})");
    FAIL() << "decode accepted an object without the required fields";
  } catch (const cachet::error& e) {
    EXPECT_NE(std::string(e.what()).find("name"), std::string::npos) << e.what();
  }
}

// A codec for one type, as users write them.
struct custom_codec {
  static std::string encode(const app::custom& c) { return "n=" + std::to_string(c.n); }
  static app::custom decode(std::string_view text) {
    if (!text.starts_with("n=")) throw cachet::decode_error("custom_codec: expected n=<int>");
    return app::custom{std::stoi(std::string(text.substr(2)))};
  }
};

TEST(CodecPolicy, IsAPolicyOfItsOwnKindNamingTheCodec) {
  using p = cachet::codec<custom_codec>;
  static_assert(cachet::detail::is_policy<p>);
  static_assert(std::is_same_v<p::policy_kind, cachet::detail::codec_kind>);
  static_assert(std::is_same_v<p::type, custom_codec>);
  static_assert(cachet::detail::codec_for<custom_codec, app::custom>);
  static_assert(cachet::detail::codec_for<json_codec, app::user>);
  static_assert(!cachet::detail::codec_for<custom_codec, int>);
  EXPECT_EQ((cachet::detail::codec_encode<custom_codec>(app::custom{4})), "n=4");
  EXPECT_EQ((cachet::detail::codec_decode<custom_codec, app::custom>("n=5").n), 5);
  EXPECT_EQ((cachet::detail::codec_decode<json_codec, int>("6")), 6);
  EXPECT_THROW((cachet::detail::codec_decode<custom_codec, app::custom>("x")),
               cachet::decode_error);
}

// ---- values JSON cannot spell

template <class T>
auto bits_of(T number) {
  return std::bit_cast<std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>(number);
}

// What every reader needs: the text is UTF-8 and JSON by a parser other than the codec's.
void expect_portable_json(const std::string& text) {
  EXPECT_TRUE(cachet::detail::utf8::valid(text)) << text;
  boost::json::error_code ec;
  boost::json::parse(text, ec);
  EXPECT_FALSE(ec) << text << ": " << ec.message();
}

// A number and the text it must encode to.
template <class T>
struct encoded_number {
  T number;
  std::string text;
};

// Each number encodes to its text, which is portable JSON and decodes to the same bits.
template <class T, std::size_t N>
void expect_same_bits_round_trip(const encoded_number<T> (&table)[N]) {
  for (const auto& row : table) {
    SCOPED_TRACE(row.text);
    const std::string text = json_codec::encode(row.number);
    EXPECT_EQ(text, row.text);
    expect_portable_json(text);
    EXPECT_EQ(bits_of(json_codec::decode<T>(text)), bits_of(row.number)) << text;
  }
}

double double_from_bits(std::uint64_t bits) { return std::bit_cast<double>(bits); }
float float_from_bits(std::uint32_t bits) { return std::bit_cast<float>(bits); }

TEST(JsonCodecNumbers, DoublesRoundTripBitForBit) {
  using limits = std::numeric_limits<double>;
  const encoded_number<double> table[] = {
      {0.0, "0E0"},
      {-0.0, "-0E0"},
      {1.0, "1E0"},
      {0.1, "1E-1"},
      {limits::max(), "1.7976931348623157E308"},
      {limits::lowest(), "-1.7976931348623157E308"},
      {limits::min(), "2.2250738585072014E-308"},
      {limits::denorm_min(), "5E-324"},
      {-limits::denorm_min(), "-5E-324"},
      {limits::epsilon(), "2.220446049250313E-16"},
      // Boost.JSON 1.81's own parser reads these back one ulp off.
      {static_cast<double>(std::numeric_limits<float>::max()), "3.4028234663852886E38"},
      {2.5539519964905206E7, "2.5539519964905206E7"},
      {limits::infinity(), R"("Infinity")"},
      {-limits::infinity(), R"("-Infinity")"},
      {limits::quiet_NaN(), R"("NaN")"},
      {-limits::quiet_NaN(), R"("-NaN")"},
      {double_from_bits(0x7ff8000000000001), R"j("NaN(0x7ff8000000000001)")j"},
      {double_from_bits(0xfff0000000000001), R"j("NaN(0xfff0000000000001)")j"},  // signalling
  };
  expect_same_bits_round_trip(table);
}

TEST(JsonCodecNumbers, FloatsRoundTripBitForBit) {
  using limits = std::numeric_limits<float>;
  const encoded_number<float> table[] = {
      {-0.0f, "-0E0"},
      {0.1f, "1.0000000149011612E-1"},
      {limits::max(), "3.4028234663852886E38"},
      {limits::lowest(), "-3.4028234663852886E38"},
      {limits::min(), "1.1754943508222875E-38"},
      {limits::denorm_min(), "1.401298464324817E-45"},
      {limits::infinity(), R"("Infinity")"},
      {-limits::infinity(), R"("-Infinity")"},
      {limits::quiet_NaN(), R"("NaN")"},
      {-limits::quiet_NaN(), R"("-NaN")"},
      {float_from_bits(0x7fc00001), R"j("NaN(0x7fc00001)")j"},
      {float_from_bits(0x7f800001), R"j("NaN(0x7f800001)")j"},  // signalling
  };
  expect_same_bits_round_trip(table);
}

// The codec reads numbers itself because Boost.JSON 1.81 misreads about one double in five.
TEST(JsonCodecNumbers, EveryFiniteDoubleOfARandomSampleRoundTrips) {
  std::mt19937_64 random(20261206);
  int checked = 0;
  int different = 0;
  while (checked < 100000) {
    const double number = std::bit_cast<double>(random());
    if (!std::isfinite(number)) continue;
    ++checked;
    if (bits_of(json_codec::decode<double>(json_codec::encode(number))) != bits_of(number)) {
      ++different;
    }
  }
  EXPECT_EQ(different, 0);
}

TEST(JsonCodecNumbers, ANanWrittenByOneWidthReadsAsANanOfTheOther) {
  EXPECT_TRUE(std::isnan(json_codec::decode<float>(R"j("NaN(0x7ff8000000000001)")j")));
  EXPECT_TRUE(std::isnan(json_codec::decode<double>(R"j("NaN(0x7fc00001)")j")));
  EXPECT_EQ(json_codec::decode<float>("2"), 2.0f);  // what another language writes for 2.0
  EXPECT_EQ(json_codec::decode<double>("-7"), -7.0);
}

TEST(JsonCodecNumbers, OtherStringsAndOutOfRangeNumbersAreDecodeErrors) {
  for (const char* text :
       {R"("nan")", R"("inf")", R"("Infinity ")", R"j("NaN(0x0000000000000000)")j",
        R"j("NaN(0x7ff8)")j", R"j("NaN(0x7ff800000000000g)")j", R"j("NaN(7ff8000000000001)")j",
        R"j("NaN(0x-7ff800000000001)")j", R"("1.5")", "null", "true", "[1]"}) {
    SCOPED_TRACE(text);
    EXPECT_THROW(json_codec::decode<double>(text), cachet::decode_error);
    EXPECT_THROW(json_codec::decode<float>(text), cachet::decode_error);
  }
  EXPECT_THROW(json_codec::decode<float>("1E39"), cachet::decode_error);
  EXPECT_THROW(json_codec::decode<float>("-3.5E38"), cachet::decode_error);
  // The string forms stand for floating-point numbers only.
  EXPECT_THROW(json_codec::decode<int>(R"("NaN")"), cachet::decode_error);
  EXPECT_THROW(json_codec::decode<std::int64_t>(R"("Infinity")"), cachet::decode_error);
}

// ---- strings of any bytes

std::string all_bytes() {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
  return bytes;
}

TEST(JsonCodecStrings, UTF8TextIsAPlainStringAndOtherBytesAreBase64) {
  using namespace std::string_literals;
  const struct {
    std::string bytes;
    std::string text;
  } table[] = {
      {"", R"("")"},
      {"plain", R"("plain")"},
      {"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80",
       "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\""},
      {"\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\""},  // U+FFFF, U+10FFFF
      {"a\0b\n\"\\"s, R"("a\u0000b\n\"\\")"},
      {"\xff", R"({"base64":"/w=="})"},
      {"\xc0\xaf", R"({"base64":"wK8="})"},              // overlong '/'
      {"\xe0\x80\xaf", R"({"base64":"4ICv"})"},          // overlong '/', three bytes
      {"\xf0\x80\x80\xaf", R"({"base64":"8ICArw=="})"},  // overlong '/', four bytes
      {"\xed\xa0\x80", R"({"base64":"7aCA"})"},          // lone high surrogate U+D800
      {"\xed\xbf\xbf", R"({"base64":"7b+/"})"},          // lone low surrogate U+DFFF
      {"\xf4\x90\x80\x80", R"({"base64":"9JCAgA=="})"},  // U+110000
      {"ok\xe2\x82", R"({"base64":"b2vigg=="})"},        // truncated at the end
      {"\x80", R"({"base64":"gA=="})"},                  // a lone continuation byte
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.text);
    const std::string text = json_codec::encode(row.bytes);
    EXPECT_EQ(text, row.text);
    expect_portable_json(text);
    EXPECT_EQ(json_codec::decode<std::string>(text), row.bytes);
  }
  const std::string blob = all_bytes();
  const std::string text = json_codec::encode(blob);
  expect_portable_json(text);
  EXPECT_EQ(json_codec::decode<std::string>(text), blob);
}

// The validator the codec relies on says "UTF-8" exactly when a JSON parser accepts the bytes
// as a string: every sequence of two bytes, and every lead byte with a second byte at each edge
// of the ranges that decide.
TEST(JsonCodecStrings, AStringIsBase64ExactlyWhenAJsonParserRejectsItsBytes) {
  std::vector<std::string> samples;
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) samples.push_back({static_cast<char>(a), static_cast<char>(b)});
  }
  for (int lead = 0xC0; lead < 0x100; ++lead) {
    for (int second = 0; second < 0x100; ++second) {
      for (int rest : {0x7F, 0x80, 0xBF, 0xC0}) {
        samples.push_back(std::string{static_cast<char>(lead), static_cast<char>(second),
                                      static_cast<char>(rest), static_cast<char>(0x80)});
        samples.push_back(std::string{static_cast<char>(lead), static_cast<char>(second),
                                      static_cast<char>(0x80), static_cast<char>(rest)});
      }
    }
  }
  int disagreements = 0;
  for (const std::string& bytes : samples) {
    boost::json::error_code ec;
    boost::json::parse("\"" + bytes + "\"", ec);
    // Control characters and quotes are escaped by JSON, not invalid bytes.
    const bool json_would_need_escape =
        bytes.find_first_of(std::string("\"\\\0", 3)) != std::string::npos ||
        std::any_of(bytes.begin(), bytes.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    if (json_would_need_escape) continue;
    if (cachet::detail::utf8::valid(bytes) != !ec) ++disagreements;
    const std::string text = json_codec::encode(bytes);
    if (json_codec::decode<std::string>(text) != bytes) ++disagreements;
    if ((text.front() == '"') != !ec) ++disagreements;
  }
  EXPECT_EQ(disagreements, 0);
}

TEST(JsonCodecStrings, ForeignOrCorruptStringsAreDecodeErrors) {
  for (const char* text : {
           R"({"base64":"//8"})",         // not padded
           R"({"base64":"/x=="})",        // bits past the last byte
           R"({"base64":"/w==/w=="})",    // padding inside
           R"({"base64":"/ w="})",        // not the alphabet
           R"({"base64":"/w==","x":1})",  // more than the one key
           R"({"bytes":"/w=="})",
           R"({"base64":255})",
           "\"\xff\"",          // raw bytes that are not UTF-8
           "\"\xed\xa0\x80\"",  // a raw surrogate
           "12",
           "null",
       }) {
    SCOPED_TRACE(text);
    EXPECT_THROW(json_codec::decode<std::string>(text), cachet::decode_error);
  }
  // Base64 of UTF-8 is still those bytes, as another writer may choose.
  EXPECT_EQ(json_codec::decode<std::string>(R"({"base64":"b2s="})"), "ok");
  // A base64 object is a string only where a string is expected.
  EXPECT_THROW(json_codec::decode<std::vector<int>>(R"({"base64":"AQI="})"), cachet::decode_error);
}

// ---- inside containers and structs

// Values with NaN have no operator== that holds, so the round trip is checked on the text: the
// decoded value writes the same JSON, which keeps every bit.
template <class T>
void expect_text_round_trip(const T& value, const std::string& expected_text) {
  const std::string text = json_codec::encode(value);
  EXPECT_EQ(text, expected_text);
  expect_portable_json(text);
  EXPECT_EQ(json_codec::encode(json_codec::decode<T>(text)), text);
}

TEST(JsonCodecContainers, EncodingsHoldInsideEveryContainer) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  expect_text_round_trip(std::vector<double>{nan, -inf, -0.0, 1.5},
                         R"(["NaN","-Infinity",-0E0,1.5E0])");
  expect_text_round_trip(std::vector<std::string>{"a", std::string("\xff\0", 2)},
                         R"(["a",{"base64":"/wA="}])");
  expect_text_round_trip(std::set<std::string>{"\xc0\x80", "b"}, R"(["b",{"base64":"wIA="}])");
  expect_text_round_trip(std::optional<std::string>{"\xfe"}, R"({"base64":"/g=="})");
  expect_text_round_trip(std::optional<double>{inf}, R"("Infinity")");
  expect_text_round_trip(std::pair<std::string, float>{"\x80", -0.0f},
                         R"([{"base64":"gA=="},-0E0])");
  expect_text_round_trip(std::tuple<double, std::string, int>{nan, "x", 3}, R"(["NaN","x",3])");
  expect_text_round_trip(std::array<float, 2>{std::numeric_limits<float>::infinity(), 0.5f},
                         R"(["Infinity",5E-1])");
  expect_text_round_trip(std::map<std::string, double>{{"a", nan}, {"b", 2}},
                         R"({"a":"NaN","b":2E0})");
  expect_text_round_trip(std::vector<bool>{true, false}, "[true,false]");
  expect_text_round_trip(std::deque<float>{-0.0f}, "[-0E0]");
  expect_text_round_trip(std::list<std::string>{"\xfe", ""}, R"([{"base64":"/g=="},""])");
  expect_text_round_trip(std::vector<std::vector<std::string>>{{"\xff"}, {}},
                         R"([[{"base64":"/w=="}],[]])");
}

TEST(JsonCodecContainers, AMapWithAKeyThatIsNotUTF8IsAnArrayOfPairs) {
  const std::map<std::string, int> map{{"a", 1}, {"\xff", 2}};
  expect_text_round_trip(map, R"([["a",1],[{"base64":"/w=="},2]])");
  EXPECT_EQ(json_codec::decode<decltype(map)>(json_codec::encode(map)), map);

  const std::unordered_map<std::string, std::string> unordered{{"\xed\xa0\x80", "\xed\xbf\xbf"}};
  expect_text_round_trip(unordered, R"([[{"base64":"7aCA"},{"base64":"7b+/"}]])");

  // An object cannot repeat a key; a multimap can.
  const std::multimap<std::string, int> repeated{{"k", 1}, {"k", 2}};
  expect_text_round_trip(repeated, R"([["k",1],["k",2]])");
  EXPECT_EQ(json_codec::decode<decltype(repeated)>(json_codec::encode(repeated)), repeated);

  // Keys that are not strings were pairs already.
  const std::map<double, std::string> by_number{{-0.0, "z"},
                                                {std::numeric_limits<double>::infinity(), "i"}};
  expect_text_round_trip(by_number, R"([[-0E0,"z"],["Infinity","i"]])");

  // What another language writes for a map with text keys is an object, and still readable.
  EXPECT_EQ((json_codec::decode<std::map<std::string, int>>(R"([["a",1]])")),
            (std::map<std::string, int>{{"a", 1}}));
  EXPECT_THROW((json_codec::decode<std::map<std::string, int>>(R"([["a",1,2]])")),
               cachet::decode_error);
  EXPECT_THROW((json_codec::decode<std::map<int, int>>(R"({"1":1})")), cachet::decode_error);
}

TEST(JsonCodecContainers, HanaStructFieldsRoundTripByteExactly) {
  const app::record r{std::string("\0\xff\xfe binary", 10),
                      -0.0,
                      std::numeric_limits<float>::quiet_NaN(),
                      {{"\xc0\xaf", "v"}, {"k", "\xed\xa0\x80"}},
                      "\x80",
                      {"\xf8", -std::numeric_limits<double>::infinity()},
                      {-std::numeric_limits<float>::quiet_NaN(), "t"}};
  expect_text_round_trip(
      r, R"({"blob":{"base64":"AP/+IGJpbmFyeQ=="},"ratio":-0E0,"weight":"NaN",)"
         R"("labels":[["k",{"base64":"7aCA"}],[{"base64":"wK8="},"v"]],"note":{"base64":"gA=="},)"
         R"("pair":[{"base64":"+A=="},"-Infinity"],"tuple":["-NaN","t"]})");
  const app::record back = json_codec::decode<app::record>(json_codec::encode(r));
  EXPECT_EQ(back.blob, r.blob);
  EXPECT_EQ(bits_of(back.ratio), bits_of(-0.0));
  EXPECT_EQ(bits_of(back.weight), bits_of(r.weight));
  EXPECT_EQ(back.labels, r.labels);
  EXPECT_EQ(back.note, r.note);
  EXPECT_EQ(back.pair, r.pair);
  EXPECT_EQ(bits_of(std::get<0>(back.tuple)), bits_of(std::get<0>(r.tuple)));
  EXPECT_EQ(std::get<1>(back.tuple), "t");
}

TEST(JsonCodecContainers, MalformedContainersAreDecodeErrors) {
  EXPECT_THROW((json_codec::decode<std::pair<int, int>>("[1,2,3]")), cachet::decode_error);
  EXPECT_THROW((json_codec::decode<std::array<int, 2>>("[1]")), cachet::decode_error);
  EXPECT_THROW((json_codec::decode<std::tuple<int, std::string>>(R"([1,2])")),
               cachet::decode_error);
  EXPECT_THROW((json_codec::decode<std::vector<double>>(R"([1,"x"])")), cachet::decode_error);
  EXPECT_THROW((json_codec::decode<std::optional<std::string>>("1")), cachet::decode_error);
  // Deeper than any cached type, shallower than a stack overflow.
  EXPECT_THROW(json_codec::decode<std::vector<int>>(std::string(100000, '[')),
               cachet::decode_error);
  const std::string deep = std::string(200, '[') + std::string(200, ']');
  EXPECT_THROW(json_codec::decode<std::vector<int>>(deep), cachet::decode_error);
}

TEST(JsonCodecContainers, AUserConversionThatWritesWhatJsonCannotCarryIsRefusedOnEncode) {
  EXPECT_EQ(json_codec::encode(app::reading{2.5}), "2.5E0");
  EXPECT_THROW(json_codec::encode(app::reading{std::numeric_limits<double>::quiet_NaN()}),
               cachet::error);
  EXPECT_THROW(json_codec::encode(
                   std::vector<app::reading>{{1}, {-std::numeric_limits<double>::infinity()}}),
               cachet::error);
}

}  // namespace
