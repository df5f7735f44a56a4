#ifndef CACHET_ASYNC_HPP
#define CACHET_ASYNC_HPP

// Coroutine forms on every backend: with this header, `co_await c.async(args...)` and
// `co_await c.async_many(range)` work on cachet::memory as they do on cachet::redis, so a service
// switches backends without touching its call sites. It needs Boost.Asio, which <cachet.hpp>
// does not include.
//
//     #include <cachet.hpp>
//     #include <cachet/async.hpp>
//     cachet::cached<&load_user, cachet::ttl<60>> get_user;
//     boost::asio::awaitable<void> serve() { User u = co_await get_user.async(42); ... }
//
// How a call runs on cachet::memory:
// - The awaitable runs on the awaiting coroutine's executor (boost::asio::this_coro::executor);
//   cachet starts no thread and posts nowhere else.
// - A hit is answered at once, without suspending.
// - A miss runs the function inline in the coroutine, through the same store as blocking calls
//   (they share entries, single flight, tags and invalidation). A plain function cannot suspend,
//   so no other coroutine of the same thread can meet its flight; a blocking caller or a
//   coroutine on another thread that asks for the same key meanwhile waits for it, as blocking
//   callers do.
// - A miss whose load suspends (a function that returns boost::asio::awaitable, or retry's
//   backoff) leads a flight of coroutines: another coroutine that asks for the same key suspends
//   until the leader's result (or exception) arrives, and is resumed on its own executor; no
//   thread is blocked. The result is then stored unless a tag of the entry was invalidated
//   meanwhile (it is returned either way; one that races the store itself removes the entry
//   just after); so is it after an invalidate(args) or clear() of the function during the load.
//   Such a flight is not seen by blocking calls, which lead their own; stats count its leader's
//   miss and load, not its waiters or the hits found before it. A load that awaits a call of its
//   own cached function with the same key never completes.
// - Cancellation: the operations do not support per-operation cancellation; a cancelled parent
//   stops at the next suspension, and a flight's leader that is destroyed before it completes
//   leaves its waiters suspended, so keep the io_context running until the work is done.
// - rate_limit keyed by every argument as the only call stage is kept in the entries for blocking
//   calls; async() counts its calls in a limiter of its own, apart from them.

#include <cachet.hpp>
#include <cachet/detail/callback_ref.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cachet::detail {

// Whether a loader's result must be awaited (a coroutine function, or load stages' coroutine
// forms) rather than being the value itself.
template <class R, class Value>
inline constexpr bool suspends = !std::is_convertible_v<R, Value>;

// The coroutine flights of every store of one type: a key's leader runs the load; the coroutines
// that ask for the key meanwhile register a completion handler and suspend. The mutex is never
// held across a suspension.
template <class Value>
class coroutine_flights {
 public:
  // A suspended coroutine's completion handler, resumed on the coroutine's own executor.
  struct waiter {
    virtual ~waiter() = default;
    virtual void resume() = 0;
  };
  template <class Handler>
  struct waiter_with final : waiter {
    explicit waiter_with(Handler h) : handler(std::move(h)) {}
    void resume() override {
      auto executor = boost::asio::get_associated_executor(handler);
      boost::asio::post(executor, std::move(handler));
    }
    Handler handler;
  };

  struct flight {
    std::optional<Value> value;
    std::exception_ptr failure;
    bool done = false;  // guarded by the table's mutex, as waiters
    std::vector<std::unique_ptr<waiter>> waiters;
  };

  static coroutine_flights& instance() {
    static coroutine_flights table;
    return table;
  }

  // The flight for `key` of `store`, and whether the caller leads it.
  std::pair<std::shared_ptr<flight>, bool> join_or_lead(const void* store, std::string_view key) {
    std::string id = identity(store, key);
    std::lock_guard lock(mutex_);
    auto [it, leads] = flights_.try_emplace(std::move(id));
    if (leads) it->second = std::make_shared<flight>();
    return {it->second, leads};
  }

  // Publishes the leader's outcome and resumes every waiter on its own executor.
  void finish(const void* store, std::string_view key, const std::shared_ptr<flight>& f) {
    std::vector<std::unique_ptr<waiter>> waiters;
    {
      std::lock_guard lock(mutex_);
      f->done = true;
      waiters = std::move(f->waiters);
      flights_.erase(identity(store, key));
    }
    for (const std::unique_ptr<waiter>& w : waiters) w->resume();
  }

  // Suspends until the flight is done (at once if it is already). The caller keeps `f` alive.
  boost::asio::awaitable<void> wait(flight& f) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
        [this, target = &f](auto handler) {
          auto w = std::make_unique<waiter_with<decltype(handler)>>(std::move(handler));
          std::unique_lock lock(mutex_);
          if (target->done) {
            lock.unlock();
            w->resume();
          } else {
            target->waiters.push_back(std::move(w));
          }
        },
        boost::asio::use_awaitable);
  }

 private:
  static std::string identity(const void* store, std::string_view key) {
    std::string id(sizeof store, '\0');
    std::memcpy(id.data(), &store, sizeof store);
    id += key;
    return id;
  }

  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<flight>> flights_;
};

