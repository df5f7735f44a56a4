#ifndef CACHET_RATE_LIMIT_HPP
#define CACHET_RATE_LIMIT_HPP

#include <cachet/clock.hpp>
#include <cachet/detail/coarse_clock.hpp>
#include <cachet/detail/fixed_string.hpp>
#include <cachet/detail/hash.hpp>
#include <cachet/detail/key/template.hpp>
#include <cachet/detail/memory/reader_slots.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/detail/resilience/option.hpp>
#include <cachet/detail/resilience/rate_key.hpp>
#include <cachet/detail/spinlock.hpp>
#include <cachet/detail/stages.hpp>
#include <cachet/error.hpp>
#include <cachet/errors.hpp>
#include <cachet/options.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

namespace cachet {

/// What cachet::rate_limiter::try_acquire decides about one call.
///
///     if (auto d = limiter.try_acquire(user)) serve(); else reply_429(d.retry_after);
struct rate_limit_decision {
  /// Whether the call is admitted (and counted).
  bool allowed = false;
  /// When rejected: how long until a call with this key is admitted; zero when allowed.
  clock::duration retry_after{};
  /// When allowed: how many more calls with this key would be admitted right now.
  std::uint64_t remaining = 0;

  explicit operator bool() const noexcept { return allowed; }

  friend bool operator==(const rate_limit_decision&, const rate_limit_decision&) = default;
};

namespace detail {

// GCRA, the generic cell rate algorithm: a key's whole state is its "theoretical arrival time"
// (TAT), the time at which its bucket will be full again; a TAT at or before now is a full bucket,
// the state of a key never seen. A call at `now` is admitted when the backlog max(TAT, now) - now
// is at most `tolerance` = interval * (limit - 1), and then moves the TAT one interval on. The
// Lua script of cachet::redis_rate_limiter takes exactly these steps, so that a limit kept in
// Redis decides as a local one does.
struct gcra {
  using rep = clock::duration::rep;

  rep interval;
  rep tolerance;

  static gcra checked(std::uint64_t limit, clock::duration period) {
    if (limit == 0) {
      throw error(
          "cachet::rate_limiter: the limit is 0, which would reject every call; admit at "
          "least 1 call per period");
    }
    if (period.count() <= 0 || static_cast<std::uint64_t>(period.count()) < limit) {
      throw error(
          "cachet::rate_limiter: the period must be positive and at least `limit` "
          "nanoseconds long; use a longer period");
    }
    const rep interval = period.count() / static_cast<rep>(limit);
    return {interval, interval * static_cast<rep>(limit - 1)};
  }

  struct step {
    rate_limit_decision decision;
    rep next;  // the TAT to store when admitted
  };

  // Without `Remaining`, decision.remaining is left 0: callers that only admit or refuse (the
  // rate_limit policy) skip its division, the slowest instruction of the step.
  template <bool Remaining = true>
  step decide(rep seen, rep now) const noexcept {
    const rep start = std::max(seen, now);
    const rep backlog = start - now;
    if (backlog > tolerance) return {{false, clock::duration(backlog - tolerance), 0}, seen};
    const rep next = start + interval;
    std::uint64_t remaining = 0;
    if constexpr (Remaining) {
      const rep room = tolerance - (next - now);
      remaining = room < 0 ? 0 : static_cast<std::uint64_t>(room / interval) + 1;
    }
    return {{true, clock::duration::zero(), remaining}, next};
  }

  template <bool Remaining, class Atomic>
  rate_limit_decision admit(Atomic arrival, rep now) const noexcept {
    rep seen = arrival.load(std::memory_order_relaxed);
    for (;;) {
      const step s = decide<Remaining>(seen, now);
      if (!s.decision.allowed ||
          arrival.compare_exchange_weak(seen, s.next, std::memory_order_relaxed)) {
        return s.decision;
      }
    }
  }
};

struct rate_limiter_access;

}  // namespace detail

/// A local rate limiter, GCRA (the generic cell rate algorithm, a token bucket kept as one
/// number): each key may make `limit` calls per `period` on average, in bursts of up to `limit`
/// calls; one call's worth comes back every `interval() = period / limit`, so a full bucket
/// refills in `period`. Over any span of time t a key gets at most `limit + t / interval()` calls.
///
/// Thread-safe, and no lock or other memory written by one key's calls is written by another
/// key's: each key's state is one atomic updated by compare-and-swap, found in a map split into
/// shards that a thread reads after marking a reader slot of its own (see
/// detail/memory/reader_slots.hpp); a shard's lock is only taken to add or drop keys. The empty
/// key (one limit for everything) needs no map at all. The state is one time value per key, so a
/// shared store can hold it for a distributed limit with the same decisions
/// (cachet::redis_rate_limiter).
///
/// Memory stays bounded by the keys active within the last period: a key whose bucket has
/// refilled is dropped when its shard grows, since its state equals that of a key never seen.
///
///     cachet::rate_limiter per_user(100, std::chrono::minutes(1));
///     if (cachet::rate_limit_decision d = per_user.try_acquire(user_id); !d) {
///       return too_many_requests(d.retry_after);
///     }
class rate_limiter {
 public:
  /// Reads `time` (which must outlive the limiter). Without one it reads the steady clock as of
  /// its last tick (detail::coarse_now: a few milliseconds of resolution, for a fraction of the
  /// cost): decisions are then those of a clock that ticks, so a call may be admitted up to one
  /// tick early, and retry_after includes one tick, so that waiting it is always enough.
  /// \throws cachet::error when limit is 0 or the period is shorter than `limit` nanoseconds.
  rate_limiter(std::uint64_t limit, clock::duration period, const cachet::clock* time = nullptr)
      : time_(time),
        slack_(time != nullptr ? clock::duration::zero() : detail::coarse_resolution()),
        rule_(detail::gcra::checked(limit, period)),
        limit_(limit),
        shards_(std::make_unique<shard[]>(shard_count)),
        readers_(std::make_unique<reader[]>(detail::reader_slot_count)) {
    for (std::size_t i = 0; i < shard_count; ++i) {
      shards_[i].number = static_cast<std::uint32_t>(i + 1);
    }
  }

