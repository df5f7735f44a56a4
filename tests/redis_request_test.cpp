#include <cachet/detail/redis/parser.hpp>
#include <cachet/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>

#include <gtest/gtest.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <deque>
#include <forward_list>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using cachet::resp3::request;
using cachet::resp3::detail::request_argument;

// What the request's payload means to a server: each command as its list of arguments.
// Decoded with the RESP parser, so the test checks the framing as well as the bytes.
std::vector<std::vector<std::string>> decode(std::string_view payload) {
  std::vector<std::vector<std::string>> commands;
  cachet::resp3::detail::parser parser;
  while (!payload.empty()) {
    std::optional<cachet::resp3::value> reply;
    std::error_code ec;
    const std::size_t used = parser.parse(payload, reply, ec);
    EXPECT_FALSE(ec) << ec.message();
    if (ec || !reply) {
      ADD_FAILURE() << "incomplete command in payload";
      break;
    }
    payload.remove_prefix(used);
    std::vector<std::string> arguments;
    EXPECT_EQ(reply->type, cachet::resp3::type::array);
    for (const auto& argument : reply->elements) {
      EXPECT_EQ(argument.type, cachet::resp3::type::blob_string);
      arguments.push_back(argument.text);
    }
    commands.push_back(std::move(arguments));
  }
  return commands;
}

using command = std::vector<std::string>;

