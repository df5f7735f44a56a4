#include <cachet/key.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

template <class Key, class... Args>
std::string render(const Args&... args) {
  std::string out;
  Key::render(out, args...);
  return out;
}

std::string render_default(const auto&... args) {
  std::string out;
  cachet::detail::default_key::render(out, args...);
  return out;
}

TEST(key, automatic_placeholders_take_arguments_in_order) {
  EXPECT_EQ((render<cachet::key<"user:{}">>(42)), "user:42");
  EXPECT_EQ((render<cachet::key<"user:{}">>(std::string("alice"))), "user:alice");
  EXPECT_EQ((render<cachet::key<"{}/{}|{}">>(1, std::string("b"), 2.5)), "1/b|2.5");
}

TEST(key, numbered_placeholders_reorder_and_repeat) {
  EXPECT_EQ((render<cachet::key<"order:{1}/{0}">>(7, std::string("eu"))), "order:eu/7");
  EXPECT_EQ((render<cachet::key<"{0}:{1}:{0}">>(1, 2)), "1:2:1");
  EXPECT_EQ((render<cachet::key<"{2}#{0}#{1}">>(std::string("a"), std::string("b"), 3)), "3#a#b");
}

TEST(key, doubled_braces_are_literal_braces) {
  EXPECT_EQ((render<cachet::key<"{{user}}:{}">>(42)), "{user}:42");
  EXPECT_EQ((render<cachet::key<"x}}{{:{}">>(1)), "x}{:1");
  EXPECT_EQ((render<cachet::key<"{{{}}}">>(5)), "{5}");
  EXPECT_EQ((render<cachet::key<"{0}{{}}{1}">>(1, 2)), "1{}2");
}

TEST(key, template_without_placeholders_for_a_function_without_arguments) {
  EXPECT_EQ(render<cachet::key<"config">>(), "config");
}

TEST(key, arguments_render_with_their_key_encoding) {
  EXPECT_EQ((render<cachet::key<"q:{}:{}">>(std::optional<int>(), std::vector<int>{1, 2})),
            "q:~:(1,2)");
  EXPECT_EQ((render<cachet::key<"q:{}">>("bob smith")), "q:bob%20smith");
}

TEST(key, render_appends) {
  std::string out = "f#";
  cachet::key<"user:{}">::render(out, 1);
  EXPECT_EQ(out, "f#user:1");
}

TEST(key, separated_arguments_cannot_trade_characters) {
  using k = cachet::key<"{}:{}">;
  EXPECT_NE((render<k>(std::string("a:b"), std::string("c"))),
            (render<k>(std::string("a"), std::string("b:c"))));
  EXPECT_EQ((render<k>(std::string("a:b"), std::string("c"))), "a%3Ab:c");
  // Argument characters may sit next to a placeholder when a separator is also there.
  using mixed = cachet::key<"{}-x:y-{}">;
  EXPECT_EQ((render<mixed>(1, 2)), "1-x:y-2");
}

TEST(key, check_accepts_valid_templates_for_any_qualification_of_the_arguments) {
  static_assert(cachet::key<"user:{}">::check<int>());
  static_assert(cachet::key<"user:{}">::check<const std::string&>());
  static_assert(cachet::key<"order:{1}/{0}">::check<int, std::string_view>());
  static_assert(cachet::key<"{0}:{1}:{0}">::check<int, int>());
  static_assert(cachet::key<"config">::check<>());
  static_assert(cachet::key<"{{{}}}">::check<int&&>());
  static_assert(cachet::detail::key_template_valid<"a:{}|{}", cachet::detail::template_use::key,
                                                   int, double>);
  SUCCEED();
}

TEST(key, is_a_key_policy_carrying_its_text) {
  using k = cachet::key<"user:{}">;
  static_assert(cachet::detail::is_policy<k>);
  static_assert(std::is_same_v<k::policy_kind, cachet::detail::key_kind>);
  EXPECT_EQ(k::text, "user:{}");
}

TEST(key, default_key_joins_arguments_with_colons) {
  EXPECT_EQ(render_default(), "");
  EXPECT_EQ(render_default(42), "42");
  EXPECT_EQ(render_default(42, std::string("a:b"), std::optional<int>()), "42:a%3Ab:~");
  EXPECT_NE(render_default(std::string("a:b"), std::string("c")),
            render_default(std::string("a"), std::string("b:c")));
}

// The parser itself, over more shapes than compile-fail tests can afford.
template <cachet::detail::fixed_string S>
constexpr cachet::detail::template_error error_of() {
  return cachet::detail::parsed_key_template<S>.error;
}