  rate_limiter(const rate_limiter&) = delete;
  rate_limiter& operator=(const rate_limiter&) = delete;

  /// Admits and counts one call with `key` if its limit allows, else tells when to retry.
  rate_limit_decision try_acquire(std::string_view key) { return acquire<true>(key); }

  /// Calls admitted per period.
  std::uint64_t limit() const noexcept { return limit_; }
  /// The time between two calls at the sustained rate: period / limit.
  clock::duration interval() const noexcept { return clock::duration(rule_.interval); }
  /// The non-empty keys currently kept (those seen recently), for monitoring memory; the empty
  /// key takes no memory of its own.
  std::size_t tracked_keys() const {
    std::size_t total = 0;
    for (std::size_t i = 0; i < shard_count; ++i) {
      std::lock_guard lock(shards_[i].lock);
      total += shards_[i].arrivals.size();
    }
    return total;
  }

 private:
  friend struct detail::rate_limiter_access;
  using rep = detail::gcra::rep;

  template <bool Remaining>
  rate_limit_decision acquire(std::string_view key) {
    rate_limit_decision d = decide<Remaining>(key);
    if (!d.allowed) d.retry_after += slack_;
    return d;
  }

  template <bool Remaining>
  rate_limit_decision decide(std::string_view key) {
    const rep now =
        time_ != nullptr ? time_->now().time_since_epoch().count() : detail::coarse_now();
    if (key.empty()) return rule_.admit<Remaining>(std::atomic_ref<rep>(whole_), now);
    const key_view lookup{key, detail::hash_bytes(key)};
    shard& s = shards_[(lookup.hash >> shard_shift) & (shard_count - 1)];
    if (const int slot = detail::reader_slot(); slot >= 0) {
      reader& r = readers_[static_cast<std::size_t>(slot)];
      if (enter(r, s)) {
        const auto it = s.arrivals.find(lookup);
        const bool found = it != s.arrivals.end();
        const rate_limit_decision decision =
            found ? rule_.admit<Remaining>(std::atomic_ref<rep>(it->second), now)
                  : rate_limit_decision{};
        r.reading.store(0, std::memory_order_release);
        if (found) return decision;
      }
    }
    exclusive lock(*this, s);
    auto it = s.arrivals.find(lookup);
    if (it == s.arrivals.end()) {
      if (s.arrivals.size() >= s.sweep_at) sweep(s, now);
      it = s.arrivals.emplace(stored_key{std::string(key), lookup.hash}, fresh).first;
    }
    return rule_.admit<Remaining>(std::atomic_ref<rep>(it->second), now);
  }

  // Keys short enough for the string's own buffer (15 bytes with libstdc++) sit in the map's
  // slot next to their TAT: a lookup reads the map's metadata and one slot.
  struct stored_key {
    std::string text;
    std::uint64_t hash;
  };
  struct key_view {
    std::string_view text;
    std::uint64_t hash;
  };
  struct key_hash {
    using is_transparent = void;
    using is_avalanching = void;
    std::size_t operator()(const stored_key& k) const noexcept { return k.hash; }
    std::size_t operator()(const key_view& k) const noexcept { return k.hash; }
  };
  struct key_equal {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return a.hash == b.hash && std::string_view(a.text) == std::string_view(b.text);
    }
  };

  // Values at or before now mean a full bucket, the state of a key never seen.
  static constexpr rep fresh = std::numeric_limits<rep>::min();

  static constexpr std::size_t shard_count = 64;
  // The map places keys by the hash's top bits and filters by its low byte: shards take bits
  // that neither uses until a shard holds millions of keys.
  static constexpr int shard_shift = 40;
  static constexpr std::size_t min_sweep = 64;

