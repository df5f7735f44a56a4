#ifndef CACHET_CACHED_HPP
#define CACHET_CACHED_HPP

#include <cachet/backend.hpp>
#include <cachet/capacity.hpp>
#include <cachet/circuit_open.hpp>
#include <cachet/detail/binary_key.hpp>
#include <cachet/detail/callback_ref.hpp>
#include <cachet/detail/key_registry.hpp>
#include <cachet/detail/observe/observed_cache.hpp>
#include <cachet/detail/policy_pack.hpp>
#include <cachet/detail/recovery.hpp>
#include <cachet/detail/redis/store_selection.hpp>
#include <cachet/detail/stages.hpp>
#include <cachet/detail/store_coroutines.hpp>
#include <cachet/detail/store_settings.hpp>
#include <cachet/detail/wrapped_function.hpp>
#include <cachet/early_refresh.hpp>
#include <cachet/fail_safe.hpp>
#include <cachet/instance_key.hpp>
#include <cachet/jitter.hpp>
#include <cachet/key.hpp>
#include <cachet/key_encoding.hpp>
#include <cachet/lease.hpp>
#include <cachet/memory.hpp>
#include <cachet/name.hpp>
#include <cachet/observer.hpp>
#include <cachet/options.hpp>
#include <cachet/rate_limited.hpp>
#include <cachet/stats.hpp>
#include <cachet/tags.hpp>
#include <cachet/ttl.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// cached<F, Policies...>: the anatomy of a call `c(args...)`, in the order it happens. The blocking
// path's members follow it in cached_impl (call, call_keyed, call_with_key, call_through_stages,
// call_function); each facility's rules live in its own header.
//
//  1. Key (render): the arguments' key, in binary for a store that keeps its keys in process
//     (cachet::memory, detail/binary_key.hpp), else the text of the key<> template (key.hpp),
//     after the instance_key<> of a member function's object. Tags (tags.hpp) are rendered on a
//     miss only.
//  2. Call stages (detail/stages.hpp): policies that admit or refuse a call before the lookup,
//     such as rate_limit<>. On the in-memory backend, a rate limit keyed by every argument is
//     checked by the store on the entry it finds (fused_rate_limit).
//  3. Lookup: the store (detail/memory/, detail/redis/) answers with a fresh stored value; a hit
//     ends the call.
//  4. Single flight: on a miss, the first caller of a key loads it; callers of the same key
//     meanwhile wait for its result or its exception. The store keeps the flights.
//  5. Load stages: policies around the function's call, circuit_breaker<> and retry<>.
//  6. Function (call_function; detail/wrapped_function.hpp holds how it is kept and the rules
//     its result and parameters follow).
//  7. Store: the result is kept with its ttl<> and tags, unless an invalidation came during the
//     load, and returned to the caller and its waiters.
//  8. Recovery (call_with_key; detail/recovery.hpp): a failed call (a stage refused it, or the
//     function threw) is answered from the store when a policy allows: a fresh value for a
//     rate-limited call with serve_cached, then a stale one with fail_safe<>; else it throws.
//
// The observer<> (detail/observe/) is told what came of the call. async() and async_many() take
// the same steps inside a coroutine (detail/store_coroutines.hpp, <cachet/async.hpp>).

namespace cachet {
namespace detail {

// The store of a cached<>; with `Fused`, an in-memory store that runs the only call stage's gate
// itself (see fused_rate_limit in cached_impl).
template <bool Fused, class Backend, class Value, std::size_t TagCount, class Codec, class Stages>
struct store_of {
  using type = typename store_for<Backend, Value, TagCount, Codec>::type;
};
template <class Value, std::size_t TagCount, class Stage>
struct store_of<true, memory, Value, TagCount, void, std::tuple<Stage>> {
  using type = memory_store<Value, TagCount, memory, typename Stage::entry_gate>;
};

template <class Function, class Params, class... Policies>
class cached_impl;

// Whether a cached<> checks its rate limit on its store's entries (see fused_rate_limit in
// cached_impl): tests and benchmarks assert it of the configurations they measure, so that a
// change cannot silently send them down the slower path.
template <class Cached>
struct fused_rate_limit_of {
  static constexpr bool value = Cached::fused_rate_limit;
};

template <class Function, class... Params, class... Policies>
class cached_impl<Function, type_list<Params...>, Policies...> {
  using traits = typename Function::traits;
  using pack = policy_pack<Policies...>;
  static_assert(pack::unique && pack::values_checked);
  static_assert(check_function<traits>::value);
  static_assert((require_no_out_parameter<Params>::value && ...));
  static_assert((require_encodable_argument<Params>::value && ...));

  static constexpr bool is_member = traits::known && traits::is_member;
  static constexpr bool has_instance_key = pack::template has<instance_key_kind>;
  using object_param = typename object_of<traits>::type;

  using key_policy = typename pack::template find<key_kind, default_key>;
  using tags_policy = typename pack::template find<tags_kind, no_tags>;
  using instance_key_policy = typename pack::template find<instance_key_kind, no_instance_key>;
  using ttl_policy = typename pack::template find<ttl_kind, cachet::ttl<0>>;
  using capacity_policy = typename pack::template find<capacity_kind, no_capacity>;
  using fail_safe_policy = typename pack::template find<fail_safe_kind, no_fail_safe>;
  using lease_policy = typename pack::template find<lease_kind, no_lease>;
  static constexpr bool has_fail_safe = pack::template has<fail_safe_kind>;
  using declared_observer = typename pack::template find<observer_kind, no_observer>::type;
  static constexpr bool has_observer = usable_observer<declared_observer>;
  using observer_type = std::conditional_t<has_observer, declared_observer, no_observer::type>;
  using call_observation_type = typename observed_cache<observer_type>::call;
  static_assert(!has_fail_safe || ttl_policy::value.count() > 0,
                "cachet::fail_safe: a result without a ttl never goes stale, so there is nothing "
                "for fail_safe to serve; give a ttl, e.g. cachet::ttl<30>");
  using jitter_policy = typename pack::template find<jitter_kind, no_jitter>;
  static_assert(!pack::template has<jitter_kind> || ttl_policy::value.count() > 0,
                "cachet::jitter: a result without a ttl never expires, so there is no expiry to "
                "spread; give a ttl, e.g. cachet::ttl<300>");
  using early_refresh_policy = typename pack::template find<early_refresh_kind, no_early_refresh>;
  static constexpr bool has_early_refresh = pack::template has<early_refresh_kind>;
  static_assert(!has_early_refresh || ttl_policy::value.count() > 0,
                "cachet::early_refresh: a result without a ttl never expires, so there is nothing "
                "to refresh early; give a ttl, e.g. cachet::ttl<300>");
  static_assert(!has_early_refresh || !is_member,
                "cachet::early_refresh: a member function's object is not kept after a call, so a "
                "background refresh would have nothing to call it on; cache a free function or a "
                "function object, or leave the policy out");
  static constexpr bool serves_cached = (serves_cached_when_limited<Policies> || ...);
  static_assert(reported(key_policy::template check<std::remove_cvref_t<Params>...>()));
  static_assert(reported(tags_policy::template check<std::remove_cvref_t<Params>...>()));
  static_assert(!pack::template has<instance_key_kind> || is_member,
                "cachet::instance_key: only a member function's cache can be keyed by its object; "
                "remove the policy, or cache a member function");