TEST(RedisRequest, EncodesExactBytes) {
  request req;
  req.push("SET", "key", "value");
  EXPECT_EQ(req.payload(), "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  EXPECT_EQ(req.size(), 1u);
}

TEST(RedisRequest, CommandWithoutArguments) {
  request req;
  req.push("PING");
  EXPECT_EQ(req.payload(), "*1\r\n$4\r\nPING\r\n");
}

TEST(RedisRequest, SeveralCommandsInOneBuffer) {
  request req;
  req.push("MULTI");
  req.push("INCR", "n");
  req.push("EXEC");
  EXPECT_EQ(req.size(), 3u);
  EXPECT_EQ(req.payload(),
            "*1\r\n$5\r\nMULTI\r\n"
            "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"
            "*1\r\n$4\r\nEXEC\r\n");
}

TEST(RedisRequest, ClearEmptiesTheRequest) {
  request req;
  req.push("PING");
  req.clear();
  EXPECT_EQ(req.size(), 0u);
  EXPECT_EQ(req.payload(), "");
  req.push("ECHO", "x");
  EXPECT_EQ(req.payload(), "*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n");
}

TEST(RedisRequest, StringsAreBinarySafe) {
  request req;
  const std::string binary("a\r\n\0b", 5);
  req.push("SET", "k", binary, std::string_view("$1\r\n"), "");
  EXPECT_EQ(req.payload(), std::string("*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\n\0b\r\n"
                                       "$4\r\n$1\r\n\r\n$0\r\n\r\n",
                                       47));
  EXPECT_EQ(decode(req.payload()),
            (std::vector<command>{command{"SET", "k", binary, "$1\r\n", ""}}));
}

TEST(RedisRequest, StringKinds) {
  request req;
  const std::string s = "string";
  const char* c_string = "pointer";
  char mutable_buffer[] = "buffer";
  const char not_terminated[3] = {'a', 'b', 'c'};
  req.push("X", s, std::string_view("view"), c_string, mutable_buffer, not_terminated);
  EXPECT_EQ(decode(req.payload()),
            (std::vector<command>{command{"X", "string", "view", "pointer", "buffer", "abc"}}));
}

TEST(RedisRequest, IntegersUseDecimal) {
  request req;
  req.push("X", 0, -1, 42u, std::numeric_limits<std::int64_t>::min(),
           std::numeric_limits<std::uint64_t>::max(), static_cast<short>(-7),
           static_cast<std::int8_t>(5), static_cast<unsigned char>(200));
  EXPECT_EQ(decode(req.payload()),
            (std::vector<command>{command{"X", "0", "-1", "42", "-9223372036854775808",
                                          "18446744073709551615", "-7", "5", "200"}}));
  request exact;
  exact.push("EXPIRE", "k", 300);
  EXPECT_EQ(exact.payload(), "*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$3\r\n300\r\n");
}

TEST(RedisRequest, FloatingPointUsesShortestRoundTrip) {
  request req;
  req.push("X", 0.1, 1.5, -0.0, 1e300, 0.1f, 2.0);
  EXPECT_EQ(decode(req.payload()),
            (std::vector<command>{command{"X", "0.1", "1.5", "-0", "1e+300", "0.1", "2"}}));
  // Any double reads back as the same value.
  for (const double d : {1.0 / 3.0, 123456.789e-200, std::numeric_limits<double>::max(),
                         std::numeric_limits<double>::denorm_min()}) {
    request one;
    one.push("X", d);
    const std::string text = decode(one.payload()).at(0).at(1);
    double back = 0;
    std::from_chars(text.data(), text.data() + text.size(), back);
    EXPECT_EQ(back, d) << text;
  }
}

TEST(RedisRequest, RangesExpandToSeveralArguments) {
  request req;
  const std::vector<std::string> keys{"a", "b", "c"};
  req.push("MGET", keys);
  EXPECT_EQ(req.payload(), "*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");

  req.clear();
  req.push("DEL", std::vector<std::string>{});
  EXPECT_EQ(req.payload(), "*1\r\n$3\r\nDEL\r\n");

  req.clear();
  const std::list<int> numbers{1, 2};
  const std::forward_list<std::string_view> views{"x", "y"};  // no size(): counted by walking
  const std::array<const char*, 2> pointers{"p", "q"};
  const std::set<double> doubles{0.5};
  req.push("SADD", "s", numbers, views, pointers, doubles, std::deque<long>{9});
  EXPECT_EQ(decode(req.payload()),
            (std::vector<command>{command{"SADD", "s", "1", "2", "x", "y", "p", "q", "0.5", "9"}}));
}

TEST(RedisRequest, PairsAndMapsExpandToFieldsAndValues) {
  request req;
  const std::map<std::string, int> fields{{"a", 1}, {"b", 2}};
  req.push("HSET", "h", fields, std::pair{"c", 3.5});
  EXPECT_EQ(decode(req.payload()),
            (std::vector<command>{command{"HSET", "h", "a", "1", "b", "2", "c", "3.5"}}));
}

TEST(RedisRequest, MixedArgumentTypes) {
  request req;
  const std::vector<std::string> tail{"t1", "t2"};
  req.push("ZADD", std::string("z"), 1.25, "m", 7, tail, std::string_view("end"));
  EXPECT_EQ(req.payload(),
            "*8\r\n$4\r\nZADD\r\n$1\r\nz\r\n$4\r\n1.25\r\n$1\r\nm\r\n$1\r\n7\r\n"
            "$2\r\nt1\r\n$2\r\nt2\r\n$3\r\nend\r\n");
}

TEST(RedisRequest, NullPointerThrowsAndLeavesRequestUnchanged) {
  request req;
  req.push("PING");
  const std::string before(req.payload());
  const char* null = nullptr;
  EXPECT_THROW(req.push("SET", "k", null), cachet::error);
  EXPECT_EQ(req.payload(), before);
  EXPECT_EQ(req.size(), 1u);
}

// Unsupported argument types are rejected at compile time; these are the types the check uses.
static_assert(request_argument<int>);
static_assert(request_argument<const std::string&>);
static_assert(request_argument<const char*>);
static_assert(request_argument<const char (&)[4]>);
static_assert(request_argument<std::vector<std::string>>);
static_assert(request_argument<std::map<std::string, std::string>>);
static_assert(request_argument<std::pair<std::string, long>>);
static_assert(!request_argument<bool>);
static_assert(!request_argument<char>);
static_assert(!request_argument<std::chrono::seconds>);
static_assert(!request_argument<std::vector<bool>>);
static_assert(!request_argument<std::vector<char>>);
static_assert(!request_argument<std::vector<std::vector<int>>>);
static_assert(!request_argument<std::pair<int, bool>>);
static_assert(!request_argument<void*>);
static_assert(!request_argument<std::nullptr_t>);
static_assert(!request_argument<const wchar_t*>);
static_assert(!request_argument<std::optional<int>>);

}  // namespace
