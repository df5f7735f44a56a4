#ifndef CACHET_DETAIL_OBSERVE_OBSERVED_CACHE_HPP
#define CACHET_DETAIL_OBSERVE_OBSERVED_CACHE_HPP

#include <cachet/circuit_open.hpp>
#include <cachet/detail/observe/registry.hpp>
#include <cachet/event.hpp>
#include <cachet/observer.hpp>
#include <cachet/rate_limited.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

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

  // A coroutine's call renders its key at once: its arguments outlive no frame of the caller.
  void assign_key(std::string key) {
    text = std::move(key);
    rendered = true;
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

// What one cached object tells its observer (if it has one) and the registry of live caches, as
// its calls go: cached<> calls these at a few points of a call, and `if constexpr` leaves nothing
// of what the observer does not declare.
template <class T>
class observed_cache {
  static constexpr bool has_observer = !std::is_same_v<T, no_observer::type>;

 public:
  using call = std::conditional_t<has_observer, call_observation, no_call_observation>;

  // `tags_mean_miss`: the store renders a call's tags only once it has found no fresh entry (the
  // in-memory store); other stores render them for every lookup, so a load marks their misses.
  // `given`: the observer passed to the cached object's constructor, if any.
  template <class... Given>
  observed_cache(std::string_view name, bool tags_mean_miss, const void* owner,
                 registered_cache::stats_function stats_of, Given&&... given)
      : name_(name),
        tags_mean_miss_(tags_mean_miss),
        observer_(std::forward<Given>(given)...),
        metrics_(name, owner, stats_of) {}

  T& observer() noexcept { return observer_; }

  template <event_kind K>
  void notify([[maybe_unused]] std::string_view key,
              [[maybe_unused]] std::chrono::nanoseconds duration = {},
              [[maybe_unused]] std::exception_ptr error = nullptr) {
    if constexpr (observes<K, T>) {
      detail::notify<K>(observer_, event{name_, key, duration, std::move(error)});
    }
  }

  // An event of this call: its key is rendered only for a member the observer declares.
  template <event_kind K>
  void notify([[maybe_unused]] call& seen, [[maybe_unused]] std::chrono::nanoseconds duration = {},
              [[maybe_unused]] std::exception_ptr error = nullptr) {
    if constexpr (observes<K, T>) notify<K>(seen.key(), duration, std::move(error));
  }

  // The store is rendering the call's tags.
  void tags_rendered(call& seen) {
    if (tags_mean_miss_) missed(seen);
  }

  // The function's call, timed for the load-duration histogram and the observer when either can
  // read the time.
  template <class Value, class Load>
  Value timed_load(call& seen, Load&& load) {
    if constexpr (has_observer) {
      missed(seen);
      seen.loaded = true;
    }
    if (!timed()) return std::forward<Load>(load)();
    const auto start = std::chrono::steady_clock::now();
    try {
      Value result = std::forward<Load>(load)();
      const auto took = since(start);
      metrics_.record_load(took);
      notify<event_kind::load>(seen, took);
      return result;
    } catch (const cachet::circuit_open&) {
      throw;  // the breaker refused the call before the function ran: on_circuit_open says so
    } catch (...) {
      notify<event_kind::load_error>(seen, since(start), std::current_exception());
      throw;
    }
  }

  // timed_load for a load that suspends (async() of a coroutine function, or of load stages'
  // coroutine forms): timed until its awaitable completes.
  template <class Awaitable>
  Awaitable timed_async_load(call& seen, Awaitable load) {
    if constexpr (has_observer) {
      missed(seen);
      seen.loaded = true;
    }
    if (!timed()) co_return co_await std::move(load);
    const auto start = std::chrono::steady_clock::now();
    try {
      auto result = co_await std::move(load);
      const auto took = since(start);
      metrics_.record_load(took);
      notify<event_kind::load>(seen, took);
      co_return result;
    } catch (const cachet::circuit_open&) {
      throw;
    } catch (...) {
      notify<event_kind::load_error>(seen, since(start), std::current_exception());
      throw;
    }
  }

  // fail_safe or serve_cached answered the call from the store after it failed.
  void answered_after_failure([[maybe_unused]] call& seen, [[maybe_unused]] bool stale) {
    if constexpr (has_observer) {
      seen.answered_after_failure = true;
      if (stale) notify<event_kind::stale_served>(seen);
    }
  }

  void succeeded([[maybe_unused]] call& seen) {
    if constexpr (observes<event_kind::hit, T>) {
      if (!seen.missed && !seen.loaded && !seen.answered_after_failure) {
        notify<event_kind::hit>(seen);
      }
    }
    if constexpr (observes<event_kind::eviction, T>) {
      if (seen.loaded) report_evictions();
    }
  }

  void refused_by_rate_limit(call& seen, std::exception_ptr failure = std::current_exception()) {
    metrics_.count_rate_limited();
    notify<event_kind::rate_limited>(seen, {}, std::move(failure));
  }

  void refused_by_breaker(call& seen, std::exception_ptr failure = std::current_exception()) {
    metrics_.count_circuit_open();
    notify<event_kind::circuit_open>(seen, {}, std::move(failure));
  }

  // A call of a batch (async_many) that failed: reported as a blocking call's failure is.
  void failed(call& seen, const std::exception_ptr& failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const cachet::rate_limited&) {
      refused_by_rate_limit(seen, failure);
    } catch (const cachet::circuit_open&) {
      refused_by_breaker(seen, failure);
    } catch (...) {
      // the load reported it already (on_load_error)
    }
  }

 private:
  static bool timed() noexcept {
    if constexpr (observes<event_kind::load, T> || observes<event_kind::load_error, T>) {
      return true;
    } else {
      return load_durations_wanted.load(std::memory_order_relaxed);
    }
  }

  static std::chrono::nanoseconds since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                start);
  }

  void missed([[maybe_unused]] call& seen) {
    if constexpr (has_observer) {
      if (seen.missed) return;
      seen.missed = true;
      // The function may move the arguments: the key of its events is rendered before it runs.
      if constexpr (observes<event_kind::load, T> || observes<event_kind::load_error, T> ||
                    observes<event_kind::stale_served, T>) {
        seen.key();
      }
      notify<event_kind::miss>(seen);
    }
  }

  // The store decides which entry goes, under its own lock; its count tells how many went. Each
  // is reported once, by the first call to see it, which is usually the one whose store made
  // room for its result.
  void report_evictions() {
    const std::uint64_t total = metrics_.report().stats.evictions;
    std::uint64_t reported = evictions_reported_.load(std::memory_order_relaxed);
    do {
      if (reported >= total) return;
    } while (
        !evictions_reported_.compare_exchange_weak(reported, total, std::memory_order_relaxed));
    for (; reported < total; ++reported) notify<event_kind::eviction>(std::string_view());
  }

  std::string_view name_;
  bool tags_mean_miss_;
  [[no_unique_address]] T observer_;
  std::atomic<std::uint64_t> evictions_reported_{0};
  registered_cache metrics_;
};

}  // namespace cachet::detail

#endif
