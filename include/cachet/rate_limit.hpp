#ifndef CACHET_RATE_LIMIT_HPP
#define CACHET_RATE_LIMIT_HPP

#include <cachet/clock.hpp>
#include <cachet/detail/coarse_clock.hpp>
#include <cachet/detail/fixed_string.hpp>
#include <cachet/detail/key/template.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/detail/resilience/gcra.hpp>
#include <cachet/detail/resilience/option.hpp>
#include <cachet/detail/resilience/rate_key.hpp>
#include <cachet/detail/resilience/shared_rate_limiter.hpp>
#include <cachet/detail/stages.hpp>
#include <cachet/options.hpp>
#include <cachet/rate_limit_decision.hpp>
#include <cachet/rate_limited.hpp>
#include <cachet/rate_limiter.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace cachet {

namespace detail {

struct rate_limit_kind {};
struct per_kind {};
struct by_kind {};
struct serve_cached_kind {};
struct per_process_kind {};

struct whole_function_rate_key {
  template <class... Args>
  static constexpr bool check() {
    return true;
  }
  template <std::size_t ArgumentCount>
  static constexpr bool uses_every_argument = false;
  template <class... Args>
  static void render(std::string&, const Args&...) {}
  template <class... Args>
  static constexpr std::size_t binary_size = 0;
  template <class... Args>
  static std::array<char, 0> binary_bytes(const Args&...) {
    return {};
  }
};

}  // namespace detail

/// An option of cachet::rate_limit: the period the limit counts over, in seconds.
template <std::uint64_t Seconds>
struct per : detail::option<detail::per_kind> {
  static constexpr void check_values() {
    static_assert(Seconds > 0,
                  "cachet::per: the period must be at least 1 second; write e.g. cachet::per<60> "
                  "for a limit per minute");
  }
  static constexpr std::chrono::seconds value{Seconds};
};

/// An option of cachet::rate_limit: a template over the function's arguments, with the syntax of
/// cachet::key, giving each value its own limit (`by<"{}">`: one limit per first argument). Any
/// subset of the arguments may appear.
template <detail::fixed_string S>
struct by : detail::option<detail::by_kind> {
  template <class... Args>
  static constexpr bool check() {
    return detail::check_rate_key_template<S, Args...>();
  }
  /// The key's text, under which a shared store (Redis) keeps the limit.
  template <class... Args>
  static void render(std::string& out, const Args&... args) {
    if constexpr (check<Args...>()) detail::render_key_template<S>(out, args...);
  }
  /// The key in process: the arguments' binary keys (see detail/resilience/rate_key.hpp).
  template <class... Args>
  static void render_binary(std::string& out, const Args&... args) {
    if constexpr (check<Args...>()) detail::render_binary_rate_key<S>(out, args...);
  }
  /// The size of the binary key when it is known at compile time, else detail::variable_size.
  template <class... Args>
  static constexpr std::size_t binary_size = detail::rate_key_bytes<S, Args...>;
  template <class... Args>
  static auto binary_bytes(const Args&... args) {
    return detail::binary_rate_key_bytes<S>(args...);
  }
  /// Whether the key names each of a function's `ArgumentCount` arguments: it then tells calls
  /// apart exactly as the cache's key does.
  template <std::size_t ArgumentCount>
  static constexpr bool uses_every_argument = [] {
    for (std::size_t i = 0; i < ArgumentCount; ++i) {
      if (!detail::parsed_key_template<S>.uses_argument(i)) return false;
    }
    return ArgumentCount > 0;
  }();
};

/// An option of cachet::rate_limit: a call over the limit returns the cached result for its
/// arguments when there is one, instead of throwing cachet::rate_limited (which it still throws
/// when nothing is cached).
///
///     cachet::cached<&quote, cachet::ttl<10>, cachet::rate_limit<100, cachet::per<60>,
///                    cachet::serve_cached>> q;
struct serve_cached : detail::option<detail::serve_cached_kind> {};

/// An option of cachet::rate_limit: keeps the limit in this process even when the backend is
/// shared (cachet::redis), so that each process admits `Limit` calls per period on its own and
/// no call waits for the backend to be asked.
///
///     cachet::cached<&f, cachet::backend<cachet::redis>,
///                    cachet::rate_limit<100, cachet::per<60>, cachet::per_process>> g;
struct per_process : detail::option<detail::per_process_kind> {};

