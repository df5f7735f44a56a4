#include <cachet/detail/redis/parser.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/resp3.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

// The largest single allocation made while `tracking` is set, so tests can show that an announced
// length or count is not reserved before the bytes arrive.
namespace {
std::atomic<bool> tracking{false};
std::atomic<std::size_t> largest_allocation{0};
}  // namespace

void* operator new(std::size_t size) {
  if (tracking.load(std::memory_order_relaxed)) {
    std::size_t seen = largest_allocation.load(std::memory_order_relaxed);
    while (size > seen && !largest_allocation.compare_exchange_weak(seen, size)) {
    }
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using cachet::resp3::error;
using cachet::resp3::type;
using cachet::resp3::value;
using cachet::resp3::detail::parse_limits;
using cachet::resp3::detail::parser;

// ---- building expected values ----

value make(type t) {
  value v;
  v.type = t;
  return v;
}
value text_of(type t, std::string s) {
  value v = make(t);
  v.text = std::move(s);
  return v;
}
value blob(std::string s) { return text_of(type::blob_string, std::move(s)); }
value simple(std::string s) { return text_of(type::simple_string, std::move(s)); }
value number(std::int64_t i) {
  value v = make(type::number);
  v.integer = i;
  return v;
}
value real(double d) {
  value v = make(type::double_type);
  v.real = d;
  return v;
}
value boolean(bool b) {
  value v = make(type::boolean);
  v.boolean = b;
  return v;
}
value verbatim(std::string format, std::string body) {
  value v = text_of(type::verbatim_string, std::move(body));
  v.verbatim_format = std::move(format);
  return v;
}
value aggregate(type t, std::vector<value> elements) {
  value v = make(t);
  v.elements = std::move(elements);
  return v;
}
value with_attributes(value v, std::vector<value> attributes) {
  v.attributes = std::move(attributes);
  return v;
}

// ---- feeding a parser the way the client does ----

struct outcome {
  std::vector<value> replies;
  std::error_code ec;
  std::string unconsumed;
};

// Appends each chunk to one read buffer and parses as much as possible after each, dropping the
// consumed bytes, like the client's read loop. Checks the parser's contract on every call.
outcome feed(parser& p, const std::vector<std::string_view>& chunks) {
  outcome result;
  std::string buffer;
  for (const std::string_view chunk : chunks) {
    buffer += chunk;
    while (!buffer.empty()) {
      std::optional<value> reply;
      const std::size_t used = p.parse(buffer, reply, result.ec);
      EXPECT_LE(used, buffer.size());
      buffer.erase(0, used);
      if (result.ec) {
        EXPECT_FALSE(reply.has_value());
        result.unconsumed = buffer;
        return result;
      }
      if (!reply) {
        EXPECT_TRUE(buffer.empty()) << "no reply, but input was left unconsumed";
        break;
      }
      result.replies.push_back(std::move(*reply));
    }
  }
  result.unconsumed = buffer;
  return result;
}

outcome feed_whole(std::string_view input, parse_limits limits = {}) {
  parser p(limits);
  return feed(p, {input});
}

outcome feed_split(std::string_view input, std::size_t at, parse_limits limits = {}) {
  parser p(limits);
  return feed(p, {input.substr(0, at), input.substr(at)});
}

outcome feed_bytewise(std::string_view input, parse_limits limits = {}) {
  parser p(limits);
  std::vector<std::string_view> chunks;
  for (std::size_t i = 0; i < input.size(); ++i) chunks.push_back(input.substr(i, 1));
  return feed(p, chunks);
}

// Parses `input` whole, split at every byte boundary, and byte by byte: each must yield exactly
// the replies `expected`.
void expect_replies(std::string_view input, const std::vector<value>& expected) {
  const outcome whole = feed_whole(input);
  EXPECT_FALSE(whole.ec) << whole.ec.message();
  EXPECT_EQ(whole.replies, expected);
  for (std::size_t at = 0; at <= input.size(); ++at) {
    const outcome split = feed_split(input, at);
    EXPECT_FALSE(split.ec) << "split at " << at << ": " << split.ec.message();
    EXPECT_EQ(split.replies, expected) << "split at " << at;
  }
  const outcome bytewise = feed_bytewise(input);
  EXPECT_FALSE(bytewise.ec) << bytewise.ec.message();
  EXPECT_EQ(bytewise.replies, expected);
}

void expect_reply(std::string_view input, const value& expected) {
  SCOPED_TRACE(testing::PrintToString(std::string(input)));
  expect_replies(input, {expected});
}

// Every way of splitting malformed input yields the same error.
void expect_error(std::string_view input, error expected, parse_limits limits = {}) {
  SCOPED_TRACE(testing::PrintToString(std::string(input)));
  const outcome whole = feed_whole(input, limits);
  EXPECT_EQ(whole.ec, expected) << whole.ec.message();
  EXPECT_TRUE(whole.replies.empty());
  for (std::size_t at = 0; at <= input.size(); ++at) {
    EXPECT_EQ(feed_split(input, at, limits).ec, expected) << "split at " << at;
  }
  EXPECT_EQ(feed_bytewise(input, limits).ec, expected);
}

// ---- every type ----

TEST(Resp3Parser, BlobString) {
  expect_reply("$5\r\nhello\r\n", blob("hello"));
  expect_reply("$0\r\n\r\n", blob(""));
  // Binary-safe: CR, LF and NUL inside the body are data.
  expect_reply(std::string_view("$9\r\na\r\nb\0c\r\n\r\r\n", 15),
               blob(std::string("a\r\nb\0c\r\n\r", 9)));
}

TEST(Resp3Parser, SimpleString) {
  expect_reply("+OK\r\n", simple("OK"));
  expect_reply("+\r\n", simple(""));
  expect_reply("+hello world\r\n", simple("hello world"));
}

TEST(Resp3Parser, Errors) {
  const value simple_error = text_of(type::simple_error, "ERR unknown command 'FOO'");
  expect_reply("-ERR unknown command 'FOO'\r\n", simple_error);
  EXPECT_TRUE(simple_error.is_error());
  const value blob_error = text_of(type::blob_error, "SYNTAX invalid syntax");
  expect_reply("!21\r\nSYNTAX invalid syntax\r\n", blob_error);
  EXPECT_TRUE(blob_error.is_error());
}

TEST(Resp3Parser, Number) {
  expect_reply(":0\r\n", number(0));
  expect_reply(":1234\r\n", number(1234));
  expect_reply(":-42\r\n", number(-42));
  expect_reply(":9223372036854775807\r\n", number(std::numeric_limits<std::int64_t>::max()));
  expect_reply(":-9223372036854775808\r\n", number(std::numeric_limits<std::int64_t>::min()));
}

TEST(Resp3Parser, Double) {
  expect_reply(",1.23\r\n", real(1.23));
  expect_reply(",10\r\n", real(10));
  expect_reply(",-0.5\r\n", real(-0.5));
  expect_reply(",1e+300\r\n", real(1e300));
  expect_reply(",1.5E-3\r\n", real(1.5e-3));
  expect_reply(",2e3\r\n", real(2000));
  expect_reply(",3.0000000000000001e-05\r\n", real(3.0000000000000001e-05));
  expect_reply(",inf\r\n", real(std::numeric_limits<double>::infinity()));
  expect_reply(",-inf\r\n", real(-std::numeric_limits<double>::infinity()));
}

TEST(Resp3Parser, DoubleNan) {
  // Redis 7.2 sends "nan"; earlier versions may send what libc prints.
  for (const std::string_view input : {",nan\r\n", ",-nan\r\n", ",NAN\r\n", ",nan(123)\r\n"}) {
    for (std::size_t at = 0; at <= input.size(); ++at) {
      const outcome split = feed_split(input, at);
      ASSERT_FALSE(split.ec) << input << " " << split.ec.message();
      ASSERT_EQ(split.replies.size(), 1u);
      EXPECT_EQ(split.replies[0].type, type::double_type);
      EXPECT_TRUE(std::isnan(split.replies[0].real)) << input;
    }
  }
}

TEST(Resp3Parser, BigNumber) {
  expect_reply("(3492890328409238509324850943850943825024385\r\n",
               text_of(type::big_number, "3492890328409238509324850943850943825024385"));
  expect_reply("(-3492890328409238509324850943850943825024385\r\n",
               text_of(type::big_number, "-3492890328409238509324850943850943825024385"));
}

TEST(Resp3Parser, Boolean) {
  expect_reply("#t\r\n", boolean(true));
  expect_reply("#f\r\n", boolean(false));
}

TEST(Resp3Parser, NullsIncludingResp2) {
  expect_reply("_\r\n", make(type::null));
  expect_reply("$-1\r\n", make(type::null));
  expect_reply("*-1\r\n", make(type::null));
  EXPECT_TRUE(make(type::null).is_null());
}

TEST(Resp3Parser, VerbatimString) {
  expect_reply("=15\r\ntxt:Some string\r\n", verbatim("txt", "Some string"));
  expect_reply("=4\r\nmkd:\r\n", verbatim("mkd", ""));
  expect_reply("=10\r\ntxt:a\r\nb\r\n\r\n", verbatim("txt", "a\r\nb\r\n"));
}

TEST(Resp3Parser, Array) {
  expect_reply("*0\r\n", aggregate(type::array, {}));
  expect_reply("*3\r\n:1\r\n:2\r\n:3\r\n",
               aggregate(type::array, {number(1), number(2), number(3)}));
  expect_reply("*3\r\n$3\r\nfoo\r\n_\r\n#t\r\n",
               aggregate(type::array, {blob("foo"), make(type::null), boolean(true)}));
}

TEST(Resp3Parser, NestedAggregates) {
  // [[1, "hello", 2], false] from the specification.
  expect_reply(
      "*2\r\n*3\r\n:1\r\n$5\r\nhello\r\n:2\r\n#f\r\n",
      aggregate(type::array,
                {aggregate(type::array, {number(1), blob("hello"), number(2)}), boolean(false)}));
  expect_reply(
      "%1\r\n+k\r\n*2\r\n~1\r\n:1\r\n%0\r\n",
      aggregate(type::map, {simple("k"), aggregate(type::array, {aggregate(type::set, {number(1)}),
                                                                 aggregate(type::map, {})})}));
  // Empty aggregates close their parents at once, several levels up.
  expect_reply("*1\r\n*1\r\n*0\r\n",
               aggregate(type::array, {aggregate(type::array, {aggregate(type::array, {})})}));
}

TEST(Resp3Parser, Map) {
  expect_reply("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
               aggregate(type::map, {simple("first"), number(1), simple("second"), number(2)}));
  expect_reply("%0\r\n", aggregate(type::map, {}));
}

TEST(Resp3Parser, Set) {
  expect_reply("~5\r\n+orange\r\n+apple\r\n#t\r\n:100\r\n:999\r\n",
               aggregate(type::set, {simple("orange"), simple("apple"), boolean(true), number(100),
                                     number(999)}));
}

TEST(Resp3Parser, Push) {
  expect_reply(">3\r\n$7\r\nmessage\r\n$3\r\nch1\r\n$5\r\nhello\r\n",
               aggregate(type::push, {blob("message"), blob("ch1"), blob("hello")}));
}

TEST(Resp3Parser, AttributeAttachedToFollowingReply) {
  // The specification's example: key popularity attached to the reply of MGET a b.
  expect_reply(
      "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
      "*2\r\n:2039123\r\n:9543892\r\n",
      with_attributes(aggregate(type::array, {number(2039123), number(9543892)}),
                      {simple("key-popularity"),
                       aggregate(type::map, {blob("a"), real(0.1923), blob("b"), real(0.0012)})}));
  expect_reply("|1\r\n+ttl\r\n:3600\r\n$2\r\nhi\r\n",
               with_attributes(blob("hi"), {simple("ttl"), number(3600)}));
  expect_reply("|0\r\n+OK\r\n", simple("OK"));
}

TEST(Resp3Parser, AttributeInsideAggregateDoesNotCountAsElement) {
  expect_reply("*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n",
               aggregate(type::array,
                         {number(1), with_attributes(number(2), {simple("ttl"), number(3600)})}));
  // On an aggregate element, and before an empty aggregate.
  expect_reply("*1\r\n|1\r\n+a\r\n+b\r\n*0\r\n",
               aggregate(type::array, {with_attributes(aggregate(type::array, {}),
                                                       {simple("a"), simple("b")})}));
}

TEST(Resp3Parser, ConsecutiveAndNestedAttributes) {
  // Two attributes in a row both apply to the next reply, in order.
  expect_reply("|1\r\n+a\r\n:1\r\n|1\r\n+b\r\n:2\r\n+OK\r\n",
               with_attributes(simple("OK"), {simple("a"), number(1), simple("b"), number(2)}));
  // An attribute inside an attribute belongs to the value it precedes there.
  expect_reply(
      "|1\r\n|1\r\n+x\r\n+y\r\n+a\r\n:1\r\n+OK\r\n",
      with_attributes(simple("OK"),
                      {with_attributes(simple("a"), {simple("x"), simple("y")}), number(1)}));
}

TEST(Resp3Parser, SeveralRepliesInOneBuffer) {
  const std::string_view input = "+OK\r\n:1\r\n*1\r\n$1\r\na\r\n>1\r\n+p\r\n";
  parser p;
  std::optional<value> reply;
  std::error_code ec;
  std::size_t used = p.parse(input, reply, ec);
  EXPECT_EQ(used, 5u);  // stops right after "+OK\r\n"
  EXPECT_EQ(reply, simple("OK"));
  used += p.parse(input.substr(used), reply, ec);
  EXPECT_EQ(used, 9u);
  EXPECT_EQ(reply, number(1));
  used += p.parse(input.substr(used), reply, ec);
  EXPECT_EQ(used, 20u);
  EXPECT_EQ(reply, aggregate(type::array, {blob("a")}));
  used += p.parse(input.substr(used), reply, ec);
  EXPECT_EQ(used, input.size());
  EXPECT_EQ(reply, aggregate(type::push, {simple("p")}));
  EXPECT_FALSE(ec);
  EXPECT_EQ(p.parse("", reply, ec), 0u);
  EXPECT_FALSE(reply.has_value());

  expect_replies(input, {simple("OK"), number(1), aggregate(type::array, {blob("a")}),
                         aggregate(type::push, {simple("p")})});
}

TEST(Resp3Parser, PartialReplyIsConsumedAndKept) {
  parser p;
  std::optional<value> reply;
  std::error_code ec;
  EXPECT_TRUE(p.idle());
  EXPECT_EQ(p.parse("*2\r\n$5\r\nhel", reply, ec), 11u);
  EXPECT_FALSE(reply.has_value());
  EXPECT_FALSE(p.idle());
  EXPECT_EQ(p.parse("lo\r\n:7\r\n+next", reply, ec), 8u);
  EXPECT_EQ(reply, aggregate(type::array, {blob("hello"), number(7)}));
  EXPECT_TRUE(p.idle());
}

TEST(Resp3Parser, LargeBulkArrivesInChunksWithoutRescanning) {
  const std::string body(1 << 20, 'x');
  const std::string input = "$" + std::to_string(body.size()) + "\r\n" + body + "\r\n";
  parser p;
  std::optional<value> reply;
  std::error_code ec;
  const std::size_t chunk = 1000;
  std::size_t offset = 0;
  while (offset < input.size()) {
    const std::string_view piece = std::string_view(input).substr(offset, chunk);
    const std::size_t used = p.parse(piece, reply, ec);
    ASSERT_FALSE(ec);
    // Every call takes all it is given, so no byte is ever handed to the parser twice.
    ASSERT_EQ(used, piece.size());
    offset += used;
  }
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->text, body);
}

TEST(Resp3Parser, ValueAccessors) {
  EXPECT_EQ(blob("a").as_string(), "a");
  EXPECT_EQ(verbatim("txt", "b").as_string(), "b");
  EXPECT_EQ(number(5).as_int(), 5);
  EXPECT_EQ(number(5).as_double(), 5.0);
  EXPECT_EQ(real(0.5).as_double(), 0.5);
  EXPECT_TRUE(boolean(true).as_bool());
  EXPECT_EQ(aggregate(type::set, {number(1)}).as_array().size(), 1u);
  EXPECT_EQ(aggregate(type::map, {number(1), number(2)}).as_map().size(), 2u);

  try {
    (void)number(1).as_string();
    ADD_FAILURE() << "as_string on a number must throw";
  } catch (const cachet::resp3::server_error&) {
    ADD_FAILURE() << "a number is not a server error";
  } catch (const cachet::resp3::request_error& e) {
    EXPECT_EQ(e.code(), error::unexpected_reply);
  }
  try {
    (void)text_of(type::simple_error, "WRONGTYPE Operation against a key").as_int();
    ADD_FAILURE() << "as_int on an error must throw";
  } catch (const cachet::resp3::server_error& e) {
    EXPECT_EQ(e.server_message(), "WRONGTYPE Operation against a key");
    EXPECT_EQ(e.code(), error::server_error);
  }
  EXPECT_THROW((void)make(type::null).as_map(), cachet::resp3::request_error);
  EXPECT_THROW((void)blob("1").as_bool(), cachet::resp3::request_error);
  EXPECT_THROW((void)aggregate(type::map, {}).as_array(), cachet::resp3::request_error);
}

TEST(Resp3Parser, ToStringForDiagnostics) {
  EXPECT_EQ(cachet::resp3::to_string(aggregate(
                type::array, {blob("a\r\n"), number(-1), boolean(true), make(type::null)})),
            R"(["a\x0d\x0a", -1, true, null])");
  EXPECT_EQ(cachet::resp3::to_string(aggregate(type::map, {simple("k"), real(0.5)})),
            R"({"k": 0.5})");
  EXPECT_EQ(cachet::resp3::to_string(with_attributes(simple("OK"), {simple("t"), number(1)})),
            R"(|{"t": 1} "OK")");
}

// ---- malformed input ----

TEST(Resp3Parser, InvalidTypeByte) {
  for (const std::string_view input : {"?x\r\n", "\r\n", "OK\r\n", ";3\r\n", ".\r\n"}) {
    expect_error(input, error::invalid_type_byte);
  }
  // A bad byte inside an aggregate is caught too.
  expect_error("*2\r\n:1\r\n@\r\n", error::invalid_type_byte);
}

TEST(Resp3Parser, InvalidNumber) {
  for (const std::string_view input :
       {":abc\r\n", ":\r\n", ":1.5\r\n", ":+1\r\n", ":--1\r\n", ":-\r\n", ":1 \r\n",
        ":9223372036854775808\r\n", ":-9223372036854775809\r\n", "(12a\r\n", "(\r\n", "(-\r\n",
        "(1.5\r\n"}) {
    expect_error(input, error::invalid_number);
  }
  expect_error(":" + std::string(100, '1') + "\r\n", error::invalid_number);
}

TEST(Resp3Parser, InvalidLength) {
  for (const std::string_view input :
       {"$-2\r\n", "$abc\r\n", "$\r\n", "$+1\r\n", "$1x\r\n", "*-2\r\n", "*x\r\n", "%-1\r\n",
        "~-1\r\n", "!-1\r\n", "=-1\r\n", ">-1\r\n", "|-1\r\n", "$99999999999999999999999\r\n",
        "*99999999999999999999999\r\n", "=3\r\nabc\r\n", "=5\r\ntxt;a\r\n"}) {
    expect_error(input, error::invalid_length);
  }
  // Streamed strings and aggregates are not supported (Redis 7 does not send them).
  for (const std::string_view input :
       {"$?\r\n;4\r\nHell\r\n;0\r\n", "*?\r\n:1\r\n.\r\n", "%?\r\n", "~?\r\n"}) {
    expect_error(input, error::invalid_length);
  }
}

TEST(Resp3Parser, ExpectedCrlf) {
  for (const std::string_view input :
       {"+OK\n", "+OK\rX", "+O\nK\r\n", ":1\n", "$3\r\nabcd\r\n", "$3\r\nab\r\n", "$3\r\nabc\n\n",
        "$3\r\nabc\rX", "_x\r\n", "#t\rx", "*1\r\n+a\rb", "$3\nabc\r\n"}) {
    expect_error(input, error::expected_crlf);
  }
}

TEST(Resp3Parser, InvalidBoolean) {
  for (const std::string_view input : {"#x\r\n", "#\r\n", "#tt\r\n", "#T\r\n", "#1\r\n"}) {
    expect_error(input, error::invalid_boolean);
  }
}

TEST(Resp3Parser, InvalidDouble) {
  for (const std::string_view input :
       {",abc\r\n", ",\r\n", ",.5\r\n", ",1.\r\n", ",1e\r\n", ",1e+\r\n", ",--1\r\n", ",-\r\n",
        ",+1\r\n", ",1e400\r\n", ",0x1p3\r\n", ",infx\r\n", ",1.5.2\r\n", ",nan(\r\n", ", 1\r\n"}) {
    expect_error(input, error::invalid_double);
  }
}

TEST(Resp3Parser, AfterAnErrorNothingMoreIsParsedUntilReset) {
  parser p;
  std::optional<value> reply;
  std::error_code ec;
  p.parse("#x\r\n", reply, ec);
  ASSERT_EQ(ec, error::invalid_boolean);
  EXPECT_EQ(p.parse("+OK\r\n", reply, ec), 0u);
  EXPECT_EQ(ec, error::invalid_boolean);
  EXPECT_FALSE(reply.has_value());
  p.reset();
  EXPECT_EQ(p.parse("+OK\r\n", reply, ec), 5u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(reply, simple("OK"));
}

TEST(Resp3Parser, ResetDropsAPartialReply) {
  parser p;
  std::optional<value> reply;
  std::error_code ec;
  p.parse("|1\r\n+a\r\n+b\r\n*2\r\n:1\r\n", reply, ec);
  ASSERT_FALSE(reply.has_value());
  p.reset();
  EXPECT_TRUE(p.idle());
  p.parse(":5\r\n", reply, ec);
  EXPECT_EQ(reply, number(5));  // no attributes carried over
}

// ---- limits ----

TEST(Resp3Parser, BulkLengthLimit) {
  parse_limits limits;
  limits.max_bulk_length = 10;
  EXPECT_EQ(feed_whole("$10\r\n0123456789\r\n", limits).replies, std::vector{blob("0123456789")});
  expect_error("$11\r\n", error::bulk_too_large, limits);
  expect_error("!11\r\n", error::bulk_too_large, limits);
  expect_error("=11\r\n", error::bulk_too_large, limits);
  // Strings without a length prefix are bounded too, even if their end never comes.
  EXPECT_EQ(feed_whole("+0123456789\r\n", limits).replies, std::vector{simple("0123456789")});
  expect_error("+0123456789a", error::bulk_too_large, limits);
  expect_error("-0123456789a", error::bulk_too_large, limits);
  expect_error("(01234567890", error::bulk_too_large, limits);
  // A length header line cannot grow without bound either.
  expect_error("$" + std::string(1000, '0'), error::invalid_length);
}

// What one parser makes of `reads`, fed in order, and the largest allocation it made meanwhile.
struct tracked_parse {
  std::optional<value> reply;
  std::error_code ec;
  std::size_t largest_allocation = 0;
};

tracked_parse parse_tracking_allocations(const std::vector<std::string_view>& reads) {
  parser p;
  tracked_parse out;
  largest_allocation = 0;
  tracking = true;
  for (const std::string_view read : reads) p.parse(read, out.reply, out.ec);
  tracking = false;
  out.largest_allocation = largest_allocation.load();
  return out;
}

TEST(Resp3Parser, HugeAnnouncedLengthIsRejectedWithoutAllocating) {
  const tracked_parse parsed = parse_tracking_allocations({"$18446744073709551615\r\n"});
  EXPECT_EQ(parsed.ec, error::bulk_too_large);
  EXPECT_EQ(parsed.largest_allocation, 0u);
}

TEST(Resp3Parser, AllocationTrackingSeesTheBody) {
  // Shows the tracking used by the tests around this one does record allocations.
  const std::string input = "$5000\r\n" + std::string(5000, 'x') + "\r\n";
  const tracked_parse parsed = parse_tracking_allocations({input});
  ASSERT_TRUE(parsed.reply.has_value());
  EXPECT_GE(parsed.largest_allocation, std::size_t{5000});
}

TEST(Resp3Parser, AnnouncedLengthIsNotReservedBeforeTheBytesArrive) {
  // Within the default limits (512 MiB, 2^20 elements), but only a few bytes have come, in
  // several reads: memory follows what arrived, not what was announced.
  const std::vector<std::vector<std::string_view>> cases = {
      {"$536870912\r\nabc", "defghijklmnopqrstuvwxyz", "0123456789"},
      {"*1048576\r\n:1\r\n", ":2\r\n:3\r\n"},
      {"%524288\r\n", "+k\r\n"},
  };
  for (const auto& reads : cases) {
    const tracked_parse parsed = parse_tracking_allocations(reads);
    EXPECT_FALSE(parsed.ec) << reads[0];
    EXPECT_LT(parsed.largest_allocation, std::size_t{4096}) << reads[0];
  }
}

TEST(Resp3Parser, ElementLimit) {
  parse_limits limits;
  limits.max_elements = 4;
  EXPECT_EQ(feed_whole("*4\r\n_\r\n_\r\n_\r\n_\r\n", limits).replies.size(), 1u);
  EXPECT_EQ(feed_whole("%2\r\n_\r\n_\r\n_\r\n_\r\n", limits).replies.size(), 1u);
  for (const std::string_view input : {"*5\r\n", "~5\r\n", ">5\r\n", "%3\r\n", "|3\r\n"}) {
    expect_error(input, error::too_many_elements, limits);
  }
  // The limit applies to each aggregate, not to the whole reply.
  EXPECT_EQ(feed_whole("*2\r\n*4\r\n_\r\n_\r\n_\r\n_\r\n*4\r\n_\r\n_\r\n_\r\n_\r\n", limits)
                .replies.size(),
            1u);
}

TEST(Resp3Parser, HugeAnnouncedCountIsRejectedWithoutAllocating) {
  const tracked_parse parsed = parse_tracking_allocations({"*18446744073709551615\r\n"});
  EXPECT_EQ(parsed.ec, error::too_many_elements);
  EXPECT_EQ(parsed.largest_allocation, 0u);
  expect_error("%9223372036854775808\r\n", error::too_many_elements);
}

TEST(Resp3Parser, DepthLimit) {
  parse_limits limits;
  limits.max_depth = 3;
  EXPECT_EQ(feed_whole("*1\r\n*1\r\n*1\r\n:1\r\n", limits).replies.size(), 1u);
  expect_error("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", error::nesting_too_deep, limits);
  expect_error("*1\r\n%1\r\n~1\r\n>0\r\n", error::nesting_too_deep, limits);
  // An attribute is an aggregate as well.
  expect_error("*1\r\n*1\r\n*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n", error::nesting_too_deep, limits);
  // Depth counts open aggregates, not all that were ever opened.
  EXPECT_EQ(feed_whole("*3\r\n*1\r\n*0\r\n*1\r\n*0\r\n*1\r\n*0\r\n", limits).replies.size(), 1u);
}

TEST(Resp3Parser, DefaultDepthAccepts64Levels) {
  std::string input;
  for (int i = 0; i < 64; ++i) input += "*1\r\n";
  input += ":1\r\n";
  const outcome result = feed_whole(input);
  ASSERT_FALSE(result.ec) << result.ec.message();
  ASSERT_EQ(result.replies.size(), 1u);
}

TEST(Resp3Parser, DeepNestingBombFailsWithoutStackOverflow) {
  std::string input;
  for (int i = 0; i < 100000; ++i) input += "*1\r\n";
  const outcome whole = feed_whole(input);
  EXPECT_EQ(whole.ec, error::nesting_too_deep);
  parser p;
  std::vector<std::string_view> chunks;
  for (std::size_t i = 0; i < input.size(); i += 7) {
    chunks.push_back(std::string_view(input).substr(i, 7));
  }
  EXPECT_EQ(feed(p, chunks).ec, error::nesting_too_deep);
}

}  // namespace