 public:
  /// The result type of the wrapped function, returned by value from every call.
  using value_type = typename cached_value<typename result_of<traits>::type>::type;
  using backend_type = typename pack::template find<backend_kind, cachet::backend<memory>>::type;

 private:
  static constexpr std::size_t tag_count = tags_policy::count;
  using codec_policy = typename pack::template find<codec_kind, no_codec>;
  using call_stage_types = typename stages_for<call_stage_of, value_type, Policies...>::stage_types;
  // A rate_limit keyed by every argument, the only call stage, on the in-memory backend: its
  // state per key is the cache's per key, so the store keeps it in the entries and a hit checks
  // it on the entry it has found, without a lookup in a limiter of its own (see
  // detail/memory/store.hpp). The store's keys are the arguments alone, without an instance key.
  static constexpr bool fused_rate_limit =
      std::is_same_v<backend_type, memory> && !has_instance_key && !has_early_refresh &&
      std::is_void_v<typename codec_policy::type> &&
      fuses_into_entries<call_stage_types, std::remove_cvref_t<Params>...>;
  using store_type = typename store_of<fused_rate_limit, backend_type, value_type, tag_count,
                                       typename codec_policy::type, call_stage_types>::type;
  template <class Cached>
  friend struct fused_rate_limit_of;
  static constexpr bool coroutine_function = coroutine_result<typename result_of<traits>::type>;
  static_assert(
      !requires { requires backend_type::needs_stable_keys; } || !Function::name().empty() ||
          pack::template has<key_kind>,
      "cachet::backend: this backend shares entries between processes, and a function "
      "object has no name that is stable across builds; give it a key template, e.g. "
      "cachet::key<\"price:{}\">");
  static_assert(
      !pack::template has<capacity_kind> ||
          !requires { requires !backend_type::bounds_entries_per_function; },
      "cachet::capacity: this backend (cachet::redis) cannot bound one function's entries, so "
      "the policy would be ignored; remove it, and bound Redis's memory with maxmemory and "
      "maxmemory-policy allkeys-lru");
  // A blocking call runs a coroutine function's awaitable to completion on the backend's own
  // executor; the in-memory backend has none, so there it is only awaited (async()).
  static constexpr bool runs_coroutines_blocking = requires {
    requires backend_type::serializes_values;
  };
  // cachet::tiered keys its memory tier by the arguments' bytes when the key text an
  // invalidation names can be read back into them: integer arguments under a key<> template.
  static constexpr bool key_text_reversible = !has_instance_key && pack::template has<key_kind> &&
                                              sizeof...(Params) > 0 &&
                                              (integer_key_argument<Params> && ...);
  static constexpr bool translates_keys = key_text_reversible && requires {
    requires store_type::binary_keys_when_reversible;
  };
  static constexpr bool binary_keys = translates_keys || requires {
    requires store_type::binary_keys;
  };

 public:
  /// Uses the backend's process-wide instance and the policies' values.
  cached_impl() : cached_impl(backend_type::shared(), options{}) {}
  /// Overrides the policies' values (ttl, capacity) with those set in `opts`.
  explicit cached_impl(const options& opts) : cached_impl(backend_type::shared(), opts) {}
  /// Stores results in `backend`, which must outlive this object.
  explicit cached_impl(backend_type& backend) : cached_impl(backend, options{}) {}
  cached_impl(backend_type& backend,
              const options& opts) requires std::is_default_constructible_v<Function>
      : cached_impl(Function{}, backend, opts) {}

  /// With an observer<T> policy: calls `observer` instead of a default-constructed T; it is
  /// moved or copied in, as any argument taken by value (see cachet::observer).
  cached_impl(const options& opts, observer_type observer) requires has_observer
      && std::is_default_constructible_v<Function>
      : cached_impl(Function{}, backend_type::shared(), opts, std::move(observer)) {}
  cached_impl(backend_type& backend, const options& opts,
              observer_type observer) requires has_observer
      && std::is_default_constructible_v<Function>
      : cached_impl(Function{}, backend, opts, std::move(observer)) {}

  /// \throws cachet::error when `opts` holds a negative duration, or when another function on
  /// `backend` has the same key template.
  cached_impl(Function fn, backend_type& backend, const options& opts)
      : cached_impl(std::move(fn), backend, opts, no_observer_given{}) {}

 private:
  // The constructor was given no observer: the observer<T> policy's T is default-constructed.
  struct no_observer_given {};

  template <class Given>
  cached_impl(Function fn, backend_type& backend, const options& opts, Given&& observer)
      : fn_(std::move(fn)),
        backend_(&backend),
        key_owner_(own_key_template(backend)),
        store_(backend,
               store_settings{.name = Function::name(),
                              .ttl = effective_ttl(opts),
                              .capacity = opts.capacity.value_or(capacity_policy::value),
                              .has_key_template = pack::template has<key_kind>,
                              .key_template = key_template_of<key_policy>,
                              .clock = opts.clock,
                              .max_stale = effective_max_stale(opts),
                              .lease = lease_policy::value,
                              .jitter_percent = jitter_policy::percent,
                              .refresh_percent = early_refresh_policy::percent,
                              .key_text_of = key_translation<translates_keys>::to_text,
                              .binary_key_of = key_translation<translates_keys>::to_binary}),
        call_stages_(stage_context<backend_type>{opts, backend, Function::name(),
                                                 key_template_of<key_policy>}),
        load_stages_(stage_context<backend_type>{opts, backend, Function::name(),
                                                 key_template_of<key_policy>}),
        observed_(make_observed(std::forward<Given>(observer))) {
    require_valid(opts);
  }

  template <class Given>
  observed_cache<observer_type> make_observed(Given&& observer) {
    auto stats_of = [](const void* self) {
      return static_cast<const cached_impl*>(self)->store_.stats();
    };
    if constexpr (std::is_same_v<std::remove_cvref_t<Given>, no_observer_given>) {
      static_assert(std::is_default_constructible_v<observer_type>,
                    "cachet::observer: the observer type has no default constructor, so the "
                    "cached object cannot make one; pass one after the options, e.g. "
                    "c{cachet::options{}, my_observer{...}}");
      return {name(), std::is_same_v<backend_type, memory>, this, stats_of};
    } else {
      return {name(), std::is_same_v<backend_type, memory>, this, stats_of,
              std::forward<Given>(observer)};
    }
  }

 public:
  cached_impl(const cached_impl&) = delete;
  cached_impl& operator=(const cached_impl&) = delete;

  /// Returns the stored result for these arguments, or calls the function and stores its result.
  /// Concurrent calls with the same arguments call the function once; an exception it throws
  /// reaches every one of them and is not stored.
  value_type operator()(Params... args) requires(!is_member) { return call(nullptr, args...); }
  value_type operator()(object_param& object, Params... args) requires is_member {
    return call(&object, args...);
  }

