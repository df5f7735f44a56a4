#ifndef CACHET_DETAIL_STORE_COROUTINES_HPP
#define CACHET_DETAIL_STORE_COROUTINES_HPP

// What cached<>::async() and async_many() need of a store's coroutine forms, named by shape so
// that <cachet.hpp> needs no Asio.

#include <cachet/detail/policy.hpp>

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace cachet::detail {

// async() and async_many() run the stages inside a coroutine, where a thread that blocks stalls
// every coroutine of its executor: only stages that say they do not may run there (see
// detail/stages.hpp).
template <bool RunInCoroutines, class Store>
struct require_stages_that_run_in_coroutines {
  static_assert(RunInCoroutines,
                "cachet::cached::async and async_many: a policy's stage may block its thread, "
                "which would stall the coroutine's executor; make the blocking call, or drop that "
                "policy from this cached<>");
  static constexpr bool value = true;  // as check_function's
};

// The awaitable type `Awaitable` (boost::asio::awaitable<V, Executor>) with another value type,
// named by shape so that this header needs no Asio.
template <class Awaitable, class T>
struct rebind_awaitable;
template <template <class, class> class Awaitable, class V, class Executor, class T>
struct rebind_awaitable<Awaitable<V, Executor>, T> {
  using type = Awaitable<T, Executor>;
};

// What the call stages of one argument of a batch yield when they admit it: the batch's lookup
// comes after every argument's stages, so there is no value to hand back yet.
struct batch_admission {};

// Declared only: stands for "some loader" when asking whether a store can load asynchronously.
template <class Value>
struct any_loader {
  Value operator()() const;
};
template <class Value>
struct any_indexed_loader {
  Value operator()(std::size_t) const;
};

// Stores of remote backends (Redis) also offer coroutines; cached<> then offers async().
template <class Store, class Value>
concept async_store = requires(Store& s, std::string key, std::vector<std::string> tags,
                               std::vector<std::string> keys,
                               std::vector<std::vector<std::string>> tags_of_keys) {
  s.async_get_or_load(std::move(key), std::move(tags), any_loader<Value>{});
  s.async_get_or_load_many(std::move(keys), std::move(tags_of_keys), any_indexed_loader<Value>{});
};

// The coroutine forms that <cachet/async.hpp> gives a store with only blocking ones (cachet::memory
// 's), so that this header needs no Asio: it specialises this template for that store, built from
// the store and its backend.
template <class Store>
struct blocking_store_coroutines {
  static_assert(wrong<Store>,
                "cachet::cached::async: the in-memory backend's coroutine forms (async, "
                "async_many) are in their own header, which needs Boost.Asio; #include "
                "<cachet/async.hpp>");
  template <class... A>
  explicit blocking_store_coroutines(A&&...) {}
};

// What cached<>::async() calls the coroutines of a store through.
template <class Store, class Value>
using coroutines_of_t =
    std::conditional_t<async_store<Store, Value>, Store, blocking_store_coroutines<Store>>;

// What async_many's range holds: the argument of a one-parameter function, else a std::tuple of
// the arguments.
template <class... Params>
struct batch_argument {
  using type = std::tuple<std::remove_cvref_t<Params>...>;
};
template <class Param>
struct batch_argument<Param> {
  using type = std::remove_cvref_t<Param>;
};

}  // namespace cachet::detail

#endif
