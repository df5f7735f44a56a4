#ifndef CACHET_DETAIL_CALLABLE_TRAITS_HPP
#define CACHET_DETAIL_CALLABLE_TRAITS_HPP

#include <type_traits>

namespace cachet::detail {

template <class... T>
struct type_list {
  static constexpr std::size_t size = sizeof...(T);
};

// What cached<> needs to know of a callable: its result, its parameters and, for a member
// function, the class whose object comes first.
template <class R, class Object, class... Params>
struct signature {
  using result = R;
  using object = Object;  // void for free functions and function objects
  using params = type_list<Params...>;
  static constexpr bool is_member = !std::is_void_v<Object>;
};

template <class T, class = void>
struct callable_traits {
  static constexpr bool known = false;
  static constexpr bool is_member = false;
};

template <class R, class... P>
struct callable_traits<R (*)(P...)> : signature<R, void, P...> {
  static constexpr bool known = true;
};
template <class R, class... P>
struct callable_traits<R (*)(P...) noexcept> : callable_traits<R (*)(P...)> {};

#define CACHET_DETAIL_MEMBER_TRAITS(QUALIFIERS, OBJECT)                            \
  template <class R, class C, class... P>                                          \
  struct callable_traits<R (C::*)(P...) QUALIFIERS> : signature<R, OBJECT, P...> { \
    static constexpr bool known = true;                                            \
  };                                                                               \
  template <class R, class C, class... P>                                          \
  struct callable_traits<R (C::*)(P...) QUALIFIERS noexcept>                       \
      : callable_traits<R (C::*)(P...) QUALIFIERS> {};
CACHET_DETAIL_MEMBER_TRAITS(, C)
CACHET_DETAIL_MEMBER_TRAITS(const, const C)
CACHET_DETAIL_MEMBER_TRAITS(&, C)
CACHET_DETAIL_MEMBER_TRAITS(const&, const C)
#undef CACHET_DETAIL_MEMBER_TRAITS

// A function object's parameters are those of its call operator; the object itself is not an
// argument, so the signature drops the class.
template <class F>
struct callable_traits<F, std::void_t<decltype(&F::operator())>> {
  using inner = callable_traits<decltype(&F::operator())>;
  static constexpr bool known = inner::known;
  using result = typename inner::result;
  using object = void;
  using params = typename inner::params;
  static constexpr bool is_member = false;
};

}  // namespace cachet::detail

#endif