  /// The same as a call, as a coroutine on the backend's executor (backends with an async store,
  /// such as cachet::redis): `User u = co_await get_user.async(42);`. The arguments are copied
  /// into the coroutine, so it may outlive them. rate_limit and circuit_breaker apply as to a
  /// call, and throw from the co_await (a limit kept in Redis is checked without blocking);
  /// so does retry, whose backoff waits on a timer of the coroutine's executor. For a function
  /// that is itself a coroutine, circuit_breaker and retry wrap the awaited call (so do they in
  /// the blocking call), and each retry awaits a new call of the function.
  ///
  /// On cachet::memory, `#include <cachet/async.hpp>` (it needs Boost.Asio) for the same calls;
  /// see there for how they run.
  template <class S = store_type>
  requires(!is_member) auto async(Params... args) {
    static_assert(require_stages_that_run_in_coroutines < call_stages::run_in_coroutines &&
                      (load_stages::run_in_coroutines || load_stages::have_async_forms),
                  S > ::value);
    return observed_async<S>(nullptr, std::remove_cvref_t<Params>(args)...);
  }
  /// For a member function: the object must outlive the returned coroutine.
  template <class S = store_type>
  requires is_member auto async(object_param& object, Params... args) {
    static_assert(require_stages_that_run_in_coroutines < call_stages::run_in_coroutines &&
                      (load_stages::run_in_coroutines || load_stages::have_async_forms),
                  S > ::value);
    return observed_async<S>(&object, std::remove_cvref_t<Params>(args)...);
  }

  /// Many calls at once: the stored results are fetched in one round trip and only the misses
  /// are computed. Results come in the order of `args`, any range of values that convert to the
  /// argument type; for a function of several parameters, a range of std::tuple of them.
  ///
  ///     std::vector<User> us = co_await get_user.async_many(std::vector{1, 2, 3});
  ///     std::vector<double> ps = co_await price.async_many(
  ///         std::vector{std::tuple{"ACME"s, 2}, std::tuple{"INIT"s, 1}});
  ///
  /// Each argument is one call for the policies. rate_limit checks every argument, in order,
  /// before the one lookup; an argument over the limit is neither looked up nor computed (with
  /// serve_cached it is looked up in the same round trip, and a fresh value answers it). Each
  /// miss's function call goes through circuit_breaker and retry as a call's does, one after the
  /// other. Every argument is settled: the results computed are stored even when another argument
  /// failed, and fail_safe answers a failed one (limited, circuit_open, or the function's
  /// exception) with its stale value, one more lookup for each. If an argument is still
  /// unanswered, the batch throws its failure (the first in argument order); calling again then
  /// finds the others stored. As a limit counts hits too, a batch with more arguments than the
  /// limit admits succeeds only with serve_cached (once the admitted ones are stored) or
  /// fail_safe.
  template <std::ranges::input_range Range, class S = store_type,
            class Arg = typename batch_argument<Params...>::type>
  requires(!is_member) && (sizeof...(Params) > 0) &&
      std::convertible_to<std::ranges::range_reference_t<Range>, Arg> auto async_many(
          Range&& range) {
    static_assert(require_stages_that_run_in_coroutines < call_stages::run_in_coroutines &&
                      (load_stages::run_in_coroutines || load_stages::have_async_forms),
                  S > ::value);
    std::vector<Arg> args;
    for (auto&& a : range) args.emplace_back(static_cast<Arg>(a));
    std::vector<std::string> keys;
    keys.reserve(args.size());
    for (const Arg& a : args) {
      keys.emplace_back(spread(a, [](const auto&... p) { return render(nullptr, p...); }));
    }
    if constexpr (call_stages::empty && load_stages::empty && !has_fail_safe) {
      return observed_async_many<S>(std::move(keys), std::move(args));
    } else {
      return async_many_through_stages<S>(std::move(keys), std::move(args));
    }
  }

  /// The stored result for these arguments if it is fresh; never calls the function.
  std::optional<value_type> peek(const std::remove_cvref_t<Params>&... args) requires(
      !is_member || !has_instance_key) {
    return store_.peek(render(nullptr, args...));
  }
  std::optional<value_type> peek(const object_param& object,
                                 const std::remove_cvref_t<Params>&... args) requires is_member {
    return store_.peek(render(&object, args...));
  }

  /// Drops the entry for these arguments; a computation of it already under way is not stored.
  void invalidate(const std::remove_cvref_t<Params>&... args) requires(!is_member ||
                                                                       !has_instance_key) {
    erasures_.fetch_add(1, std::memory_order_acq_rel);
    store_.erase(render(nullptr, args...));
    if constexpr (observes<event_kind::invalidation, observer_type>) {
      observed_.template notify<event_kind::invalidation>(text_key(nullptr, args...));
    }
  }
  void invalidate(const object_param& object,
                  const std::remove_cvref_t<Params>&... args) requires is_member {
    erasures_.fetch_add(1, std::memory_order_acq_rel);
    store_.erase(render(&object, args...));
    if constexpr (observes<event_kind::invalidation, observer_type>) {
      observed_.template notify<event_kind::invalidation>(text_key(&object, args...));
    }
  }

  /// Drops every entry of this function.
  void clear() {
    erasures_.fetch_add(1, std::memory_order_acq_rel);
    store_.clear();
    observed_.template notify<event_kind::invalidation>(std::string_view());
  }

  /// Makes every entry tagged `tag` stale, of every cached function on the same backend.
  void invalidate_tag(std::string_view tag) {
    backend_->invalidate_tag(tag);
    observed_.template notify<event_kind::invalidation>(tag);
  }

  /// Write-through after an update: stores `value` as the result for these arguments, with the
  /// tags and ttl a call would give it. A computation already under way (in this process or, on
  /// Redis, in another) is not stored over it. On cachet::memory the entry is replaced in place;
  /// on Redis and tiered it is invalidated first, as invalidate() does (on tiered, every
  /// replica's memory tier drops it), then written through the store's miss path, so if a
  /// computation that began after that invalidation stores first, that (as new) value is kept
  /// and `value` is not written. Counted by the store as a miss and a load (stats()); not
  /// reported to the observer as a call. On Redis, throws as invalidate() does when Redis fails.
  void put(const std::remove_cvref_t<Params>&... args,
           const value_type& value) requires(!is_member || !has_instance_key) {
    write_through(nullptr, value, args...);
  }
  void put(const object_param& object, const std::remove_cvref_t<Params>&... args,
           const value_type& value) requires is_member {
    write_through(&object, value, args...);
  }

  /// Recomputes the result for these arguments now, even when a fresh one is stored, stores it
  /// and returns it; computed as on a miss (through circuit_breaker and retry, not rate_limit),
  /// so an invalidation during the computation keeps its result out of the store, and a
  /// computation already under way is not stored over it. Meanwhile, on cachet::memory, callers
  /// get the old value (if the function throws, refresh throws and the old value stays); on
  /// Redis and tiered the entry is invalidated first, so callers in this process wait for the
  /// new value (or get the function's exception, nothing being stored), other processes compute
  /// it themselves. Not reported to the observer as a call.
  value_type refresh(Params... args) requires(!is_member) &&
      (!coroutine_function || runs_coroutines_blocking) {
    return recompute(nullptr, args...);
  }
  value_type refresh(object_param& object, Params... args) requires is_member &&
      (!coroutine_function || runs_coroutines_blocking) {
    return recompute(&object, args...);
  }

