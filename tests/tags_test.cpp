#include <cachet/tags.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace {

template <class Tags, class... Args>
std::vector<std::string> render_each(const Args&... args) {
  std::vector<std::string> rendered;
  for (std::size_t i = 0; i < Tags::count; ++i) {
    std::string out;
    Tags::render(i, out, args...);
    rendered.push_back(out);
  }
  return rendered;
}

template <class Tags, class... Args>
std::vector<std::string> render_all(const Args&... args) {
  std::vector<std::string> rendered;
  std::string scratch = "left over";
  Tags::render_all(
      scratch, [&rendered](std::string_view tag) { rendered.emplace_back(tag); }, args...);
  return rendered;
}

using user_tags = cachet::tags<"users", "user:{}", "region:{1}", "pair:{1}/{0}">;

TEST(tags, render_each_tag_by_index) {
  EXPECT_EQ((render_each<user_tags>(42, std::string("eu"))),
            (std::vector<std::string>{"users", "user:42", "region:eu", "pair:eu/42"}));
}

TEST(tags, render_all_calls_back_with_each_tag_in_order) {
  EXPECT_EQ((render_all<user_tags>(42, std::string("eu"))),
            (std::vector<std::string>{"users", "user:42", "region:eu", "pair:eu/42"}));
}

TEST(tags, tag_text_is_what_a_user_would_write_for_simple_arguments) {
  using tag = cachet::tags<"user:{}">;
  EXPECT_EQ(render_each<tag>(42), std::vector<std::string>{"user:42"});
  EXPECT_EQ(render_each<tag>(std::string("alice")), std::vector<std::string>{"user:alice"});
  EXPECT_EQ(render_each<tag>("alice"), std::vector<std::string>{"user:alice"});
  // For other values, to_key_text gives the same text a tag holds.
  const std::string name = "bob smith";
  EXPECT_EQ(render_each<tag>(name), std::vector<std::string>{"user:" + cachet::to_key_text(name)});
}

TEST(tags, literal_braces_and_repeated_arguments) {
  using tag = cachet::tags<"{{shard}}:{0}:{0}">;
  EXPECT_EQ(render_each<tag>(3), std::vector<std::string>{"{shard}:3:3"});
}

TEST(tags, render_appends) {
  std::string out = "prefix|";
  cachet::tags<"user:{}">::render(0, out, 1);
  EXPECT_EQ(out, "prefix|user:1");
}

TEST(tags, render_with_an_index_past_the_end_throws) {
  std::string out;
  EXPECT_THROW(user_tags::render(4, out, 1, 2), std::out_of_range);
  EXPECT_EQ(out, "");
}

TEST(tags, count_and_texts) {
  static_assert(user_tags::count == 4);
  static_assert(cachet::tags<"users">::count == 1);
  EXPECT_EQ(user_tags::texts[0], "users");
  EXPECT_EQ(user_tags::texts[3], "pair:{1}/{0}");
}

TEST(tags, check_accepts_templates_over_any_subset_of_the_arguments) {
  static_assert(cachet::tags<"users">::check<>());
  static_assert(cachet::tags<"users">::check<int, double>());
  static_assert(user_tags::check<int, const std::string&>());
  static_assert(cachet::tags<"a:{1}">::check<int, int>());
  // An argument no tag uses needs no key encoding.
  static_assert(cachet::tags<"user:{1}">::check<int*, int>());
  SUCCEED();
}

TEST(tags, tag_gives_the_text_a_cached_call_tags_its_entry_with) {
  EXPECT_EQ(cachet::tag<"txt:{}">("a b"), "txt:a%20b");
  EXPECT_EQ(cachet::tag<"users">(), "users");
  EXPECT_EQ(cachet::tag<"pair:{1}/{0}">(7, std::string("eu west")), "pair:eu%20west/7");
  EXPECT_EQ(render_each<cachet::tags<"txt:{}">>(std::string("a:b")),
            std::vector<std::string>{cachet::tag<"txt:{}">(std::string("a:b"))});
}

TEST(tags, is_a_tags_policy) {
  static_assert(cachet::detail::is_policy<user_tags>);
  static_assert(std::is_same_v<user_tags::policy_kind, cachet::detail::tags_kind>);
  SUCCEED();
}

}  // namespace