/// Policy: admits at most `Limit` calls per period (GCRA, see cachet::rate_limiter), counting
/// every call, hits included; a call over the limit throws cachet::rate_limited, whose
/// `retry_after()` says when to try again. Options, in any order, each at most once:
/// - `per<Seconds>` (required): the period;
/// - `by<"template">`: one limit per rendered key; without it one limit for the whole function;
/// - `serve_cached`: over the limit, return the cached result if there is one;
/// - `per_process`: keep the limit in the process even on a shared backend.
/// `options::rate_limit` and `options::rate_limit_period` override the numbers; the limit reads
/// `options::clock`, else the clock the backend was given (`cachet::memory{clock}`), else the
/// steady clock at tick resolution (see rate_limiter).
///
///     cachet::cached<&send_report, cachet::rate_limit<100, cachet::per<60>, cachet::by<"{}">>>
///         report;  // 100 calls a minute per user id
///
/// Where the limit lives follows the backend. With cachet::memory it is local to the cached
/// object; when `by<>` names every argument, so that its keys are the cache's, each key's state
/// is kept with the key's cache entry, and a hit checks the limit without a lookup of its own
/// (the limit then reads the cache's time: `options::clock`, else the backend's clock). With
/// cachet::redis it is kept in Redis (cachet::redis_rate_limiter, one EVALSHA per call), under the
/// function's name (or, for a function object, its key template): every cached object of that
/// function on that server, in any process, shares one limit per key. Time is then the Redis
/// server's, unless `options::clock` is given, whose time is sent instead (every process must then
/// read the same clock). When Redis cannot answer, each process limits on its own (see
/// cachet::redis_rate_limiter). `per_process` keeps the local limit.
template <std::uint64_t Limit, class... Options>
struct rate_limit : detail::policy<detail::rate_limit_kind> {
  static_assert((detail::is_option_of<Options, detail::per_kind, detail::by_kind,
                                      detail::serve_cached_kind, detail::per_process_kind> &&
                 ...),
                "cachet::rate_limit: its options are cachet::per<Seconds>, cachet::by<\"...\">, "
                "cachet::serve_cached and cachet::per_process; give other policies to cached<> "
                "directly");
  static_assert(detail::option_count<detail::per_kind, Options...> == 1,
                "cachet::rate_limit: give the period exactly once, e.g. "
                "cachet::rate_limit<100, cachet::per<60>>");
  static_assert(detail::option_count<detail::by_kind, Options...> <= 1,
                "cachet::rate_limit: a cachet::by<> key template is given twice; keep one");
  static_assert(detail::option_count<detail::serve_cached_kind, Options...> <= 1 &&
                    detail::option_count<detail::per_process_kind, Options...> <= 1,
                "cachet::rate_limit: an option is given twice; keep one");

  using period = detail::find_option_t<detail::per_kind, per<1>, Options...>;

  static constexpr void check_values() {
    static_assert(Limit > 0,
                  "cachet::rate_limit: the limit must be at least 1 call per period; leave the "
                  "policy out to admit every call");
    static_cast<void>((detail::check_values<Options>() && ...));
  }
  using rate_key =
      detail::find_option_t<detail::by_kind, detail::whole_function_rate_key, Options...>;

  /// Whether a call over the limit returns the cached result when there is one (serve_cached).
  static constexpr bool serves_cached =
      detail::option_count<detail::serve_cached_kind, Options...> == 1;
  /// Whether the limit stays in the process on a shared backend (per_process).
  static constexpr bool per_process_only =
      detail::option_count<detail::per_process_kind, Options...> == 1;

