#ifndef CACHET_TAGS_HPP
#define CACHET_TAGS_HPP

#include <cachet/detail/fixed_string.hpp>
#include <cachet/detail/key/template.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/key_encoding.hpp>

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cachet {
namespace detail {

/// The family of cachet::tags.
struct tags_kind {};

// What cached<> uses without a tags<> policy: its entries carry no tag.
struct no_tags {
  static constexpr std::size_t count = 0;
  template <class...>
  static constexpr bool check() {
    return true;
  }
  template <class OnTag, class... Args>
  static void render_all(std::string&, OnTag&&, const Args&...) {}
};

}  // namespace detail

/// Policy: tags attached to each entry, so `invalidate_tag(text)` drops every entry carrying that
/// tag. Each tag is a template like cachet::key's over any subset of the arguments (or none), with
/// the same syntax and checks. A tag's text is what a user would write for simple arguments:
/// `tags<"user:{}">` gives `user:42` for 42 and `user:alice` for "alice"; other values follow the
/// key encoding. cachet::tag gives the text of one tag, for `invalidate_tag`.
/// \code
/// cachet::cached<&load_user, cachet::tags<"users", "user:{}">> get_user;
/// \endcode
template <detail::fixed_string... S>
struct tags : detail::policy<detail::tags_kind> {
  static_assert(sizeof...(S) > 0,
                "cachet::tags: give at least one tag template, e.g. cachet::tags<\"users\">");

  /// How many tag templates there are.
  static constexpr std::size_t count = sizeof...(S);
  /// The templates as written.
  static constexpr std::array<std::string_view, count> texts{S.view()...};

  /// Checks every template against the argument types (cv/ref ignored): fails to compile with a
  /// "cachet::tags: ..." message when one does not fit; otherwise returns true.
  template <class... Args>
  static constexpr bool check() {
    return (detail::check_key_template<S, detail::template_use::tags, Args...>() && ...);
  }

  /// Appends tag `index` of a call with `args` to `out`.
  /// \throws std::out_of_range when index >= count.
  template <class... Args>
  static void render(std::size_t index, std::string& out, const Args&... args) {
    if constexpr (check<Args...>()) {
      using renderer = void (*)(std::string&, const Args&...);
      static constexpr renderer renderers[] = {&detail::render_key_template<S, Args...>...};
      if (index >= count) throw std::out_of_range("cachet::tags::render: tag index out of range");
      renderers[index](out, args...);
    }
  }

  /// Renders each tag in order into `scratch` (cleared before each) and calls
  /// `on_tag(std::string_view)` with it; the view is valid until the next tag is rendered.
  template <class OnTag, class... Args>
  static void render_all(std::string& scratch, OnTag&& on_tag, const Args&... args) {
    if constexpr (check<Args...>()) {
      ((scratch.clear(), detail::render_key_template<S>(scratch, args...),
        on_tag(std::string_view(scratch))),
       ...);
    }
  }
};

/// The text of one tag, from a template written as in cachet::tags and the values of its
/// placeholders (`{}` takes the next value, `{N}` value N), escaped as cachet::tags escapes an
/// argument: what `invalidate_tag` needs, without building the text by hand.
/// \code
/// cachet::cached<&load_doc, cachet::tags<"txt:{}">> get_doc;
/// get_doc.invalidate_tag(cachet::tag<"txt:{}">("a b"));  // "txt:a%20b", as get_doc("a b") tagged
/// \endcode
template <detail::fixed_string S, class... Values>
std::string tag(const Values&... values) {
  std::string text;
  if constexpr (detail::check_key_template<S, detail::template_use::tags, Values...>()) {
    detail::render_key_template<S>(text, values...);
  }
  return text;
}

}  // namespace cachet

#endif
