#include <cachet/key_encoding.hpp>

#include <boost/hana/define_struct.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <list>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

// Counts allocations, to check that rendering into a string with capacity does not allocate.
namespace {
std::atomic<std::size_t> allocation_count{0};
}  // namespace

void* operator new(std::size_t size) {
  ++allocation_count;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using cachet::to_key_text;

enum class colour : std::uint8_t { red = 1, green = 200 };
enum legacy { legacy_a = -3 };
enum class letter : char { a = 'a' };

struct point {
  BOOST_HANA_DEFINE_STRUCT(point, (int, x), (int, y));
};

struct shape {
  BOOST_HANA_DEFINE_STRUCT(shape, (std::string, name), (std::vector<point>, corners),
                           (std::optional<colour>, fill));
};

struct with_pointer {
  BOOST_HANA_DEFINE_STRUCT(with_pointer, (int*, p));
};

struct not_adapted {
  int x;
};

struct account {
  long id;
  std::string region;
};

struct user_id {
  long value;
};

struct nothing_to_key {};

struct name_only {
  std::string name;
};

}  // namespace

template <>
struct cachet::key_encoding<account> {
  static void render(cachet::key_writer& out, const account& value) {
    out.field(value.id);
    out.field(value.region);
  }
};

template <>
struct cachet::key_encoding<user_id> {
  static void render(cachet::key_writer& out, const user_id& value) { out.field(value.value); }
};

template <>
struct cachet::key_encoding<nothing_to_key> {
  static void render(cachet::key_writer&, const nothing_to_key&) {}
};

template <>
struct cachet::key_encoding<name_only> {
  static void render(cachet::key_writer& out, const name_only& value) { out.field(value.name); }
};