// The gate given to a store that keeps a rate limit in its entries when a coroutine stores a
// value there: async() has checked its limit in the call stage already.
template <class Gate>
struct admitted_by_call_stage {
  using decision = typename Gate::decision;
  template <class State, class At>
  decision admit(State, At) const noexcept {
    decision d{};
    d.allowed = true;
    return d;
  }
  [[noreturn]] void refuse(const decision&) const { std::terminate(); }
};

template <class Value, std::size_t TagCount, class Backend, class Gate>
class blocking_store_coroutines<memory_store<Value, TagCount, Backend, Gate>> {
  using store_type = memory_store<Value, TagCount, Backend, Gate>;
  using flights = coroutine_flights<Value>;

 public:
  struct batch_outcome {
    std::optional<Value> value;
    std::exception_ptr failure;
    bool due = false;  // cachet::early_refresh: a hit's entry is due for a refresh
  };

  // `erasures` counts the cached function's invalidate() and clear() calls.
  blocking_store_coroutines(store_type& store, Backend& backend,
                            const std::atomic<std::uint64_t>& erasures)
      : store_(&store), backend_(&backend), erasures_(&erasures) {}

  // `load()` returns Value, or an awaitable of it, and owns what it needs. `due`, if given,
  // is the awaiting caller's: cachet::early_refresh's report of a hit due for a refresh.
  template <class Load>
  boost::asio::awaitable<Value> async_get_or_load(std::string key, std::vector<std::string> tags,
                                                  Load load, refresh_due* due = nullptr) {
    return get_or_load(*store_, *backend_, *erasures_, std::move(key), std::move(tags),
                       std::move(load), due);
  }

  // One call after the other: in process, a batch saves no round trip. The first failure stops
  // the batch and is thrown; the values computed before it are stored.
  // `dues`, if given, gets each position's cachet::early_refresh report.
  template <class LoadAt>
  boost::asio::awaitable<std::vector<Value>> async_get_or_load_many(
      std::vector<std::string> keys, std::vector<std::vector<std::string>> tags, LoadAt load_at,
      std::vector<refresh_due>* dues = nullptr) {
    return get_or_load_many(*store_, *backend_, *erasures_, std::move(keys), std::move(tags),
                            std::move(load_at), dues);
  }

  // Every position settled, whatever another came to; one whose `may_load` is false is only
  // looked up.
  template <class LoadAt>
  boost::asio::awaitable<std::vector<batch_outcome>> async_settle_many(
      std::vector<std::string> keys, std::vector<std::vector<std::string>> tags,
      std::vector<bool> may_load, LoadAt load_at) {
    return settle_many(*store_, *backend_, *erasures_, std::move(keys), std::move(tags),
                       std::move(may_load), std::move(load_at));
  }

  boost::asio::awaitable<std::optional<Value>> async_peek(std::string key) {
    return peek(*store_, std::move(key));
  }

  boost::asio::awaitable<std::optional<Value>> async_stale(std::string key) {
    return stale(*store_, std::move(key));
  }

 private:
  // The coroutines take the store by reference, not this handle, which is gone once they
  // suspend.
  template <class Load>
  static boost::asio::awaitable<Value> get_or_load(store_type& store, Backend& backend,
                                                   const std::atomic<std::uint64_t>& erasures,
                                                   std::string key, std::vector<std::string> tags,
                                                   Load load, refresh_due* due = nullptr) {
    if constexpr (suspends<std::invoke_result_t<Load&>, Value>) {
      co_return co_await lead_or_join(store, backend, erasures, std::move(key), std::move(tags),
                                      load, due);
    } else {
      co_return store_through(store, key, tags, load, due);
    }
  }

  // The blocking store's own path, the function running inline.
  template <class Load>
  static Value store_through(store_type& store, std::string_view key,
                             const std::vector<std::string>& tags, Load& load,
                             refresh_due* due = nullptr) {
    auto for_each_tag = [&](auto&& on_tag) {
      for (const std::string& tag : tags) on_tag(tag);
    };
    auto loader = [&](std::string_view) -> Value { return load(); };
    // By reference, as a blocking call's: the store's lookup is compiled once per value type.
    tag_renderer tags_ref(for_each_tag);
    callback_ref<Value(std::string_view)> load_ref(loader);
    if constexpr (store_type::gated) {
      return store.get_or_load(key, tags_ref, load_ref, admitted_by_call_stage<Gate>{});
    } else {
      if (due != nullptr) return store.get_or_load(key, tags_ref, load_ref, *due);
      return store.get_or_load(key, tags_ref, load_ref);
    }
  }