  /// Wraps every call of a cached function: the limiter is asked before the cache is.
  template <class Value>
  class call_stage {
   public:
    template <class Backend>
    explicit call_stage(const detail::stage_context<Backend>& context) {
      const std::uint64_t limit = context.opts.rate_limit.value_or(Limit);
      const clock::duration length =
          context.opts.rate_limit_period
              ? std::chrono::duration_cast<clock::duration>(*context.opts.rate_limit_period)
              : std::chrono::duration_cast<clock::duration>(period::value);
      if constexpr (!per_process_only && detail::shares_rate_limits<Backend>) {
        const std::string_view scope =
            context.function_name.empty() ? context.key_template : context.function_name;
        shared_ = detail::shared_rate_limits<Backend>::make(
            context.backend, {scope, limit, length, context.opts.clock});
      } else {
        // The cache's time, as a limit kept in the entries reads it: options::clock, else the
        // clock the backend was given (cachet::memory{clock}), else the coarse steady clock.
        const cachet::clock* time = context.opts.clock;
        if constexpr (requires { context.backend.given_clock(); }) {
          if (time == nullptr) time = context.backend.given_clock();
        }
        local_.emplace(limit, length, time);
        gate_ = {detail::gcra::checked(limit, length),
                 time != nullptr ? clock::duration::zero() : detail::coarse_resolution()};
      }
    }

    /// A limit whose key names every argument tells calls apart as an in-memory cache's key
    /// does: cached<> then keeps each key's state in its cache entry, where a hit finds it
    /// without a lookup of its own (see detail/stages.hpp, "fuses_into_entries").
    template <class... Args>
    static constexpr bool keys_like_entries =
        rate_key::template uses_every_argument<sizeof...(Args)>&&
            rate_key::template check<Args...>();
    using entry_gate = detail::gcra_gate;
    /// The limit's rule, time and slack, for the store that keeps its states.
    const entry_gate& gate() const noexcept { return gate_; }

    template <class Next, class... Args>
    Value operator()(std::string_view, Next&& next, const Args&... args) {
      if constexpr (rate_key::template check<Args...>()) {
        const rate_limit_decision decision = shared_ ? ask_shared(args...) : ask_local(args...);
        if (!decision) throw rate_limited(decision.retry_after);
      }
      return std::forward<Next>(next)();
    }

    static constexpr bool runs_in_coroutines = true;

    /// The check inside a coroutine (cached<>::async): a limit kept on the backend is awaited
    /// there, so the caller's executor never waits for it; a local one is decided at once.
    /// \throws cachet::rate_limited from the awaitable when over the limit.
    template <class Backend, class Next, class... Args>
    std::invoke_result_t<Next&> async(std::string_view, Next next, const Args&... args) {
      if constexpr (rate_key::template check<Args...>()) {
        rate_limit_decision decision;
        if constexpr (!per_process_only && detail::shares_rate_limits<Backend>) {
          static_assert(detail::awaits_rate_limits<Backend>,
                        "cachet::rate_limit: this backend keeps limits but cannot check them in "
                        "a coroutine; specialise shared_rate_limits<Backend>::async_try_acquire, "
                        "or add cachet::per_process");
          std::string shared_key;
          rate_key::render(shared_key, args...);
          decision = co_await detail::shared_rate_limits<Backend>::async_try_acquire(
              *shared_, std::move(shared_key));
        } else {
          decision = ask_local(args...);
        }
        if (!decision) throw rate_limited(decision.retry_after);
      }
      co_return co_await next();
    }

   private:
    // Others read a shared limit's keys: they are the template's text.
    template <class... Args>
    rate_limit_decision ask_shared(const Args&... args) {
      thread_local std::string buffer;
      buffer.clear();
      rate_key::render(buffer, args...);
      return shared_->try_acquire(buffer);
    }

    // A local limit's keys stay in the process: binary, and on the stack for numbers.
    template <class... Args>
    rate_limit_decision ask_local(const Args&... args) {
      if constexpr (rate_key::template binary_size<Args...> == detail::variable_size) {
        thread_local std::string buffer;
        buffer.clear();
        rate_key::render_binary(buffer, args...);
        return detail::rate_limiter_access::admit(*local_, buffer);
      } else {
        const auto bytes = rate_key::binary_bytes(args...);
        return detail::rate_limiter_access::admit(*local_,
                                                  std::string_view(bytes.data(), bytes.size()));
      }
    }

    std::optional<rate_limiter> local_;
    detail::gcra_gate gate_{};  // a copy of local_'s settings
    std::unique_ptr<detail::shared_rate_limiter> shared_;
  };
};

}  // namespace cachet

#endif
