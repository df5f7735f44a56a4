#include <cachet/codec.hpp>

#include <boost/hana/define_struct.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
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

}  // namespace
