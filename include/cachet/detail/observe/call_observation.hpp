#ifndef CACHET_DETAIL_OBSERVE_CALL_OBSERVATION_HPP
#define CACHET_DETAIL_OBSERVE_CALL_OBSERVATION_HPP

#include <cachet/observer.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace cachet::detail {

// What one cached call has seen of its own way through the store, so that it tells its observer
// whether it was a hit: the store reports only the value.
struct call_observation {
  // The call's text key, rendered when the first event needs it: a hit whose observer has no
  // on_hit renders nothing, and a miss renders it before the function may move the arguments.
  std::string_view key() {
    if (!rendered) {
      text = render(arguments);
      rendered = true;
    }
    return text;
  }

  std::string (*render)(const void* arguments) = nullptr;
  const void* arguments = nullptr;
  std::string text;
  bool rendered = false;
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