  // Writers take the lock and wait until no reader slot shows this shard;
  // readers write only their own slot's line and the key's atomic.
  struct alignas(64) shard {
    mutable detail::spinlock lock;
    std::uint32_t number = 0;  // index + 1, as reader slots record it
    // TATs are updated through std::atomic_ref by readers; the map moves them (rehash, erase)
    // only while it is held exclusively.
    boost::unordered_flat_map<stored_key, rep, key_hash, key_equal> arrivals;
    std::size_t sweep_at = min_sweep;
  };

  struct alignas(64) reader {
    std::atomic<std::uint32_t> reading{0};  // the shard number being read, 0 = none
  };

  // False while a writer holds the shard: the caller then takes the writers' path.
  static bool enter(reader& r, const shard& s) noexcept { return detail::try_enter(r, s); }

  // Exclusive access to a shard: no other writer, and no reader inside it.
  class exclusive : detail::exclusive_shard<shard> {
   public:
    exclusive(const rate_limiter& limiter, shard& s) noexcept
        : detail::exclusive_shard<shard>(limiter.readers_.get(), s) {}
  };

  // Drops the keys whose buckets are full again. Sweeping when the shard has doubled since the
  // last sweep keeps the cost amortised O(1) per new key.
  static void sweep(shard& s, rep now) {
    boost::unordered::erase_if(s.arrivals,
                               [now](const auto& entry) { return entry.second <= now; });
    s.sweep_at = std::max(min_sweep, 2 * s.arrivals.size());
  }

  const cachet::clock* time_;
  clock::duration slack_;  // added to retry_after: how far behind the time read may be
  detail::gcra rule_;
  std::uint64_t limit_;
  std::unique_ptr<shard[]> shards_;
  std::unique_ptr<reader[]> readers_;
  alignas(64) rep whole_ = fresh;  // the empty key's TAT, only used through std::atomic_ref
};

namespace detail {

// The steps of a rate_limiter on a state kept elsewhere: the Gate (see detail/memory/store.hpp)
// of an in-memory store into which cached<> fuses a rate_limit whose key is the store's, so that
// a hit checks the limit on the entry it has found. Same rule and retry_after as the limiter the
// policy builds otherwise; the time is the store's, read once for the entry's expiry and the
// limit: options::clock, else the memory backend's, which is the same coarse steady clock as
// the limiter's unless the backend was given a clock of its own (then the limit follows it, as
// options::clock says).
struct gcra_gate {
  using state = gcra::rep;
  using decision = rate_limit_decision;
  static constexpr state initial = std::numeric_limits<state>::min();

  gcra rule;
  clock::duration slack;  // as rate_limiter's: how far behind the time read may be

  decision admit(std::atomic_ref<state> arrival, state at) const noexcept {
    return rule.admit<false>(arrival, at);
  }
  // A full bucket, the state of a key never seen.
  static bool idle(state arrival, state at) noexcept { return arrival <= at; }
  [[noreturn]] void refuse(const decision& d) const { throw rate_limited(d.retry_after + slack); }
};

// What the rate_limit policy calls: a decision without `remaining`, which it does not report.
struct rate_limiter_access {
  static rate_limit_decision admit(rate_limiter& limiter, std::string_view key) {
    return limiter.acquire<false>(key);
  }
};

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

// A limit kept outside the process, which every process reaching it shares.
class shared_rate_limiter {
 public:
  virtual ~shared_rate_limiter() = default;
  virtual rate_limit_decision try_acquire(std::string_view key) = 0;
};

struct shared_rate_limit_settings {
  std::string_view scope;  // names the limited function; keys of two scopes never meet
  std::uint64_t limit;
  clock::duration period;
  const cachet::clock* time;  // null: the shared store's own clock
};

// Customisation point of cachet::rate_limit: a backend whose stores are shared between processes
// (cachet::redis) specialises it with
//   static std::unique_ptr<shared_rate_limiter> make(Backend&, const shared_rate_limit_settings&);
// so that rate_limit keeps its limits there. This header knows no backend: the specialisation
// lives with the backend (<cachet/redis/rate_limiter.hpp> for Redis).
template <class Backend>
struct shared_rate_limits {};

template <class Backend>
concept shares_rate_limits = requires(Backend& b, const shared_rate_limit_settings& s) {
  { shared_rate_limits<Backend>::make(b, s) } -> std::same_as<std::unique_ptr<shared_rate_limiter>>;
};

// A backend with coroutines also gives, for cached<>::async(),
//   static Awaitable<rate_limit_decision> async_try_acquire(shared_rate_limiter&, std::string key);
// which the limiter that make() returned answers without blocking.
template <class Backend>
concept awaits_rate_limits = requires(shared_rate_limiter& limiter, std::string key) {
  shared_rate_limits<Backend>::async_try_acquire(limiter, std::move(key));
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