  /// Makes sure a result is stored for each argument of `range` (values that convert to the
  /// argument; std::tuple of them for several parameters, as async_many takes), computing only
  /// those not stored. Returns how many were computed by this call: an argument stored already,
  /// or computed meanwhile by another caller it waited for, is not counted. Bounded concurrency:
  /// one argument at a time, on the calling thread (warm parts of a range from several threads
  /// for more). The first exception of the function stops warm and is thrown; the results
  /// computed before it stay stored. Hits and misses count in stats(), not as observer calls.
  template <std::ranges::input_range Range, class Arg = typename batch_argument<Params...>::type>
  requires(!is_member) &&
      (sizeof...(Params) > 0) && std::convertible_to<std::ranges::range_reference_t<Range>, Arg> &&
      (!coroutine_function || runs_coroutines_blocking) std::size_t warm(Range&& range) {
    return warm_all(nullptr, range);
  }
  template <std::ranges::input_range Range, class Arg = typename batch_argument<Params...>::type>
  requires is_member &&(sizeof...(Params) > 0) &&
      std::convertible_to<std::ranges::range_reference_t<Range>, Arg> &&
      (!coroutine_function || runs_coroutines_blocking) std::size_t
      warm(object_param& object, Range&& range) {
    return warm_all(&object, range);
  }

 private:
  // put, refresh and warm write through the store's miss path (its single flight, and on Redis
  // its write permit), so each keeps the guarantee a call keeps: a result is not stored over an
  // invalidation that came after its computation began.
  template <class Load, class... A>
  value_type store_through_miss(std::string_view key, Load&& load, const A&... args) {
    auto for_each_tag = [&](auto&& on_tag) {
      std::string scratch;
      tags_policy::render_all(scratch, on_tag, args...);
    };
    if constexpr (coroutine_function) {
      return store_.get_or_load(key, for_each_tag, load);
    } else {
      tag_renderer tags_ref(for_each_tag);
      callback_ref<value_type(std::string_view)> load_ref(load);
      if constexpr (fused_rate_limit) {
        // This store's gate admits calls, and warm's lookups are not calls: a fresh entry is
        // kept, else the value is computed in place (replace), past the gate.
        if (std::optional<value_type> fresh = store_.peek(key)) return std::move(*fresh);
        return store_.replace(key, tags_ref, load_ref);
      } else {
        return store_.get_or_load(key, tags_ref, load_ref);
      }
    }
  }

  // The function's call on a miss, through the load stages, as in call_through_stages.
  template <class... A>
  auto function_load(object_param* object, A&... args) {
    return [this, object, &args...](std::string_view stable_key) -> decltype(auto) {
      if constexpr (coroutine_function && !load_stages::empty) {
        return load_in_coroutine<typename result_of<traits>::type>(stable_key, object, args...);
      } else if constexpr (coroutine_function) {
        return call_function(object, args...);
      } else {
        return load_stages_.run(
            stable_key, [&]() -> decltype(auto) { return call_function(object, args...); },
            args...);
      }
    };
  }

  // Replaces the entry for `key` with what load(stable_key) returns. An in-process store
  // (replaces_in_place) does it in place, without dropping the entry first; another store's entry
  // is erased first, so that loads under way elsewhere cannot store over it. Either way a load of
  // this process already under way is not stored (erasures_ dooms those of coroutines).
  template <class Load, class... A>
  value_type replace(std::string_view key, Load&& load, const A&... args) {
    erasures_.fetch_add(1, std::memory_order_acq_rel);
    if constexpr (requires { requires store_type::replaces_in_place; }) {
      auto for_each_tag = [&](auto&& on_tag) {
        std::string scratch;
        tags_policy::render_all(scratch, on_tag, args...);
      };
      return store_.replace(key, for_each_tag, load);
    } else {
      store_.erase(key);
      return store_through_miss(key, load, args...);
    }
  }

  // The key is kept: the thread's render buffer may be reused by the function's own calls.
  void write_through(const object_param* object, const value_type& value,
                     const std::remove_cvref_t<Params>&... args) {
    const std::string key(render(object, args...));
    replace(
        key, [&](std::string_view) -> value_type { return value; }, args...);
  }

  template <class... A>
  value_type recompute(object_param* object, A&... args) {
    const std::string key(render(object, args...));
    return replace(key, function_load(object, args...), args...);
  }

  template <class Range>
  std::size_t warm_all(object_param* object, Range& range) {
    using Arg = typename batch_argument<Params...>::type;
    std::size_t computed = 0;
    for (auto&& a : range) {
      Arg argument(static_cast<Arg>(a));
      spread(argument, [&](auto&... p) {
        const std::string key(render(object, p...));
        bool ran = false;
        auto load = function_load(object, p...);
        store_through_miss(
            key,
            [&](std::string_view stable_key) -> decltype(auto) {
              ran = true;
              return load(stable_key);
            },
            p...);
        if (ran) ++computed;
      });
    }
    return computed;
  }

 public:
  cachet::stats stats() const { return store_.stats(); }

  /// This object's observer (see cachet::observer); only with an observer<> policy.
  template <class O = observer_type>
  requires has_observer O& observer() noexcept { return observed_.observer(); }

  /// The name events and metrics give this cache: its name<> policy, else its key template, else
  /// its function's name, else "anonymous" (a function object without key<>).
  static constexpr std::string_view name() noexcept {
    if constexpr (pack::template has<name_kind>) {
      return pack::template find<name_kind, void>::value;
    } else if constexpr (!key_template_of<key_policy>.empty()) {
      return key_template_of<key_policy>;
    } else if constexpr (!Function::name().empty()) {
      return Function::name();
    } else {
      return "anonymous";
    }
  }

  backend_type& backend() const noexcept { return *backend_; }

  /// The text key of these arguments, for diagnostics and logs: the key template's output, or
  /// without one the function's name and the arguments (`load_user:42`). The Redis backend stores
  /// it under its prefix; the in-memory store uses a binary form of the same arguments.
  std::string key(const std::remove_cvref_t<Params>&... args) const
      requires(!is_member || !has_instance_key) {
    return text_key(nullptr, args...);
  }

 private:
  using call_stages = stages_for<call_stage_of, value_type, Policies...>;
  using load_stages = stages_for<load_stage_of, value_type, Policies...>;
  static_assert(!coroutine_function || load_stages::empty || load_stages::have_async_forms,
                "cachet::cached: a policy's load stage has no coroutine form, so it cannot wrap a "
                "function that is itself a coroutine (returns boost::asio::awaitable); give the "
                "stage `has_async_form` and async() (see cachet/detail/stages.hpp), or drop the "
                "policy");

  // Two different functions with one key template would answer with each other's results.
  static key_registry::registration own_key_template(backend_type& backend) {
    if constexpr (pack::template has<key_kind>) {
      return backend.key_templates().enter(key_template_of<key_policy>, identity_of<Function>());
    } else {
      return {};
    }
  }

