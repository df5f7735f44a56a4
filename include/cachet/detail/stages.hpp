#ifndef CACHET_DETAIL_STAGES_HPP
#define CACHET_DETAIL_STAGES_HPP

#include <cachet/options.hpp>

#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cachet::detail {

// The hook that lets a policy wrap a cached call without an edit of cached<>: a policy type P
// may declare
//   template <class Value> class call_stage;  // around every call, hits included
//   template <class Value> class load_stage;  // around each call of the function, on a miss
// Each stage is constructed from a stage_context, or from the cached object's cachet::options
// alone when it has no such constructor, lives as long as the cached object, and is called as
// `stage(key, next, args...)`, where next() runs the rest of the call and returns its Value, and
// args are the call's arguments (without a member function's object), so a stage can render a
// template of its own over them.
// `key` identifies the call within its cached function (the store's key: binary for in-process
// stores and for the tiered store's integer keys, the Redis key text for Redis); it stays valid
// until next() is called. Stages run in the order their policies are given.
//
// cached<>::async() runs inside a coroutine, on an executor other calls share, so only stages
// that never block their thread may run there; such a stage says so with
//   static constexpr bool runs_in_coroutines = true;
// A load stage that does is run as is, around the plain function call inside the store's
// coroutine. A call stage that does also offers
//   template <class Backend, class Next, class... Args>
//   std::invoke_result_t<Next&> async(std::string_view key, Next next, const Args&... args);
// a coroutine (next() returns the awaitable of the rest of the call, boost::asio::awaitable<Value>
// for Redis) that may co_await the backend. `key` and `args` stay valid until it completes.
// A load stage may offer the same coroutine form, saying so with
//   static constexpr bool has_async_form = true;
// When every load stage of a cached<> does, async() runs them all that way around the plain
// function's call (then next() returns an awaitable too), so a stage may wait there (retry's
// backoff) without blocking; a load stage with only the coroutine form needs that. Around a
// function that is itself a coroutine, the load stages always run in this form, in async() and
// in the blocking call alike (the store then runs the awaitable to completion): next() awaits
// the function, calling it anew, so a stage that calls next() again gets a new awaitable.
//
// In cached<>::async_many, each argument is a call of its own: its call stages run, one argument
// after the other, before the batch's single lookup, around a next() that only admits it (its
// awaitable yields an empty batch_admission, not a Value: a call stage's coroutine form returns
// std::invoke_result_t<Next&>, whatever that is). Load stages wrap each miss's call as above.

// A call stage that only admits or refuses calls, by a state it keeps per call key (rate_limit),
// may let the in-memory store keep that state in its entries, where a hit finds it with no
// lookup of its own (see detail/memory/store.hpp). It then declares
//   template <class... Args> static constexpr bool keys_like_entries;  // true when its key tells
//                                       // calls apart exactly as the store's does (every argument)
//   using entry_gate = ...;             // the store's Gate
//   const entry_gate& gate() const noexcept;
// and cached<> on cachet::memory, when that stage is its only call stage, hands gate() to the
// store instead of running the stage around it.
template <class StageTypes, class... Args>
inline constexpr bool fuses_into_entries = false;
template <class Stage, class... Args>
inline constexpr bool fuses_into_entries<std::tuple<Stage>, Args...> = requires {
  requires Stage::template keys_like_entries<Args...>;
};

// What a stage is built from: the options, and the backend and names of the cached function, for
// stages that keep state on the backend (a rate limit in Redis is shared by every process).
template <class Backend>
struct stage_context {
  const options& opts;
  Backend& backend;
  std::string_view function_name;  // the function's qualified name; empty for function objects
  std::string_view key_template;   // the cachet::key<> template; empty without one
};

// The template text of a key policy (cachet::key<S>::text), empty for the default key.
template <class KeyPolicy>
inline constexpr std::string_view key_template_of = [] {
  if constexpr (requires { KeyPolicy::text; }) {
    return std::string_view(KeyPolicy::text);
  } else {
    return std::string_view();
  }
}();

template <class P, class Value, class = void>
struct call_stage_of {
  using type = std::tuple<>;
};
template <class P, class Value>
struct call_stage_of<P, Value, std::void_t<typename P::template call_stage<Value>>> {
  using type = std::tuple<typename P::template call_stage<Value>>;
};

template <class P, class Value, class = void>
struct load_stage_of {
  using type = std::tuple<>;
};
template <class P, class Value>
struct load_stage_of<P, Value, std::void_t<typename P::template load_stage<Value>>> {
  using type = std::tuple<typename P::template load_stage<Value>>;
};

// What Stage is constructed from: the whole context if it takes one, else the options.
template <class Stage, class Backend>
const auto& stage_argument(const stage_context<Backend>& context) noexcept {
  if constexpr (std::is_constructible_v<Stage, const stage_context<Backend>&>) {
    return context;
  } else {
    return context.opts;
  }
}

template <class Stage>
inline constexpr bool runs_in_coroutines = requires {
  requires Stage::runs_in_coroutines;
};

template <class Stage>
inline constexpr bool has_async_form = requires {
  requires Stage::has_async_form;
};

// The stages of one hook, each built in place (stages may hold atomics and locks, so they are
// neither copied nor moved).
template <class Tuple>
struct stage_list;

template <class... Stages>
struct stage_list<std::tuple<Stages...>> {
  using stage_types = std::tuple<Stages...>;
  static constexpr bool empty = sizeof...(Stages) == 0;
  static constexpr bool run_in_coroutines = (runs_in_coroutines<Stages> && ...);
  static constexpr bool have_async_forms = (has_async_form<Stages> && ...);

  template <class Backend>
  explicit stage_list(const stage_context<Backend>& context)
      : items(stage_argument<Stages>(context)...) {}

  template <std::size_t I>
  const auto& stage() const noexcept {
    return std::get<I>(items);
  }

  template <class Core, class... Args>
  decltype(auto) run(std::string_view key, Core&& core, const Args&... args) {
    return run_from<0>(key, core, args...);
  }

  // The stages' coroutine forms around `core()`, which returns an awaitable. `core` and
  // `args` must outlive the awaitable returned.
  template <class Backend, class Core, class... Args>
  auto run_async(std::string_view key, Core& core, const Args&... args) {
    return run_async_from<Backend, 0>(key, core, std::tie(args...));
  }

 private:
  template <std::size_t I, class Core, class... Args>
  decltype(auto) run_from(std::string_view key, Core& core, const Args&... args) {
    if constexpr (I == sizeof...(Stages)) {
      return core();
    } else {
      return std::get<I>(items)(
          key, [&] { return run_from<I + 1>(key, core, args...); }, args...);
    }
  }

  // Each `next` outlives this frame (a stage's coroutine keeps it), so it holds pointers and
  // references to the caller's objects rather than references to this frame's parameters.
  template <class Backend, std::size_t I, class Core, class... Args>
  auto run_async_from(std::string_view key, Core& core, std::tuple<const Args&...> args) {
    if constexpr (I == sizeof...(Stages)) {
      return core();
    } else {
      return std::apply(
          [&](const Args&... a) {
            return std::get<I>(items).template async<Backend>(
                key,
                [this, key, target = &core, args] {
                  return run_async_from<Backend, I + 1>(key, *target, args);
                },
                a...);
          },
          args);
    }
  }

  [[no_unique_address]] std::tuple<Stages...> items;
};

template <template <class, class, class> class StageOf, class Value, class... Policies>
using stages_for = stage_list<decltype(std::tuple_cat(
    std::declval<typename StageOf<Policies, Value, void>::type>()...))>;

}  // namespace cachet::detail

#endif
