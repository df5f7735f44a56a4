#ifndef CACHET_DETAIL_OBSERVE_CALL_OBSERVATION_HPP
#define CACHET_DETAIL_OBSERVE_CALL_OBSERVATION_HPP

#include <cachet/observer.hpp>

#include <atomic>
#include <cstdint>
#include <string_view>

namespace cachet::detail {

// What one cached call has seen of its own way through the store, so that it tells its observer
// whether it was a hit: the store reports only the value.
struct call_observation {
  std::string_view key;  // the call's text key, for the events
  bool missed = false;
  bool loaded = false;
  bool answered_after_failure = false;  // by fail_safe or serve_cached
};

// A call of a cached<> without observer<> keeps nothing.
struct no_call_observation {};

// The observer of one cached object, and how many of its store's evictions it has been told of.
template <class T>
struct observer_state {
  T observer{};
  std::atomic<std::uint64_t> evictions_reported{0};
};
template <>
struct observer_state<no_observer::type> {};

}  // namespace cachet::detail

#endif
