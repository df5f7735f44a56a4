#ifndef CACHET_DETAIL_WRAPPED_FUNCTION_HPP
#define CACHET_DETAIL_WRAPPED_FUNCTION_HPP

// The function a cached<> wraps: how it is held and called, what it returns, and the rules its
// result and parameters must follow (each rule a static_assert that names the fix).

#include <cachet/detail/callable_traits.hpp>
#include <cachet/detail/function_name.hpp>
#include <cachet/key_encoding.hpp>

#include <functional>
#include <ranges>
#include <string_view>
#include <type_traits>
#include <utility>

namespace cachet::detail {

// The function a cached<&f> wraps: known at compile time, so it takes no storage.
template <auto F>
struct named_function {
  using traits = callable_traits<decltype(F)>;
  // A function object given directly (`cached<[](int x) { ... }>`) has no name that is the same
  // across builds and compilers, as for make_cached.
  static constexpr std::string_view name() {
    if constexpr (std::is_class_v<decltype(F)>) {
      return {};
    } else {
      return function_name<F>();
    }
  }

  template <class... A>
  decltype(auto) operator()(A&&... args) const {
    return std::invoke(F, std::forward<A>(args)...);
  }
};

// A function object that make_cached wraps (a lambda with captures, say), held by value.
template <class F>
struct function_object {
  using traits = callable_traits<F>;
  // A lambda's type has no name that is stable across builds; a remote backend needs a key<>.
  static constexpr std::string_view name() { return {}; }

  template <class... A>
  decltype(auto) operator()(A&&... args) const {
    return std::invoke(fn, std::forward<A>(args)...);
  }

  F fn;
};

template <class Traits, bool = Traits::known>
struct params_of {
  using type = type_list<>;
};
template <class Traits>
struct params_of<Traits, true> {
  using type = typename Traits::params;
};

// Stands in for the object parameter of a free function, so the member-only overloads can be
// declared for every cached<> and disabled by their constraint.
struct no_object {};

template <class Traits, bool = Traits::known&& Traits::is_member>
struct object_of {
  using type = no_object;
};
template <class Traits>
struct object_of<Traits, true> {
  using type = typename Traits::object;
};

// A function that is itself a coroutine (returns boost::asio::awaitable<T>) caches its T. Told
// apart by shape, so that this header needs no Asio.
template <class R>
concept coroutine_result = requires {
  typename R::value_type;
  typename R::executor_type;
};

template <class R>
struct cached_value {
  using type = R;
};
template <coroutine_result R>
struct cached_value<R> {
  using type = typename R::value_type;
};

template <class Traits, bool = Traits::known>
struct declared_result {
  using type = int;  // the first assert below already says what is wrong
};
template <class Traits>
struct declared_result<Traits, true> {
  using type = typename Traits::result;
};

template <class T>
inline constexpr bool is_reference_wrapper = false;
template <class T>
inline constexpr bool is_reference_wrapper<std::reference_wrapper<T>> = true;

// A result that refers to memory it does not own (std::string_view, std::span, const char*): a
// hit would hand out a view into the first caller's value, long gone. Function pointers are not
// views.
template <class R>
inline constexpr bool is_view_result = (std::is_pointer_v<R> &&
                                        !std::is_function_v<std::remove_pointer_t<R>>) ||
                                       std::ranges::view<R> || is_reference_wrapper<R>;

// A result that one of check_function's asserts rejects.
template <class R>
inline constexpr bool is_rejected_result =
    std::is_void_v<R> || std::is_reference_v<R> || is_view_result<typename cached_value<R>::type> ||
    !std::is_copy_constructible_v<typename cached_value<R>::type>;

// A rejected result is replaced by int, so that only the static_assert that names the rule is
// reported, not a cascade of errors from the machinery.
template <class Traits>
struct result_of {
  using result = typename declared_result<Traits>::type;
  using type = std::conditional_t<is_rejected_result<result>, int, result>;
};

// One static_assert per rule, so a bad cached<> reads like a checklist.
template <class Traits, class Result = typename declared_result<Traits>::type>
struct check_function {
  static_assert(Traits::known,
                "cachet::cached: the first argument must be a function, a member function or a "
                "non-generic function object; wrap overloaded or generic callables in a lambda "
                "with explicit parameter types");
  static_assert(!std::is_void_v<Result>,
                "cachet::cached: the function returns void, so there is nothing to cache; cache a "
                "function that returns its result");
  static_assert(!std::is_reference_v<Result>,
                "cachet::cached: the function returns a reference, which the cache could not keep "
                "alive; return the result by value");
  static constexpr bool is_value = !std::is_void_v<Result> && !std::is_reference_v<Result>;
  static_assert(!is_value || !is_view_result<typename cached_value<Result>::type>,
                "cachet::cached: the function returns a view or a pointer (std::string_view, "
                "std::span, const char*), which a hit would return into a value that is gone; "
                "return an owning type such as std::string or std::vector");
  static_assert(!is_value || std::is_copy_constructible_v<typename cached_value<Result>::type>,
                "cachet::cached: the result type must be copy constructible, since every hit "
                "returns a copy of the stored result; return a copyable type, such as "
                "std::shared_ptr<const T> for a move-only T");
  // True either way, so that the caller's assert adds no bare "static assertion failed".
  static constexpr bool value = true;
};

// An out-parameter is filled only when the function runs; a hit would leave it untouched.
template <class Param>
struct require_no_out_parameter {
  static_assert(!std::is_lvalue_reference_v<Param> ||
                    std::is_const_v<std::remove_reference_t<Param>>,
                "cachet::cached: a parameter is a non-const lvalue reference (an out-parameter), "
                "which a hit would leave untouched; return the value instead, and take the "
                "parameter by value or const reference");
  static constexpr bool value = true;  // as check_function's
};

template <class Param>
struct require_encodable_argument {
  using type = std::remove_cvref_t<Param>;
  // Pointers and unordered containers have messages of their own, which say what to pass.
  static constexpr bool has_own_message = encoding_kind_of<type>() == encoding_kind::pointer ||
                                          encoding_kind_of<type>() == encoding_kind::unordered;
  static constexpr bool reported_by_encoding = [] {
    if constexpr (has_own_message) require_key_encoding<type>();
    return has_own_message;
  }();
  static_assert(key_encodable<type> || reported_by_encoding,
                "cachet::cached: an argument type has no key encoding (the type is named in this "
                "instantiation); specialise cachet::key_encoding<T> for it, or adapt the struct "
                "with BOOST_HANA_DEFINE_STRUCT (#include <boost/hana/define_struct.hpp>)");
  static constexpr bool value = true;  // as check_function's
};

}  // namespace cachet::detail

#endif