  // A ttl longer than max_ttl (`milliseconds::max()`, "forever") would overflow the store's
  // nanosecond expiry times: it never expires, as a ttl of 0.
  static std::chrono::nanoseconds effective_ttl(const options& opts) {
    if (opts.ttl && *opts.ttl > max_ttl) return std::chrono::nanoseconds(0);
    return opts.ttl ? std::chrono::nanoseconds(*opts.ttl)
                    : std::chrono::nanoseconds(ttl_policy::value);
  }

  // As with the ttl, a longer time than max_ttl is kept as max_ttl.
  static std::chrono::nanoseconds effective_max_stale(const options& opts) {
    if constexpr (!has_fail_safe) return std::chrono::nanoseconds(0);
    return opts.fail_safe_max_stale ? std::chrono::nanoseconds(std::min<std::chrono::milliseconds>(
                                          *opts.fail_safe_max_stale, max_ttl))
                                    : std::chrono::nanoseconds(fail_safe_policy::max_stale);
  }

  static std::vector<std::string> render_tags(const std::remove_cvref_t<Params>&... args) {
    std::vector<std::string> tags;
    tags.reserve(tag_count);
    std::string scratch;
    tags_policy::render_all(
        scratch, [&](std::string_view tag) { tags.emplace_back(tag); }, args...);
    return tags;
  }

  static std::string text_key(const object_param* object,
                              const std::remove_cvref_t<Params>&... args) {
    std::string out;
    if constexpr (!pack::template has<key_kind>) {
      if (!Function::name().empty()) {
        out += Function::name();
        out += ':';
      }
    }
    render_into(out, object, args...);
    return out;
  }

  static void render_into(std::string& out, const object_param* object,
                          const std::remove_cvref_t<Params>&... args) {
    if constexpr (has_instance_key) {
      instance_key_policy::render(out, *object);
      out += ':';
    }
    key_policy::render(out, args...);
  }

  // Keys of hits are rendered into one buffer per thread, so a hit allocates nothing once the
  // buffer has grown to the longest key. The view is only valid until the function runs: the
  // store copies the key before it calls the function. A store that keeps its keys to itself
  // (in process) takes a binary key, cheaper to build than the text.
  static std::string_view render(const object_param* object,
                                 const std::remove_cvref_t<Params>&... args) {
    thread_local std::string buffer;
    buffer.clear();
    if constexpr (binary_keys) {
      if constexpr (has_instance_key) {
        append_length_prefixed_by(
            buffer, [&](std::string& out) { instance_key_policy::render(out, *object); });
      }
      (append_binary_key(buffer, args), ...);
    } else {
      render_into(buffer, object, args...);
    }
    return buffer;
  }

  // A two-tier store's translation between the binary keys it is given and the text keys Redis
  // knows (see translates_keys).
  template <bool Translates, class = void>
  struct key_translation {
    static constexpr void (*to_text)(std::string_view, std::string&) = nullptr;
    static constexpr bool (*to_binary)(std::string_view, std::string&) = nullptr;
  };
  template <class Unused>
  struct key_translation<true, Unused> {
    using arguments = std::tuple<std::remove_cvref_t<Params>...>;
    static void to_text(std::string_view binary, std::string& text) {
      arguments values;
      const char* in = binary.data();
      std::apply([&](auto&... v) { ((std::memcpy(&v, in, sizeof v), in += sizeof v), ...); },
                 values);
      std::apply([&](const auto&... v) { key_policy::render(text, v...); }, values);
    }
    static bool to_binary(std::string_view text, std::string& binary) {
      arguments values{};
      if (!std::apply([&](auto&... v) { return key_policy::parse(text, v...); }, values)) {
        return false;
      }
      std::string again;
      std::apply([&](const auto&... v) { key_policy::render(again, v...); }, values);
      if (again != text) return false;
      binary.clear();
      std::apply([&](const auto&... v) { (append_binary_key(binary, v), ...); }, values);
      return true;
    }
  };

  // Arguments that are all numbers have a binary key of a size known here, built on the stack:
  // the same bytes render() gives, without the thread's buffer.
  static constexpr bool fixed_size_key =
      binary_keys && !has_instance_key && (fixed_size_key_argument<Params> && ...);

  value_type call(object_param* object, Params&... args) {
    static_assert(!coroutine_function || runs_coroutines_blocking,
                  "cachet::cached: a function that returns boost::asio::awaitable is awaited on "
                  "this backend, not called blocking; write co_await c.async(...) (#include "
                  "<cachet/async.hpp>), or use a backend that runs coroutines, such as "
                  "cachet::backend<cachet::redis>");
    call_observation_type seen;
    if constexpr (has_observer) {
      auto render_text = [&] { return text_key(object, args...); };
      seen.render = [](const void* render) {
        return (*static_cast<const decltype(render_text)*>(render))();
      };
      seen.arguments = &render_text;
      return counted(seen, object, args...);
    } else if constexpr (call_stages::empty && load_stages::empty) {
      return call_keyed(seen, object, args...);  // nothing to observe or count on the way out
    } else {
      return counted(seen, object, args...);
    }
  }

  // rate_limited and circuit_open are counted as they leave the call: its stages throw them.
  value_type counted(call_observation_type& seen, object_param* object, Params&... args) {
    if constexpr (call_stages::empty && load_stages::empty) {
      value_type result = call_keyed(seen, object, args...);
      observed_.succeeded(seen);
      return result;
    } else {
      try {
        value_type result = call_keyed(seen, object, args...);
        observed_.succeeded(seen);
        return result;
      } catch (const rate_limited&) {
        observed_.refused_by_rate_limit(seen);
        throw;
      } catch (const circuit_open&) {
        observed_.refused_by_breaker(seen);
        throw;
      }
    }
  }

  value_type call_keyed(call_observation_type& seen, object_param* object, Params&... args) {
    if constexpr (fixed_size_key) {
      std::array<char, (std::size_t{0} + ... + sizeof(std::remove_cvref_t<Params>))> bytes;
      char* out = bytes.data();
      ((copy_key_bytes<std::remove_cvref_t<Params>>(out, args),
        out += sizeof(std::remove_cvref_t<Params>)),
       ...);
      return call_with_key(seen, std::string_view(bytes.data(), bytes.size()), object, args...);
    } else {
      return call_with_key(seen, render(object, args...), object, args...);
    }
  }

  // With fail_safe or serve_cached, a failed call may still be answered from the store. The
  // rendered key lives in a buffer that the function's own cached calls may reuse, so it is
  // rendered again after a failure (or kept, when arguments may have been moved from).
  value_type call_with_key(call_observation_type& seen, std::string_view key, object_param* object,
                           Params&... args) {
    if constexpr (has_fail_safe || serves_cached) {
      constexpr bool keep_key = !fixed_size_key && (std::is_rvalue_reference_v<Params> || ...);
      std::conditional_t<keep_key, std::string, std::string_view> kept;
      if constexpr (keep_key) kept.assign(key);
      auto key_again = [&]() -> std::string_view {
        if constexpr (keep_key) {
          return kept;
        } else if constexpr (fixed_size_key) {
          return key;
        } else {
          return render(object, args...);
        }
      };
      try {
        return call_through_stages(seen, key, object, args...);
      } catch (...) {
        for (const stored_answer answer :
             recovery_plan(std::current_exception(), serves_cached, has_fail_safe)) {
          std::optional<value_type> stored =
              answer == stored_answer::fresh ? store_.peek(key_again()) : store_.stale(key_again());
          if (stored) {
            observed_.answered_after_failure(seen, answer == stored_answer::stale);
            return std::move(*stored);
          }
        }
        throw;
      }
    } else {
      return call_through_stages(seen, key, object, args...);
    }
  }

