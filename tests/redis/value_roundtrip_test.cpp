// Every value json_codec can write caches on Redis and comes back byte for byte: non-finite and
// signed-zero floating-point numbers, extremes, strings of any bytes, and all of them inside
// containers, map keys and Hana struct fields.

#include <cachet/redis.hpp>

#include <boost/hana/define_struct.hpp>

#include <gtest/gtest.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {

struct record {
  BOOST_HANA_DEFINE_STRUCT(record, (std::string, blob), (double, ratio), (float, weight),
                           (std::map<std::string, std::string>, labels),
                           (std::optional<std::string>, note),
                           (std::tuple<double, std::string>, pair));
};

const std::vector<double>& doubles() {
  using limits = std::numeric_limits<double>;
  static const std::vector<double> table{
      0.1,
      -0.0,
      limits::max(),
      limits::lowest(),
      limits::denorm_min(),
      limits::infinity(),
      -limits::infinity(),
      limits::quiet_NaN(),
      -limits::quiet_NaN(),
      std::bit_cast<double>(std::uint64_t{0x7ff8000000000001}),
  };
  return table;
}

// Boost.JSON 1.81's own parser reads these back one ulp off; json_codec::decode reads them exactly.
const std::vector<double>& doubles_boost_json_misreads() {
  static const std::vector<double> table{
      static_cast<double>(std::numeric_limits<float>::max()),
      2.5539519964905206E7,
      1.3927926388013963E-143,
  };
  return table;
}

const std::vector<float>& floats() {
  using limits = std::numeric_limits<float>;
  static const std::vector<float> table{
      -0.0f,
      limits::max(),
      limits::denorm_min(),
      -limits::infinity(),
      limits::quiet_NaN(),
      std::bit_cast<float>(std::uint32_t{0x7fc00001}),
  };
  return table;
}

std::string all_bytes() {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
  return bytes;
}

const std::vector<std::string>& strings() {
  static const std::vector<std::string> table{
      "",
      "plain text",
      "caf\xc3\xa9 \xf0\x9f\x98\x80",
      std::string("nul\0inside", 10),
      all_bytes(),
      "\xff\xfe",
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong, three bytes
      "\xed\xa0\x80",      // a lone surrogate
      "\xf4\x90\x80\x80",  // past U+10FFFF
      "truncated \xe2\x82",
  };
  return table;
}

const std::vector<std::map<std::string, std::vector<double>>>& maps() {
  static const std::vector<std::map<std::string, std::vector<double>>> table{
      {{"text", {1.5, -0.0}}, {"nan", {std::numeric_limits<double>::quiet_NaN()}}},
      {{"\xff", {std::numeric_limits<double>::infinity()}}, {"\xed\xbf\xbf", {}}},
  };
  return table;
}

const std::vector<record>& records() {
  static const std::vector<record> table{
      {std::string("\0\xff\xfe", 3),
       -0.0,
       std::numeric_limits<float>::quiet_NaN(),
       {{"\xc0\xaf", "v"}, {"k", "\xed\xa0\x80"}},
       "\x80",
       {-std::numeric_limits<double>::infinity(), "\xf8"}},
      {"plain", 0.5, 2.0f, {{"a", "b"}}, std::nullopt, {1.0, "x"}},
  };
  return table;
}

double double_at(int i) { return doubles().at(static_cast<std::size_t>(i)); }
double misread_double_at(int i) {
  return doubles_boost_json_misreads().at(static_cast<std::size_t>(i));
}
float float_at(int i) { return floats().at(static_cast<std::size_t>(i)); }
std::string string_at(int i) { return strings().at(static_cast<std::size_t>(i)); }
std::map<std::string, std::vector<double>> map_at(int i) {
  return maps().at(static_cast<std::size_t>(i));
}
record record_at(int i) { return records().at(static_cast<std::size_t>(i)); }

}  // namespace app

namespace {

using cachet_test::make_test_backend;
using cachet_test::shared_redis_url;

template <auto function>
using redis_cached = cachet::cached<function, cachet::backend<cachet::redis>>;

// The first call of each argument computes and stores, the second is a hit. json_codec's text
// keeps every bit (codec_test proves it), so equal texts are equal bytes, NaNs included.
template <class Cached, class Table>
void expect_each_value_caches_byte_exactly(Cached& cached, const Table& table) {
  for (std::size_t i = 0; i < table.size(); ++i) {
    SCOPED_TRACE("value " + std::to_string(i) + ": " + cachet::json_codec::encode(table[i]));
    const int argument = static_cast<int>(i);
    EXPECT_EQ(cachet::json_codec::encode(cached(argument)), cachet::json_codec::encode(table[i]));
    EXPECT_EQ(cachet::json_codec::encode(cached(argument)), cachet::json_codec::encode(table[i]));
  }
  const cachet::stats stats = cached.stats();
  EXPECT_EQ(stats.loads, table.size());
  EXPECT_EQ(stats.hits, table.size());
  EXPECT_EQ(stats.decode_errors, 0u);
  EXPECT_EQ(stats.backend_errors, 0u);
}

TEST(RedisValueRoundTrip, Doubles) {
  auto backend = make_test_backend(shared_redis_url());
  redis_cached<&app::double_at> cached{*backend};
  expect_each_value_caches_byte_exactly(cached, app::doubles());
}

// The store must read the value with json_codec::decode, not with Boost.JSON's parser.
TEST(RedisValueRoundTrip, DoublesThatBoostJsonsOwnParserMisreads) {
  auto backend = make_test_backend(shared_redis_url());
  redis_cached<&app::misread_double_at> cached{*backend};
  expect_each_value_caches_byte_exactly(cached, app::doubles_boost_json_misreads());
}

TEST(RedisValueRoundTrip, Floats) {
  auto backend = make_test_backend(shared_redis_url());
  redis_cached<&app::float_at> cached{*backend};
  expect_each_value_caches_byte_exactly(cached, app::floats());
}

TEST(RedisValueRoundTrip, StringsOfAnyBytes) {
  auto backend = make_test_backend(shared_redis_url());
  redis_cached<&app::string_at> cached{*backend};
  expect_each_value_caches_byte_exactly(cached, app::strings());
  for (std::size_t i = 0; i < app::strings().size(); ++i) {
    EXPECT_EQ(cached(static_cast<int>(i)), app::strings()[i]);  // the bytes, not just the text
  }
}

TEST(RedisValueRoundTrip, MapsWithKeysThatAreNotText) {
  auto backend = make_test_backend(shared_redis_url());
  redis_cached<&app::map_at> cached{*backend};
  expect_each_value_caches_byte_exactly(cached, app::maps());
}

TEST(RedisValueRoundTrip, HanaStructFields) {
  auto backend = make_test_backend(shared_redis_url());
  redis_cached<&app::record_at> cached{*backend};
  expect_each_value_caches_byte_exactly(cached, app::records());
}

}  // namespace