  template <class Load>
  static boost::asio::awaitable<Value> lead_or_join(store_type& store, Backend& backend,
                                                    const std::atomic<std::uint64_t>& erasures,
                                                    std::string key, std::vector<std::string> tags,
                                                    Load& load, refresh_due* due) {
    refresh_due seen_due;
    if (std::optional<Value> hit = store.peek(key, seen_due)) {
      if (due != nullptr) *due = seen_due;
      co_return std::move(*hit);
    }
    flights& table = flights::instance();
    // No structured bindings in coroutines: g++ 12 destroys their hidden object twice.
    std::pair<std::shared_ptr<typename flights::flight>, bool> joined =
        table.join_or_lead(&store, key);
    std::optional<Value> result;
    std::exception_ptr failure;
    if (!joined.second) {
      co_await table.wait(*joined.first);
      result = joined.first->value;
      failure = joined.first->failure;
    } else {
      // A flight that ended between the lookup above and this one has stored its result.
      result = store.peek(key);
      if (!result) {
        // Stamped before the load, so that an invalidation during it keeps its result out.
        const std::uint64_t erased = erasures.load(std::memory_order_acquire);
        std::vector<tag_stamp> stamps;
        stamps.reserve(tags.size());
        for (const std::string& tag : tags) stamps.push_back(backend.tag_counters().stamp(tag));
        auto unchanged = [&] {
          return erasures.load(std::memory_order_acquire) == erased &&
                 still_current(backend, stamps);
        };
        try {
          result.emplace(co_await load());
        } catch (...) {
          failure = std::current_exception();
        }
        if (result && unchanged()) {
          auto loaded = [&]() -> Value { return *result; };
          store_through(store, key, tags, loaded);
          // The store stamps the tags again when it stores: an invalidation that landed between
          // the check and the store would not make the entry stale, so it is dropped.
          if (!unchanged()) store.erase(key);
        }
      }
      joined.first->value = result;
      joined.first->failure = failure;
      table.finish(&store, key, joined.first);
    }
    if (failure) std::rethrow_exception(failure);
    co_return std::move(*result);
  }

  static bool still_current(Backend& backend, const std::vector<tag_stamp>& stamps) {
    for (const tag_stamp& s : stamps) {
      if (!backend.tag_counters().current(s)) return false;
    }
    return true;
  }

  template <class LoadAt>
  static boost::asio::awaitable<std::vector<Value>> get_or_load_many(
      store_type& store, Backend& backend, const std::atomic<std::uint64_t>& erasures,
      std::vector<std::string> keys, std::vector<std::vector<std::string>> tags, LoadAt load_at,
      std::vector<refresh_due>* dues) {
    std::vector<Value> out;
    out.reserve(keys.size());
    if (dues != nullptr) dues->assign(keys.size(), refresh_due{});
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto load = [&]() -> decltype(auto) { return load_at(i); };
      out.push_back(co_await get_or_load(store, backend, erasures, keys[i], tags[i], load,
                                         dues != nullptr ? &(*dues)[i] : nullptr));
    }
    co_return out;
  }

  template <class LoadAt>
  static boost::asio::awaitable<std::vector<batch_outcome>> settle_many(
      store_type& store, Backend& backend, const std::atomic<std::uint64_t>& erasures,
      std::vector<std::string> keys, std::vector<std::vector<std::string>> tags,
      std::vector<bool> may_load, LoadAt load_at) {
    std::vector<batch_outcome> out(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      refresh_due due;
      if (!may_load[i]) {
        out[i].value = store.peek(keys[i], due);
        out[i].due = due.value;
        continue;
      }
      try {
        auto load = [&]() -> decltype(auto) { return load_at(i); };
        out[i].value.emplace(
            co_await get_or_load(store, backend, erasures, keys[i], tags[i], load, &due));
        out[i].due = due.value;
      } catch (...) {
        out[i].failure = std::current_exception();
      }
    }
    co_return out;
  }

  static boost::asio::awaitable<std::optional<Value>> peek(store_type& store, std::string key) {
    co_return store.peek(key);
  }

  static boost::asio::awaitable<std::optional<Value>> stale(store_type& store, std::string key) {
    co_return store.stale(key);
  }

  store_type* store_;
  Backend* backend_;
  const std::atomic<std::uint64_t>* erasures_;
};

// cachet::retry's backoff in async() on cachet::memory: a timer of the awaiting coroutine's
// executor, so its thread runs other coroutines meanwhile.
template <>
struct backoff_timers<memory> {
  static boost::asio::awaitable<void> wait(std::chrono::nanoseconds delay) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
    co_await timer.async_wait(boost::asio::use_awaitable);
  }
};

}  // namespace cachet::detail

#endif