namespace {

// The documented argument alphabet, spelled out independently of the implementation.
bool only_argument_alphabet(std::string_view text) {
  constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-+%(),~\"";
  return text.find_first_not_of(alphabet) == std::string_view::npos;
}

TEST(key_encoding, integers_are_decimal) {
  EXPECT_EQ(to_key_text(42), "42");
  EXPECT_EQ(to_key_text(-7), "-7");
  EXPECT_EQ(to_key_text(0), "0");
  EXPECT_EQ(to_key_text(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(to_key_text(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
  EXPECT_EQ(to_key_text(static_cast<short>(-3)), "-3");
  // int8_t and uint8_t are numbers, not characters.
  EXPECT_EQ(to_key_text(static_cast<signed char>(-5)), "-5");
  EXPECT_EQ(to_key_text(static_cast<unsigned char>(255)), "255");
}

TEST(key_encoding, bool_is_a_word) {
  EXPECT_EQ(to_key_text(true), "true");
  EXPECT_EQ(to_key_text(false), "false");
}

TEST(key_encoding, enums_are_their_underlying_integer) {
  EXPECT_EQ(to_key_text(colour::green), "200");
  EXPECT_EQ(to_key_text(colour::red), "1");
  EXPECT_EQ(to_key_text(legacy_a), "-3");
  EXPECT_EQ(to_key_text(letter::a), "97");
}

TEST(key_encoding, floating_point_is_shortest_round_trip_text) {
  EXPECT_EQ(to_key_text(0.5), "0.5");
  EXPECT_EQ(to_key_text(0.1), "0.1");
  EXPECT_EQ(to_key_text(0.1f), "0.1");
  EXPECT_EQ(to_key_text(-2.5), "-2.5");
  EXPECT_EQ(to_key_text(1e100), "1e+100");
  EXPECT_EQ(to_key_text(1.5L), "1.5");
  EXPECT_EQ(to_key_text(0.0), "0");
  EXPECT_EQ(to_key_text(-0.0), "-0");
  EXPECT_EQ(to_key_text(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(to_key_text(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(to_key_text(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(to_key_text(-std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(to_key_text(std::numeric_limits<float>::signaling_NaN()), "nan");
}

TEST(key_encoding, floating_point_text_reads_back_as_the_same_value) {
  for (double value :
       {0.1, 1.0 / 3.0, 6.02214076e23, -1.602176634e-19, std::numeric_limits<double>::denorm_min(),
        std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest()}) {
    const std::string text = to_key_text(value);
    double parsed = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), parsed);
    EXPECT_EQ(result.ec, std::errc{}) << text;
    EXPECT_EQ(parsed, value) << text;
    EXPECT_TRUE(only_argument_alphabet(text)) << text;
  }
}

TEST(key_encoding, a_duration_is_its_value_in_nanoseconds_whatever_its_unit) {
  using namespace std::chrono;
  EXPECT_EQ(to_key_text(seconds(120)), "120000000000ns");
  EXPECT_EQ(to_key_text(minutes(2)), to_key_text(seconds(120)));
  EXPECT_EQ(to_key_text(milliseconds(1500)), to_key_text(microseconds(1'500'000)));
  EXPECT_EQ(to_key_text(nanoseconds(-7)), "-7ns");
  EXPECT_EQ(to_key_text(days(0)), "0ns");
  // Past what 64 bits of nanoseconds hold, still exact.
  EXPECT_EQ(to_key_text(hours(std::numeric_limits<std::int64_t>::max())),
            "33204139332677192905200000000000ns");
  EXPECT_EQ(to_key_text(hours(std::numeric_limits<std::int64_t>::min())),
            "-33204139332677192908800000000000ns");
  EXPECT_EQ(to_key_text(duration<double>(1.5)), "1.5e+09ns");
  EXPECT_EQ(to_key_text(duration<double>(std::numeric_limits<double>::quiet_NaN())), "nanns");
  EXPECT_TRUE(only_argument_alphabet(to_key_text(-hours(5))));
  static_assert(cachet::key_encodable<std::vector<seconds>>);
  static_assert(!cachet::key_encodable<duration<std::int64_t, std::pico>>);
}

TEST(key_encoding, strings_escape_every_byte_outside_the_safe_alphabet) {
  EXPECT_EQ(to_key_text(std::string("alice")), "alice");
  EXPECT_EQ(to_key_text(std::string("A-Z_a.z-09")), "A-Z_a.z-09");
  EXPECT_EQ(to_key_text(std::string("a:b")), "a%3Ab");
  EXPECT_EQ(to_key_text(std::string("100%")), "100%25");
  EXPECT_EQ(to_key_text(std::string("bob smith")), "bob%20smith");
  EXPECT_EQ(to_key_text(std::string("\xC3\xA9")), "%C3%A9");
  EXPECT_EQ(to_key_text(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(to_key_text(std::string("+(),~\"{}*")), "%2B%28%29%2C%7E%22%7B%7D%2A");
  EXPECT_EQ(to_key_text(std::string()), "");
}

TEST(key_encoding, every_string_type_renders_alike) {
  const std::string expected = "a%2Fb";
  EXPECT_EQ(to_key_text(std::string("a/b")), expected);
  EXPECT_EQ(to_key_text(std::string_view("a/b")), expected);
  const char* c_string = "a/b";
  EXPECT_EQ(to_key_text(c_string), expected);
  EXPECT_EQ(to_key_text("a/b"), expected);
  const char buffer[8] = "a/b";  // The text ends at the first NUL, as for a C string.
  EXPECT_EQ(to_key_text(buffer), expected);
  const char unterminated[3] = {'a', '/', 'b'};
  EXPECT_EQ(to_key_text(unterminated), expected);
}

TEST(key_encoding, char_is_a_one_byte_string) {
  EXPECT_EQ(to_key_text('x'), "x");
  EXPECT_EQ(to_key_text(':'), "%3A");
  EXPECT_EQ(to_key_text('\0'), "%00");
}

TEST(key_encoding, null_c_string_differs_from_every_string) {
  const char* null = nullptr;
  EXPECT_EQ(to_key_text(null), "~");
  EXPECT_EQ(to_key_text("~"), "%7E");
  EXPECT_EQ(to_key_text(""), "");
}

TEST(key_encoding, each_of_the_256_bytes_renders_distinctly_in_the_argument_alphabet) {
  std::set<std::string> texts;
  for (int byte = 0; byte < 256; ++byte) {
    const std::string text = to_key_text(std::string(1, static_cast<char>(byte)));
    EXPECT_TRUE(only_argument_alphabet(text)) << byte;
    EXPECT_TRUE(text.size() == 1 || text.size() == 3) << byte;
    texts.insert(text);
  }
  EXPECT_EQ(texts.size(), 256u);
}

TEST(key_encoding, optional_empty_differs_from_every_value) {
  EXPECT_EQ(to_key_text(std::optional<int>()), "~");
  EXPECT_EQ(to_key_text(std::optional<int>(5)), "5");
  EXPECT_EQ(to_key_text(std::optional<std::string>()), "~");
  EXPECT_EQ(to_key_text(std::optional<std::string>("~")), "%7E");
  EXPECT_EQ(to_key_text(std::optional<std::string>("")), "");
}

TEST(key_encoding, nested_optionals_stay_distinct) {
  using nested = std::optional<std::optional<int>>;
  EXPECT_EQ(to_key_text(nested()), "~");
  EXPECT_EQ(to_key_text(nested(std::optional<int>())), "(~)");
  EXPECT_EQ(to_key_text(nested(5)), "(5)");
  using deeper = std::optional<nested>;
  EXPECT_EQ(to_key_text(deeper(nested())), "(~)");
  EXPECT_EQ(to_key_text(deeper(nested(std::optional<int>()))), "((~))");
  const char* null = nullptr;
  EXPECT_EQ(to_key_text(std::optional<const char*>(null)), "(~)");
  EXPECT_EQ(to_key_text(std::optional<const char*>()), "~");
}

TEST(key_encoding, ranges_render_as_parenthesised_lists) {
  EXPECT_EQ(to_key_text(std::vector<int>{1, 2, 3}), "(1,2,3)");
  EXPECT_EQ(to_key_text(std::vector<int>{}), "()");
  EXPECT_EQ(to_key_text(std::array<int, 3>{1, 2, 3}), "(1,2,3)");
  EXPECT_EQ(to_key_text(std::list<std::string>{"a", "b c"}), "(a,b%20c)");
  EXPECT_EQ(to_key_text(std::set<int>{3, 1, 2}), "(1,2,3)");
  EXPECT_EQ(to_key_text(std::map<std::string, int>{{"b", 2}, {"a", 1}}), "((a,1),(b,2))");
  EXPECT_EQ(to_key_text(std::vector<bool>{true, false}), "(true,false)");
  const int numbers[] = {4, 5};
  EXPECT_EQ(to_key_text(numbers), "(4,5)");
}

TEST(key_encoding, empty_elements_are_marked_so_counts_stay_distinct) {
  EXPECT_EQ(to_key_text(std::vector<std::string>{}), "()");
  EXPECT_EQ(to_key_text(std::vector<std::string>{""}), "(\"\")");
  EXPECT_EQ(to_key_text(std::vector<std::string>{"", ""}), "(\"\",\"\")");
  EXPECT_EQ(to_key_text(std::vector<std::string>{"\"\""}), "(%22%22)");
  EXPECT_EQ(to_key_text(std::tuple<std::string, int>{"", 1}), "(\"\",1)");
}

TEST(key_encoding, tuples_and_pairs_nest) {
  EXPECT_EQ(to_key_text(std::tuple<>{}), "()");
  EXPECT_EQ(to_key_text(std::tuple<int, std::string, bool>{1, "x", true}), "(1,x,true)");
  EXPECT_EQ(
      to_key_text(std::pair<std::string, std::pair<std::string, std::string>>{"a", {"b", "c"}}),
      "(a,(b,c))");
  EXPECT_EQ(to_key_text(std::vector<std::vector<int>>{}), "()");
  EXPECT_EQ(to_key_text(std::vector<std::vector<int>>{{}}), "(())");
  EXPECT_EQ(to_key_text(std::vector<std::vector<int>>{{}, {}}), "((),())");
  EXPECT_EQ(to_key_text(std::vector<std::optional<std::string>>{std::nullopt, "", "~"}),
            "(~,\"\",%7E)");
}

TEST(key_encoding, hana_structs_render_members_in_declaration_order) {
  EXPECT_EQ(to_key_text(point{3, -4}), "(3,-4)");
  EXPECT_EQ(to_key_text(shape{"tri angle", {{0, 0}, {1, 2}}, colour::red}),
            "(tri%20angle,((0,0),(1,2)),1)");
  EXPECT_EQ(to_key_text(shape{"", {}, std::nullopt}), "(\"\",(),~)");
}

TEST(key_encoding, user_encodings_write_fields_through_the_built_in_encodings) {
  EXPECT_EQ(to_key_text(account{7, "eu west"}), "(7,eu%20west)");
  EXPECT_EQ(to_key_text(account{7, ""}), "(7,\"\")");
  EXPECT_EQ(to_key_text(account{7, "a,b"}), "(7,a%2Cb)");
  // One field renders bare, so a strong id reads like the number it wraps.
  EXPECT_EQ(to_key_text(user_id{42}), "42");
  EXPECT_EQ(to_key_text(nothing_to_key{}), "()");
  EXPECT_EQ(to_key_text(name_only{""}), "\"\"");
  EXPECT_EQ(to_key_text(std::vector<account>{{1, "a"}, {2, "b"}}), "((1,a),(2,b))");
  EXPECT_EQ(to_key_text(std::vector<user_id>{{1}, {2}}), "(1,2)");
  // A user encoding may render "~", so an engaged optional of one is parenthesised.
  EXPECT_EQ(to_key_text(std::optional<user_id>(user_id{1})), "(1)");
  EXPECT_EQ(to_key_text(std::optional<user_id>()), "~");
}

TEST(key_encoding, render_key_argument_appends) {
  std::string out = "prefix:";
  cachet::detail::render_key_argument(out, 42);
  cachet::detail::render_key_argument(out, std::string("a b"));
  EXPECT_EQ(out, "prefix:42a%20b");
}

// Different values of one type never share a text: render a grid of awkward values of a
// composite type and check that the texts are as many as the values.
TEST(key_encoding, different_values_of_a_composite_render_differently) {
  const std::vector<std::optional<std::string>> atoms = {
      std::nullopt, "", "a", ",", "(", ")", "~", "\"", "\"\"", "%", "%2C", "a,b", "()"};
  std::set<std::vector<std::optional<std::string>>> values;
  values.insert({});
  for (const auto& a : atoms) {
    values.insert({a});
    for (const auto& b : atoms) {
      values.insert({a, b});
      for (const auto& c : atoms) values.insert({a, b, c});
    }
  }
  std::set<std::string> texts;
  for (const auto& value : values) {
    const std::string text = to_key_text(value);
    EXPECT_TRUE(only_argument_alphabet(text)) << text;
    texts.insert(text);
  }
  EXPECT_EQ(texts.size(), values.size());
}

TEST(key_encoding, pairs_of_strings_never_share_a_text) {
  const std::vector<std::string> atoms = {"", "a", "b", "a:b", "b:c", ":", ",", "a,b", "(", ")"};
  std::set<std::string> texts;
  std::size_t count = 0;
  for (const auto& a : atoms) {
    for (const auto& b : atoms) {
      texts.insert(to_key_text(std::pair(a, b)));
      ++count;
    }
  }
  EXPECT_EQ(texts.size(), count);
}

TEST(key_encoding, rendering_into_a_string_with_capacity_does_not_allocate) {
  std::string out;
  out.reserve(256);
  const std::string short_text = "alice";
  const std::string needs_escaping = "a:b c";
  const std::tuple<int, std::string_view, std::optional<double>> composite{1, "x", 2.5};
  const point p{1, 2};
  const account a{7, "eu"};
  const std::size_t before = allocation_count.load();
  for (int i = 0; i < 3; ++i) {
    out.clear();
    cachet::detail::render_key_argument(out, 42);
    cachet::detail::render_key_argument(out, -0.1);
    cachet::detail::render_key_argument(out, true);
    cachet::detail::render_key_argument(out, colour::green);
    cachet::detail::render_key_argument(out, short_text);
    cachet::detail::render_key_argument(out, needs_escaping);
    cachet::detail::render_key_argument(out, "literal");
    cachet::detail::render_key_argument(out, composite);
    cachet::detail::render_key_argument(out, p);
    cachet::detail::render_key_argument(out, a);
  }
  EXPECT_EQ(allocation_count.load(), before);
  // The counter does see allocations.
  out.reserve(4096);
  EXPECT_GT(allocation_count.load(), before);
  EXPECT_EQ(out, "42-0.1true200alicea%3Ab%20cliteral(1,x,2.5)(1,2)(7,eu)");
}

TEST(key_encoding, key_encodable_is_true_exactly_for_encodable_types) {
  static_assert(cachet::key_encodable<int>);
  static_assert(cachet::key_encodable<const std::string&>);
  static_assert(cachet::key_encodable<const char*>);
  static_assert(cachet::key_encodable<char[4]>);
  static_assert(cachet::key_encodable<std::vector<std::optional<std::tuple<int, colour>>>>);
  static_assert(cachet::key_encodable<std::map<std::string, std::vector<double>>>);
  static_assert(cachet::key_encodable<shape>);
  static_assert(cachet::key_encodable<account>);
  static_assert(cachet::key_encodable<std::vector<account>>);

  static_assert(!cachet::key_encodable<int*>);
  static_assert(!cachet::key_encodable<char*>);
  static_assert(!cachet::key_encodable<const void*>);
  static_assert(!cachet::key_encodable<std::nullptr_t>);
  static_assert(!cachet::key_encodable<void (*)()>);
  static_assert(!cachet::key_encodable<int point::*>);
  static_assert(!cachet::key_encodable<wchar_t>);
  static_assert(!cachet::key_encodable<std::wstring>);
  static_assert(!cachet::key_encodable<not_adapted>);
  static_assert(!cachet::key_encodable<with_pointer>);
  static_assert(!cachet::key_encodable<std::vector<int*>>);
  static_assert(!cachet::key_encodable<std::optional<not_adapted>>);
  static_assert(!cachet::key_encodable<std::tuple<int, int*>>);
  static_assert(!cachet::key_encodable<std::unordered_set<int>>);
  static_assert(!cachet::key_encodable<std::unordered_map<int, int>>);
  SUCCEED();
}

}  // namespace
