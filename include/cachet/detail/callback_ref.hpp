#ifndef CACHET_DETAIL_CALLBACK_REF_HPP
#define CACHET_DETAIL_CALLBACK_REF_HPP

#include <functional>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

namespace cachet::detail {

template <class Signature>
class callback_ref;

// A non-owning reference to a callable, called through one function pointer. cached<> hands the
// store its load and its tag rendering as these, so that the store's lookup is a template on the
// value type alone, compiled once per value type instead of once per cached<> (a lambda is a
// type of its own). Only a miss calls through it: the hit path is unchanged.
// The callable must outlive the reference; a temporary lives until the end of the full
// expression, which is long enough for an argument.
template <class R, class... A>
class callback_ref<R(A...)> {
 public:
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, callback_ref> &&
           std::is_invocable_r_v<R, F&, A...>) callback_ref(F&& f)
  noexcept  // NOLINT: implicit on purpose
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, A... args) -> R {
          return std::invoke(*static_cast<std::remove_reference_t<F>*>(object),
                             std::forward<A>(args)...);
        }) {}

  R operator()(A... args) const { return call_(object_, std::forward<A>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, A...);
};

// What a store calls to learn an entry's tags: it passes each rendered tag to `on_tag`.
using tag_renderer = callback_ref<void(callback_ref<void(std::string_view)>)>;

}  // namespace cachet::detail

#endif