  value_type call_through_stages(call_observation_type& seen, std::string_view key,
                                 object_param* object, Params&... args) {
    auto core = [&]() -> value_type {
      auto for_each_tag = [&](auto&& on_tag) {
        observed_.tags_rendered(seen);
        std::string scratch;
        tags_policy::render_all(scratch, on_tag, args...);
      };
      auto load = [&](std::string_view stable_key) -> decltype(auto) {
        // A coroutine function's awaitable is run by the store; the load stages' coroutine
        // forms wrap it.
        if constexpr (coroutine_function && !load_stages::empty) {
          return load_in_coroutine<typename result_of<traits>::type>(stable_key, object, args...);
        } else if constexpr (coroutine_function) {
          return call_function(object, args...);
        } else {
          return observed_.template timed_load<value_type>(seen, [&]() -> decltype(auto) {
            return load_stages_.run(
                stable_key, [&]() -> decltype(auto) { return call_function(object, args...); },
                args...);
          });
        }
      };
      if constexpr (coroutine_function) {
        return store_.get_or_load(key, for_each_tag, load);
      } else {
        // Passed by reference through a function pointer, so that the store's lookup is compiled
        // once per value type, not once per cached<> (see callback_ref).
        tag_renderer tags_ref(for_each_tag);
        callback_ref<value_type(std::string_view)> load_ref(load);
        if constexpr (fused_rate_limit) {
          // The store checks the rate limit on the entry itself: see fused_rate_limit.
          return store_.get_or_load(key, tags_ref, load_ref,
                                    call_stages_.template stage<0>().gate());
        } else if constexpr (has_early_refresh) {
          refresh_due due;
          value_type value = store_.get_or_load(key, tags_ref, load_ref, due);
          if (due.value) start_refresh(key, args...);
          return value;
        } else {
          return store_.get_or_load(key, tags_ref, load_ref);
        }
      }
    };
    if constexpr (fused_rate_limit) {
      return core();
    } else {
      return call_stages_.run(key, core, args...);
    }
  }

  template <class... A>
  decltype(auto) call_function([[maybe_unused]] object_param* object, [[maybe_unused]] A&... args) {
    if constexpr (is_rejected_result<typename declared_result<traits>::type>) {
      // check_function has rejected the result; an int in its place adds no errors of its own.
      return value_type{};
    } else if constexpr (is_member) {
      return fn_(*object, static_cast<pass_t<Params>>(args)...);
    } else {
      return fn_(static_cast<pass_t<Params>>(args)...);
    }
  }

  template <class S>
  using async_result_t = decltype(std::declval<coroutines_of_t<S, value_type>&>().async_get_or_load(
      std::string(), std::vector<std::string>(), any_loader<value_type>{}));
  template <class S>
  using async_many_result_t =
      typename rebind_awaitable<async_result_t<S>, std::vector<value_type>>::type;

  // async(): the call's coroutine, which owns the arguments and tells the observer what came of
  // the call, as counted() does for a blocking one.
  template <class S>
  async_result_t<S> observed_async(object_param* object, std::remove_cvref_t<Params>... owned) {
    call_observation_type seen;
    if constexpr (has_observer) seen.assign_key(text_key(object, owned...));
    try {
      refresh_due due;
      value_type result =
          co_await async_call<S>(seen, object, has_early_refresh ? &due : nullptr, owned...);
      observed_.succeeded(seen);
      // cachet::early_refresh: a hit due for a refresh starts it, as a blocking call's does.
      if constexpr (has_early_refresh) {
        if (due.value) start_refresh(render(object, owned...), owned...);
      }
      co_return result;
    } catch (const rate_limited&) {
      observed_.refused_by_rate_limit(seen);
      throw;
    } catch (const circuit_open&) {
      observed_.refused_by_breaker(seen);
      throw;
    }
  }

  // `seen`, `object`, `due` and `owned` must outlive the awaitable.
  template <class S>
  async_result_t<S> async_call(call_observation_type& seen, object_param* object, refresh_due* due,
                               std::remove_cvref_t<Params>&... owned) {
    std::string key(render(object, owned...));
    if constexpr (call_stages::empty && load_stages::empty) {
      auto load = [this, &seen, object, &owned...]() -> decltype(auto) {
        return load_observed(seen,
                             [&]() -> decltype(auto) { return call_function(object, owned...); });
      };
      auto op = coroutines<S>().async_get_or_load(key, render_tags(owned...), std::move(load), due);
      if constexpr (has_fail_safe) {
        return answer_failure_with_stale<S>(seen, std::move(op), std::move(key));
      } else {
        return op;
      }
    } else {
      return async_through_stages<S>(seen, object, due, std::move(key), render_tags(owned...),
                                     owned...);
    }
  }

  // A miss's load in async() and async_many(), timed and reported as a blocking call's: the
  // value, or an awaitable of it timed until it completes (a coroutine function, or load
  // stages' coroutine forms).
  template <class Load>
  decltype(auto) load_observed(call_observation_type& seen, Load&& load) {
    if constexpr (std::is_convertible_v<std::invoke_result_t<Load&>, value_type>) {
      return observed_.template timed_load<value_type>(seen, load);
    } else {
      return observed_.timed_async_load(seen, load());
    }
  }

  // The store's coroutine forms: its own (Redis), or those <cachet/async.hpp> gives a store that
  // has only blocking ones (cachet::memory). Either is a handle: the store outlives it.
  template <class S>
  decltype(auto) coroutines() {
    if constexpr (async_store<S, value_type>) {
      return (store_);
    } else {
      return blocking_store_coroutines<S>(store_, *backend_, erasures_);
    }
  }

  // Calls f with the arguments of one call of a batch (async_many): the argument itself, or the
  // elements of its tuple.
  template <class A, class F>
  static decltype(auto) spread(A& argument, F&& f) {
    if constexpr (sizeof...(Params) == 1) {
      return std::invoke(std::forward<F>(f), argument);
    } else {
      return std::apply(std::forward<F>(f), argument);
    }
  }
  static std::vector<std::string> render_tags_of(const std::remove_cvref_t<Params>&... args) {
    return render_tags(args...);
  }

  // One observation per argument of a batch, each a call for the observer.
  template <class Arg>
  static std::vector<call_observation_type> batch_observations(const std::vector<Arg>& args) {
    std::vector<call_observation_type> seen(args.size());
    if constexpr (has_observer) {
      for (std::size_t i = 0; i < args.size(); ++i) {
        seen[i].assign_key(
            spread(args[i], [](const auto&... p) { return text_key(nullptr, p...); }));
      }
    }
    return seen;
  }

