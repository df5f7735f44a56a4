#ifndef CACHET_OBSERVER_HPP
#define CACHET_OBSERVER_HPP

#include <cachet/detail/policy.hpp>
#include <cachet/event.hpp>

#include <type_traits>

namespace cachet {
namespace detail {
struct observer_kind {};

enum class event_kind {
  hit,
  miss,
  load,
  load_error,
  eviction,
  invalidation,
  stale_served,
  rate_limited,
  circuit_open,
};

// Whether T declares the member for events of kind K: only declared members are called.
template <event_kind K, class T>
inline constexpr bool observes = [] {
  if constexpr (K == event_kind::hit) {
    return requires(T & o, const event& e) { o.on_hit(e); };
  } else if constexpr (K == event_kind::miss) {
    return requires(T & o, const event& e) { o.on_miss(e); };
  } else if constexpr (K == event_kind::load) {
    return requires(T & o, const event& e) { o.on_load(e); };
  } else if constexpr (K == event_kind::load_error) {
    return requires(T & o, const event& e) { o.on_load_error(e); };
  } else if constexpr (K == event_kind::eviction) {
    return requires(T & o, const event& e) { o.on_eviction(e); };
  } else if constexpr (K == event_kind::invalidation) {
    return requires(T & o, const event& e) { o.on_invalidation(e); };
  } else if constexpr (K == event_kind::stale_served) {
    return requires(T & o, const event& e) { o.on_stale_served(e); };
  } else if constexpr (K == event_kind::rate_limited) {
    return requires(T & o, const event& e) { o.on_rate_limited(e); };
  } else {
    return requires(T & o, const event& e) { o.on_circuit_open(e); };
  }
}();

template <class T>
inline constexpr bool observes_any =
    observes<event_kind::hit, T> || observes<event_kind::miss, T> ||
    observes<event_kind::load, T> || observes<event_kind::load_error, T> ||
    observes<event_kind::eviction, T> || observes<event_kind::invalidation, T> ||
    observes<event_kind::stale_served, T> || observes<event_kind::rate_limited, T> ||
    observes<event_kind::circuit_open, T>;

// An observer<T> that check_values accepts; a rejected one is replaced by no_observer, so that
// only the assert that names the rule is reported.
template <class T>
inline constexpr bool usable_observer = std::is_class_v<T>&& observes_any<T>;

template <event_kind K, class T>
void notify(T& o, const event& e) {
  if constexpr (K == event_kind::hit) {
    o.on_hit(e);
  } else if constexpr (K == event_kind::miss) {
    o.on_miss(e);
  } else if constexpr (K == event_kind::load) {
    o.on_load(e);
  } else if constexpr (K == event_kind::load_error) {
    o.on_load_error(e);
  } else if constexpr (K == event_kind::eviction) {
    o.on_eviction(e);
  } else if constexpr (K == event_kind::invalidation) {
    o.on_invalidation(e);
  } else if constexpr (K == event_kind::stale_served) {
    o.on_stale_served(e);
  } else if constexpr (K == event_kind::rate_limited) {
    o.on_rate_limited(e);
  } else {
    o.on_circuit_open(e);
  }
}

// What a cached<> without observer<> holds in its place: nothing, and it observes nothing.
struct no_observer {
  struct type {};
};
}  // namespace detail

/// Calls members of a `T` of your own when things happen to a cached function, synchronously, on
/// the thread where they happen, once per occurrence. Every member is optional; only those `T`
/// declares are called, and a cached<> without observer<> pays nothing for any of them.
///
///     struct hit_counter {
///       std::atomic<int> hits{0};
///       void on_hit(const cachet::event&) { ++hits; }
///     };
///     cachet::cached<&load_user, cachet::ttl<300>, cachet::observer<hit_counter>> get_user;
///     int n = get_user.observer().hits;
///
/// Members, each `void on_X(const cachet::event&)`: on_hit, on_miss (a call found no fresh entry),
/// on_load and on_load_error (the function returned or threw; event::duration says how long it
/// ran), on_eviction (an entry dropped to respect the capacity), on_invalidation (invalidate(),
/// clear(), invalidate_tag() through this object), on_stale_served (cachet::fail_safe answered),
/// on_rate_limited and on_circuit_open (the call threw cachet::rate_limited or
/// cachet::circuit_open). Each cached object default-constructs its own `T`, or takes one given
/// to its constructor after the options, moved or copied in as any argument by value:
///
///     cachet::cached<&load_user, cachet::observer<event_log>> get_user{cachet::options{},
///                                                                      event_log{std::clog}};
///
/// Reach it with `observer()`. Members may be called from several threads at once, so a `T` with
/// state must be thread-safe. A member must not throw: the exception would reach the caller instead
/// of the result.
template <class T>
struct observer : detail::policy<detail::observer_kind> {
  static constexpr void check_values() {
    static_assert(std::is_class_v<T>,
                  "cachet::observer: the observer must be a class type with members such as "
                  "void on_hit(const cachet::event&); declare such a struct and pass it");
    static_assert(!std::is_class_v<T> || detail::observes_any<T>,
                  "cachet::observer: the type declares none of on_hit, on_miss, on_load, "
                  "on_load_error, on_eviction, on_invalidation, on_stale_served, on_rate_limited, "
                  "on_circuit_open taking const cachet::event&; declare at least one");
  }
  using type = T;
};

}  // namespace cachet

#endif
