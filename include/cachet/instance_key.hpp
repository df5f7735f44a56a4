#ifndef CACHET_INSTANCE_KEY_HPP
#define CACHET_INSTANCE_KEY_HPP

#include <cachet/detail/policy.hpp>
#include <cachet/key_encoding.hpp>

#include <functional>
#include <string>
#include <type_traits>

namespace cachet {
namespace detail {
struct instance_key_kind {};

struct no_instance_key {};
}  // namespace detail

/// Gives each object of a cached member function its own entries, keyed by a projection of the
/// object: a pointer to a data member, to a const member function, or a function taking the
/// object. Without it, the object is left out of the key and all objects share one cache.
///
///     struct Repo { std::string region; User find(int id) const; };
///     cachet::cached<&Repo::find, cachet::instance_key<&Repo::region>> find;
///     find(eu_repo, 42);   // key "eu:42", computed apart from find(us_repo, 42)
///
/// The projection's value, not the object, goes into the key, so nothing refers to the object
/// after the call.
template <auto Projection>
struct instance_key : detail::policy<detail::instance_key_kind> {
  template <class Object>
  static void render(std::string& out, const Object& object) {
    using projected =
        std::remove_cvref_t<std::invoke_result_t<decltype(Projection), const Object&>>;
    static_assert(key_encodable<projected>,
                  "cachet::instance_key: the projection's result has no key encoding; project to "
                  "an id, a string or another encodable value, or specialise "
                  "cachet::key_encoding<T>");
    detail::render_key_argument(out, std::invoke(Projection, object));
  }
};

}  // namespace cachet

#endif