  // async_many without stages or fail_safe: the store's batch stops at the first failure, whose
  // load has reported it; the calls of a batch that succeeds are reported each.
  template <class S, class Arg>
  async_many_result_t<S> observed_async_many(std::vector<std::string> keys, std::vector<Arg> args) {
    std::vector<call_observation_type> seen = batch_observations(args);
    std::vector<std::vector<std::string>> tags;
    tags.reserve(args.size());
    for (const Arg& a : args) tags.push_back(spread(a, &render_tags_of));
    auto load_at = [&](std::size_t i) -> decltype(auto) {
      return load_observed(seen[i], [&]() -> decltype(auto) {
        return spread(args[i],
                      [&](auto&... p) -> decltype(auto) { return call_function(nullptr, p...); });
      });
    };
    std::vector<refresh_due> dues;
    std::vector<value_type> out = co_await coroutines<S>().async_get_or_load_many(
        std::move(keys), std::move(tags), load_at, has_early_refresh ? &dues : nullptr);
    for (call_observation_type& call : seen) observed_.succeeded(call);
    if constexpr (has_early_refresh) {
      for (std::size_t i = 0; i < dues.size(); ++i) {
        if (dues[i].value) start_refresh_of(args[i]);
      }
    }
    co_return out;
  }

  // async() with rate_limit, circuit_breaker or retry. The call stages' coroutines may await the
  // backend (a limit kept in Redis); load stages wrap the function's call inside the store's
  // coroutine (see load_miss), as coroutines themselves when they all can (retry's backoff awaits
  // a timer). As in call_with_key, a rate-limited call may be answered with a fresh stored value
  // (serve_cached) and any failure with a stale one (fail_safe); no co_await in a catch block.
  // `seen`, `object` and `owned` must outlive the awaitable.
  template <class S>
  async_result_t<S> async_through_stages(call_observation_type& seen, object_param* object,
                                         refresh_due* due, std::string key,
                                         std::vector<std::string> tags,
                                         std::remove_cvref_t<Params>&... owned) {
    std::exception_ptr failure;
    try {
      // `key` lives in this frame until the store's load ends.
      auto load = [&]() -> decltype(auto) {
        return load_observed(
            seen, [&]() -> decltype(auto) { return load_miss<S>(key, object, owned...); });
      };
      auto core = [&] { return coroutines<S>().async_get_or_load(key, tags, load, due); };
      co_return co_await call_stages_.template run_async<backend_type>(key, core, owned...);
    } catch (...) {
      failure = std::current_exception();
    }
    std::optional<value_type> stored = co_await answer_from_store<S>(seen, failure, key);
    if (stored) co_return std::move(*stored);
    std::rethrow_exception(failure);
  }

  // No co_await in a catch block: the failure is kept, then the stale value fetched.
  template <class S, class Awaitable>
  Awaitable answer_failure_with_stale(call_observation_type& seen, Awaitable op, std::string key) {
    std::exception_ptr failure;
    try {
      co_return co_await std::move(op);
    } catch (...) {
      failure = std::current_exception();
    }
    std::optional<value_type> stored = co_await answer_from_store<S>(seen, failure, key);
    if (stored) co_return std::move(*stored);
    std::rethrow_exception(failure);
  }

  // The coroutine form of call_with_key's recovery: the stored value that answers a call that
  // failed with `failure`, if any (see recovery_plan). `seen` and `key` must outlive it.
  template <class S>
  typename rebind_awaitable<async_result_t<S>, std::optional<value_type>>::type answer_from_store(
      call_observation_type& seen, std::exception_ptr failure, const std::string& key) {
    for (const stored_answer answer : recovery_plan(failure, serves_cached, has_fail_safe)) {
      std::optional<value_type> stored;
      if (answer == stored_answer::fresh) {
        stored = co_await coroutines<S>().async_peek(key);
      } else {
        stored = co_await coroutines<S>().async_stale(key);
      }
      if (stored) {
        observed_.answered_after_failure(seen, answer == stored_answer::stale);
        co_return stored;
      }
    }
    co_return std::nullopt;
  }

  // async_many with stages or fail_safe; see its doc comment for what happens to each argument.
  // Each argument is reported as a blocking call would be, whether or not the batch throws.
  template <class S, class Arg>
  async_many_result_t<S> async_many_through_stages(std::vector<std::string> keys,
                                                   std::vector<Arg> args) {
    const std::size_t n = args.size();
    std::vector<call_observation_type> seen = batch_observations(args);
    std::vector<std::exception_ptr> failures(n);
    if constexpr (!call_stages::empty) {
      using admission = typename rebind_awaitable<async_result_t<S>, batch_admission>::type;
      auto admit = []() -> admission { co_return batch_admission{}; };
      for (std::size_t i = 0; i < n; ++i) {
        try {
          co_await spread(args[i], [&](const auto&... p) {
            return call_stages_.template run_async<backend_type>(keys[i], admit, p...);
          });
        } catch (...) {
          failures[i] = std::current_exception();
        }
      }
    }
    // The store's batch: the admitted arguments, and those that a fresh value may still answer.
    std::vector<std::size_t> positions;
    std::vector<std::string> batch_keys;
    std::vector<std::vector<std::string>> batch_tags;
    std::vector<bool> may_load;
    for (std::size_t i = 0; i < n; ++i) {
      if (failures[i] && !(serves_cached && is_rate_limited(failures[i]))) continue;
      positions.push_back(i);
      batch_keys.push_back(keys[i]);
      batch_tags.push_back(spread(args[i], &render_tags_of));
      may_load.push_back(!failures[i]);
    }
    auto load_at = [&](std::size_t j) -> decltype(auto) {
      const std::size_t i = positions[j];
      return load_observed(seen[i], [&, i]() -> decltype(auto) {
        return spread(args[i], [&](auto&... p) -> decltype(auto) {
          return load_miss<S>(keys[i], nullptr, p...);
        });
      });
    };
    auto outcomes = co_await coroutines<S>().async_settle_many(
        std::move(batch_keys), std::move(batch_tags), std::move(may_load), load_at);
    std::vector<std::optional<value_type>> values(n);
    for (std::size_t j = 0; j < positions.size(); ++j) {
      const std::size_t i = positions[j];
      if (outcomes[j].value) {
        values[i] = std::move(outcomes[j].value);
        if (failures[i]) observed_.answered_after_failure(seen[i], false);  // serve_cached
        if constexpr (has_early_refresh) {
          if (outcomes[j].due) start_refresh_of(args[i]);
        }
      } else if (outcomes[j].failure) {
        failures[i] = outcomes[j].failure;
      }
    }
    if constexpr (has_fail_safe) {
      for (std::size_t i = 0; i < n; ++i) {
        if (values[i]) continue;
        values[i] = co_await coroutines<S>().async_stale(keys[i]);
        if (values[i]) observed_.answered_after_failure(seen[i], true);
      }
    }
    std::exception_ptr first_failure;
    std::vector<value_type> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (values[i]) {
        observed_.succeeded(seen[i]);
        out.push_back(std::move(*values[i]));
      } else {
        observed_.failed(seen[i], failures[i]);
        if (!first_failure) first_failure = failures[i];
      }
    }
    if (first_failure) std::rethrow_exception(first_failure);
    co_return out;
  }