TEST(key, parser_classifies_templates) {
  using cachet::detail::template_error;
  static_assert(error_of<"">() == template_error::none);
  static_assert(error_of<"a{}b{}">() == template_error::none);
  static_assert(error_of<"{{}}">() == template_error::none);
  static_assert(error_of<"{12}">() == template_error::none);
  static_assert(error_of<"{">() == template_error::malformed);
  static_assert(error_of<"}">() == template_error::malformed);
  static_assert(error_of<"a{b">() == template_error::malformed);
  static_assert(error_of<"{x}">() == template_error::malformed);
  static_assert(error_of<"{ }">() == template_error::malformed);
  static_assert(error_of<"{:x}">() == template_error::malformed);
  static_assert(error_of<"{-1}">() == template_error::malformed);
  static_assert(error_of<"{1234567}">() == template_error::malformed);
  static_assert(error_of<"{{}">() == template_error::malformed);
  static_assert(error_of<"{}:{0}">() == template_error::mixed_numbering);
  static_assert(error_of<"{0}:{}">() == template_error::mixed_numbering);

  static_assert(cachet::detail::parsed_key_template<"{}:{}">.placeholders_separated());
  static_assert(cachet::detail::parsed_key_template<"{}a/b{}">.placeholders_separated());
  static_assert(cachet::detail::parsed_key_template<"{{{}}}{}">.placeholders_separated());
  static_assert(!cachet::detail::parsed_key_template<"{}{}">.placeholders_separated());
  static_assert(!cachet::detail::parsed_key_template<"{}-{}">.placeholders_separated());
  static_assert(!cachet::detail::parsed_key_template<"{}a(),~%+\"_.{}">.placeholders_separated());
  static_assert(!cachet::detail::parsed_key_template<"x:{}-{}:y">.placeholders_separated());
  static_assert(cachet::detail::parsed_key_template<"{1}:{0}">.argument_bound == 2);
  SUCCEED();
}

// key<S>::parse reads integer arguments back from the text render() gave them: cachet::tiered
// maps an invalidated Redis key to its memory tier's binary key with it.
template <class Key, class... Args>
void expect_parses_back(const Args&... args) {
  const std::string text = render<Key>(args...);
  std::tuple<Args...> read{};
  const bool parsed = std::apply([&](auto&... v) { return Key::parse(text, v...); }, read);
  EXPECT_TRUE(parsed) << text;
  EXPECT_EQ(read, std::tuple<Args...>(args...)) << text;
}

TEST(key, parse_reads_integer_arguments_back) {
  expect_parses_back<cachet::key<"user:{}">>(42);
  expect_parses_back<cachet::key<"user:{}">>(-7L);
  expect_parses_back<cachet::key<"user:{}">>(std::numeric_limits<long long>::min());
  expect_parses_back<cachet::key<"user:{}">>(std::numeric_limits<unsigned long>::max());
  expect_parses_back<cachet::key<"{}">>(static_cast<short>(-300));
  expect_parses_back<cachet::key<"grid:{1}/{0}">>(3, -4L);
  expect_parses_back<cachet::key<"{0}:{1}:{0}">>(1, 2);
  expect_parses_back<cachet::key<"a-{}-x:{}v2">>(-5, 6u);
  expect_parses_back<cachet::key<"{{u}}:{}">>(static_cast<std::uint8_t>(255));
}

TEST(key, parse_refuses_texts_the_template_cannot_give) {
  long id = 0;
  EXPECT_FALSE(cachet::key<"user:{}">::parse("price:42", id));
  EXPECT_FALSE(cachet::key<"user:{}">::parse("user:", id));
  EXPECT_FALSE(cachet::key<"user:{}">::parse("user:4x", id));
  EXPECT_FALSE(cachet::key<"user:{}">::parse("user:42:7", id));
  EXPECT_FALSE(cachet::key<"user:{}">::parse("user:99999999999999999999", id));
  EXPECT_FALSE(cachet::key<"user:{}">::parse("user:%41", id));
  int row = 0;
  int column = 0;
  EXPECT_FALSE((cachet::key<"grid:{1}/{0}">::parse("grid:3/", row, column)));
  EXPECT_FALSE((cachet::key<"grid:{1}/{0}">::parse("grid:3:4", row, column)));
  EXPECT_FALSE((cachet::key<"v{}v2">::parse("v", row)));
  std::uint8_t small = 0;
  EXPECT_FALSE(cachet::key<"{}">::parse("256", small));
  EXPECT_FALSE(cachet::key<"{}">::parse("-1", small));
}

}  // namespace