  // The function's call on a miss in async() and async_many(), through the load stages: their
  // coroutine forms when they all have one (always for a coroutine function), else their plain
  // forms around the plain call. `key`, `object` and `args` must outlive what it returns.
  template <class S, class... A>
  decltype(auto) load_miss(std::string_view key, object_param* object, A&... args) {
    if constexpr (load_stages::empty) {
      return call_function(object, args...);
    } else if constexpr (coroutine_function || load_stages::have_async_forms) {
      return load_in_coroutine<async_result_t<S>>(key, object, args...);
    } else {
      return load_stages_.run(
          key, [&]() -> decltype(auto) { return call_function(object, args...); }, args...);
    }
  }

  // The function's call on a miss, inside a coroutine, with the load stages' coroutine forms
  // around it: a retry awaits its backoff, and calls the function again (a coroutine function
  // gives a new awaitable each time). `key`, `object` and `args` must outlive the awaitable.
  template <class Awaitable, class... A>
  Awaitable load_in_coroutine(std::string_view key, object_param* object, A&... args) {
    auto invoke = [&]() -> Awaitable {
      if constexpr (coroutine_function) {
        co_return co_await call_function(object, args...);
      } else {
        co_return call_function(object, args...);
      }
    };
    co_return co_await load_stages_.template run_async<backend_type>(key, invoke, args...);
  }

  // cachet::early_refresh, after a hit due for a refresh: queues its recomputation on the worker
  // (early_refresh.hpp), with copies of the key and arguments. Never throws into the hit: a
  // refresh that cannot be queued (no memory, no thread) is skipped, and a later hit tries again.
  void start_refresh(std::string_view key, Params&... args) noexcept {
    try {
      refresher_.submit(key, [&] {
        return [this, stable_key = std::string(key),
                owned = std::tuple<std::remove_cvref_t<Params>...>(args...)]() mutable {
          std::apply([&](auto&... a) { refresh_in_background(stable_key, a...); }, owned);
        };
      });
    } catch (...) {
    }
  }

  // async_many: a hit due for a refresh starts it, as a call's does (and, as there, a refresh
  // that cannot be started is skipped).
  template <class Arg>
  void start_refresh_of(Arg& argument) noexcept {
    try {
      spread(argument, [&](auto&... p) { start_refresh(render(nullptr, p...), p...); });
    } catch (...) {
    }
  }

  // The background refresh of `key`, on the worker thread: the function through the load
  // stages, stored by the store as a miss's load (see the stores' reload()). Named apart from
  // the public refresh(), which a call with one text argument could otherwise not tell from it.
  template <class... A>
  void refresh_in_background(std::string_view key, A&... args) {
    auto for_each_tag = [&](auto&& on_tag) {
      std::string scratch;
      tags_policy::render_all(scratch, on_tag, args...);
    };
    auto load = [&](std::string_view stable_key) -> value_type {
      return load_stages_.run(
          stable_key, [&]() -> decltype(auto) { return call_function(nullptr, args...); }, args...);
    };
    tag_renderer tags_ref(for_each_tag);
    callback_ref<value_type(std::string_view)> load_ref(load);
    store_.reload(key, tags_ref, load_ref);
  }

  // A stage may call the function more than once (a retry), so arguments are passed as lvalues
  // each time; only rvalue-reference parameters are moved, as they must be.
  template <class P>
  using pass_t = std::conditional_t<std::is_rvalue_reference_v<P>, P, P&>;

  [[no_unique_address]] Function fn_;
  backend_type* backend_;
  key_registry::registration key_owner_;
  store_type store_;
  // Counts invalidate() and clear() calls, so that a coroutine's load that a blocking store's
  // flight cannot see (<cachet/async.hpp>) keeps its result out of the store after one.
  std::atomic<std::uint64_t> erasures_{0};
  [[no_unique_address]] call_stages call_stages_;
  [[no_unique_address]] load_stages load_stages_;
  // Last: it registers this object with the registry of live caches once the store is built, and
  // leaves before the store is destroyed.
  observed_cache<observer_type> observed_;
  // cachet::early_refresh only. After everything a refresh uses, so that its destructor, which
  // waits for the refresh under way, runs first.
  [[no_unique_address]] std::conditional_t<has_early_refresh, refresh_worker, no_refresh_worker>
      refresher_;
};

}  // namespace detail

/// A function whose results are cached, configured by policies given in any order:
///
///     User load_user(int id);
///     cachet::cached<&load_user, cachet::ttl<300>> get_user;
///     User u = get_user(42);             // computes, stores
///     User v = get_user(42);             // returns the stored copy
///
/// `F` is a function or a member function; a member function's object comes first in each call
/// (`find(repo, 42)`) and, unless `instance_key<>` says otherwise, is left out of the key, so
/// every object shares one cache. Nothing is kept of the object after a call returns.
template <auto F, class... Policies>
class cached
    : public detail::cached_impl<
          detail::named_function<F>,
          typename detail::params_of<detail::callable_traits<decltype(F)>>::type, Policies...> {
  using base =
      detail::cached_impl<detail::named_function<F>,
                          typename detail::params_of<detail::callable_traits<decltype(F)>>::type,
                          Policies...>;

 public:
  using base::base;
};

/// A cached function object: what `make_cached` returns.
template <class F, class... Policies>
class cached_function
    : public detail::cached_impl<detail::function_object<F>,
                                 typename detail::params_of<detail::callable_traits<F>>::type,
                                 Policies...> {
  using base = detail::cached_impl<detail::function_object<F>,
                                   typename detail::params_of<detail::callable_traits<F>>::type,
                                   Policies...>;

 public:
  using backend_type = typename base::backend_type;

  explicit cached_function(F fn, const options& opts = {})
      : base(detail::function_object<F>{std::move(fn)}, backend_type::shared(), opts) {}
  cached_function(F fn, backend_type& backend, const options& opts = {})
      : base(detail::function_object<F>{std::move(fn)}, backend, opts) {}
};

/// Caches any callable, lambdas with captures included:
///
///     auto sq = cachet::make_cached<cachet::ttl<10>, cachet::capacity<1024>>(
///         [&](int x) { return x * x; });
///
/// The result is neither copyable nor movable (it owns its entries and in-flight computations):
/// keep it where it is made, or in a `std::unique_ptr` via
/// `std::make_unique<cached_function<...>>`.
template <class... Policies, class F>
cached_function<std::decay_t<F>, Policies...> make_cached(F&& fn, const options& opts = {}) {
  return cached_function<std::decay_t<F>, Policies...>(std::forward<F>(fn), opts);
}

/// The same, storing results in `backend`, which must outlive the result.
template <class... Policies, class F>
cached_function<std::decay_t<F>, Policies...> make_cached(
    F&& fn, typename cached_function<std::decay_t<F>, Policies...>::backend_type& backend,
    const options& opts = {}) {
  return cached_function<std::decay_t<F>, Policies...>(std::forward<F>(fn), backend, opts);
}

}  // namespace cachet

#endif
