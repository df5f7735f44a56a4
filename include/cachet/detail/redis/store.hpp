#ifndef CACHET_DETAIL_REDIS_STORE_HPP
#define CACHET_DETAIL_REDIS_STORE_HPP

#include <cachet/clock.hpp>
#include <cachet/codec.hpp>
#include <cachet/detail/callback_ref.hpp>
#include <cachet/detail/hash.hpp>
#include <cachet/detail/linkage.hpp>
#include <cachet/detail/redis/backend_breaker.hpp>
#include <cachet/detail/redis/backend_runtime.hpp>
#include <cachet/detail/redis/lease_keeper.hpp>
#include <cachet/detail/redis/store_entry.hpp>
#include <cachet/detail/store_settings.hpp>
#include <cachet/error.hpp>
#include <cachet/jitter.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>
#include <cachet/stats.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace cachet::detail {

template <class T>
inline constexpr bool is_awaitable = false;
template <class T, class Executor>
inline constexpr bool is_awaitable<boost::asio::awaitable<T, Executor>> = true;

// What a Redis store does that does not depend on its value type: the key layout of its entries,
// its counters, the breaker's leave, and the read, write and lease-release scripts' calls (the
// guarded I/O of a write and a lease release). One class for every value type, so that a unit
// with several Redis-cached functions compiles these (and their coroutines) once, not once per
// value type (#10).
class redis_store_core {
 protected:
  using ticket = redis_backend_breaker::ticket;

  struct flight_base;
  // Makes the typed store's flight (see flight_base).
  using flight_maker = std::shared_ptr<flight_base> (*)(std::string key, std::string stamp,
                                                        std::string permit, std::uint64_t epoch);

  CACHET_DECL redis_store_core(const store_settings& settings, lifetime_reports lifetimes,
                               flight_maker make_flight);

  redis_store_core(const redis_store_core&) = delete;
  redis_store_core& operator=(const redis_store_core&) = delete;
  ~redis_store_core() = default;

  struct counters {
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> misses{0};
    std::atomic<std::uint64_t> loads{0};
    std::atomic<std::uint64_t> load_errors{0};
    std::atomic<std::uint64_t> expirations{0};
    std::atomic<std::uint64_t> invalidations{0};
    std::atomic<std::uint64_t> decode_errors{0};
    std::atomic<std::uint64_t> backend_errors{0};
    std::atomic<std::uint64_t> stale_served{0};
    std::atomic<std::uint64_t> backend_skipped{0};
    // Written only under flights_mutex_, as `misses` is: counted by a load and a store, without
    // the locked instruction of fetch_add, which a degraded call would otherwise pay for three
    // times. stats() adds them to loads and backend_skipped.
    std::atomic<std::uint64_t> unread_loads{0};
    std::atomic<std::uint64_t> unread_skips{0};
  };

  // A counter that only writers holding flights_mutex_ change.
  static void count_locked(std::atomic<std::uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // The breaker's leave for one Redis operation; a refusal is counted here.
  CACHET_DECL ticket admit(redis_runtime& rt);

  // The time `f` is measured in (see store_entry.hpp).
  CACHET_DECL std::int64_t now_ms() const;

  // How long a permit waits for its write: a load may take this long and still be stored. The
  // ttl when longer, so that the permit of an entry that lives long does not shorten it, and
  // the lease when longer, so that the lease is not dropped with the entry.
  CACHET_DECL std::int64_t load_window_ms() const;

  // The one place that decides what a failed Redis operation means: the call goes on without
  // Redis, except when the caller itself cancelled it.
  CACHET_DECL void backend_failed(const std::exception_ptr& e);

  // An entry's Redis key, and the bucket that holds it and the counters it depends on (one
  // bucket on one server; on a cluster, the one its key hashes to, see key_layout.hpp).
  struct entry_location {
    std::string key;
    const key_bucket* bucket;
  };

  // The bucket hashes the key's part after the base, so that part is written first and the base
  // put in front of it, in one allocation.
  CACHET_DECL entry_location locate(const redis_runtime& rt, std::string_view key) const;

  // A function object has no name; its key template tells it from the others instead, so that
  // its clear() does not make every function object's entries stale.
  std::string function_counter() const { return "fn:" + (name_.empty() ? key_template_ : name_); }

  std::string function_key(const key_bucket& bucket) const {
    return bucket.counter_base + function_counter();
  }

  // The entry of `key`, then the counters it depends on, all in its bucket: KEYS of both
  // scripts.
  CACHET_DECL std::vector<std::string> entry_keys(entry_location at,
                                                  const std::vector<std::string>& tags) const;

  // A failed operation's verdict goes to the breaker before the call decides what it means.
  void operation_failed(ticket& t, const std::exception_ptr& e) {
    t.report(e);
    backend_failed(e);
  }

  // What a read asks for: the entry's key, then the counters it depends on (entry_keys), and
  // their bucket.
  struct read_target {
    std::vector<std::string> keys;
    const key_bucket* bucket;
  };

  CACHET_DECL read_target read_keys(const redis_runtime& rt, std::string_view key,
                                    const std::vector<std::string>& tags) const;

  // The read script's call for `target`. `leased`: a call's read, which takes or reports
  // cachet::lease (a batch's does neither: it does not wait for another's computation, so it
  // takes no lease that would make others wait).
  CACHET_DECL script_call read_call(redis_runtime& rt, read_target target, const char* mode,
                                    bool leased);

  // While this store's reads keep finding current entries, a read first asks for the entry and
  // its counters with plain commands (HMGET, MGET, and PTTL when hits report their lifetime),
  // which cost Redis a fraction of a script (measured: 0.4 us against 4.6 us per read), and
  // checks the stamp here, as the read script would. Only a current, fresh entry is answered
  // that way; anything else (missing, invalidated, expired, malformed, a missing counter, a key
  // of another type) goes on to the script, which gives the permit or reports it.
  //
  // Why no confirmed invalidation is missed without the script's atomicity: the counters are
  // read after the entry, in one pipeline on one connection, so an invalidation applied before
  // the entry was read shows in both (the entry is gone, or a counter holds another token than
  // the stamp), and one applied between the two reads shows in the counters. One applied later
  // falls after this read, as it would after the script's.
  //
  // Returns, per call, the read script's hit reply ({1, v, f or '', [pttl]}) for an entry found
  // current and fresh, else a null value.
  CACHET_DECL boost::asio::awaitable<std::vector<resp3::value>> read_hits(
      redis_runtime& rt, const std::vector<read_target>& targets);

  // The read script's test of a hit in load mode, on the replies of HMGET v g f and MGET of the
  // counters (the target's keys after the entry, under its bucket's counter base).
  CACHET_DECL static bool current_and_fresh(const read_target& target, const resp3::value& entry,
                                            const resp3::value& tokens, std::int64_t now);

  // What the write script of one result needs.
  struct entry_write {
    std::string key;
    std::vector<std::string> tags;
    std::string stamp;
    std::string permit;
    std::string value;
    std::string fresh_until;   // empty without fail_safe
    std::string lease_holder;  // this backend's, if the flight holds the lease; else empty
    // This write's ttl: the store's, or with cachet::jitter drawn for it (in encode, so that
    // fresh_until and the PX agree).
    std::chrono::nanoseconds ttl{0};
  };

  CACHET_DECL script_call write_call(const redis_runtime& rt, const entry_write& w) const;

  CACHET_DECL boost::asio::awaitable<void> write(redis_runtime& rt, entry_write w, ticket t);

  // The write scripts of `writes`, in one pipeline. A refused write (an invalidation came
  // between the read and the write) is no error. An error reply (OOM under maxmemory, say) fails
  // the write but proves Redis answers: it is counted in backend_errors and is no failure for
  // the breaker.
  CACHET_DECL boost::asio::awaitable<void> write_many(redis_runtime& rt,
                                                      std::vector<entry_write> writes, ticket t);

  // Best effort: a lease left behind only makes others wait until it runs out.
  CACHET_DECL boost::asio::awaitable<void> give_up_lease(redis_runtime& rt, std::string key);

  // What a read found, but for a hit's value: the typed store decodes that itself, through a
  // hit_decoder, so that the reads below are compiled once, not once per value type.
  struct read_state {
    bool is_hit = false;      // a hit whose value the decoder took
    std::string stamp;        // empty without a permit (Redis was not read): nothing is written
    std::string permit;       // the write permit the read script gave
    std::uint64_t epoch = 0;  // redis_runtime::tag_epoch() before the read
    // With cachet::lease: "mine" when this backend may compute the miss, else the time (ms of
    // the store's clock) until which another process holds the lease; empty without one.
    std::string lease;
    // A hit's `f` (ms of the store's clock until which it is fresh), -1 without one.
    std::int64_t fresh_until = -1;
    // A hit's time to live (hit_lifetime), -1 when unknown or unbounded.
    std::int64_t remaining_ms = -1;
  };

  // Takes the stored value of the read's `index`-th key; false when the codec cannot decode it
  // (foreign input: the entry is then read again in reload mode, for a permit). A read that fails
  // after decoding reports no hit, so a decoded value counts only where is_hit says so.
  using hit_decoder = callback_ref<bool(std::size_t index, const std::string& stored)>;

  // A read that may decode, else the miss its reply describes, counting what it finds.
  // Returns whether the hit could not be decoded (then the read is made again in reload mode).
  CACHET_DECL bool classify(const resp3::value& reply, read_state& out, std::size_t index,
                            hit_decoder decode);

  // The read script for each of `keys` (distinct), in one pipeline; those whose hit could not be
  // decoded are read again in reload mode (a second pipeline), which gives them a permit.
  // `mode` "reload": a miss whatever the entry holds, for a refresh's permit (store_entry.hpp).
  CACHET_DECL boost::asio::awaitable<std::vector<read_state>> read_many(
      redis_runtime& rt, std::span<const std::string> keys,
      std::span<const std::vector<std::string>> tags, ticket t, bool leased, const char* mode,
      hit_decoder decode);

  // One call's read (leased), as a blocking call makes it and as a coroutine awaits it.
  CACHET_DECL boost::asio::awaitable<read_state> read(redis_runtime& rt, const std::string& key,
                                                      const std::vector<std::string>& tags,
                                                      ticket t, const char* mode,
                                                      hit_decoder decode);
  CACHET_DECL read_state read_now(redis_runtime& rt, const std::string& key,
                                  const std::vector<std::string>& tags, ticket t, const char* mode,
                                  hit_decoder decode);
  CACHET_DECL boost::asio::awaitable<read_state> read_on_io(redis_runtime& rt,
                                                            const std::string& key,
                                                            const std::vector<std::string>& tags,
                                                            ticket t, hit_decoder decode);
  // A batch's read: no lease (see read_call).
  CACHET_DECL boost::asio::awaitable<std::vector<read_state>> read_many_on_io(
      redis_runtime& rt, const std::vector<std::string>& keys,
      const std::vector<std::vector<std::string>>& tags, ticket t, hit_decoder decode);

  // peek and stale know no tags: the script checks the counters the entry's stamp names.
  // `expired_too`: past `f`, but not by more than max_stale, is found as well. Returns whether
  // the value the decoder took may be served.
  CACHET_DECL boost::asio::awaitable<bool> find_stored(redis_runtime& rt, std::string key,
                                                       bool expired_too, ticket t,
                                                       hit_decoder decode);
  CACHET_DECL bool find_stored_now(redis_runtime& rt, std::string key, bool expired_too, ticket t,
                                   hit_decoder decode);
  CACHET_DECL boost::asio::awaitable<bool> find_stored_on_io(redis_runtime& rt, std::string key,
                                                             bool expired_too, ticket t,
                                                             hit_decoder decode);

  // The writes and lease releases, as a blocking call makes them and as a coroutine awaits them.
  CACHET_DECL void write_now(redis_runtime& rt, entry_write w, ticket t);
  CACHET_DECL boost::asio::awaitable<void> write_on_io(redis_runtime& rt, entry_write w, ticket t);
  CACHET_DECL boost::asio::awaitable<void> write_many_on_io(redis_runtime& rt,
                                                            std::vector<entry_write> writes,
                                                            ticket t);
  CACHET_DECL void give_up_lease_now(redis_runtime& rt, std::string key);
  CACHET_DECL boost::asio::awaitable<void> give_up_lease_on_io(redis_runtime& rt, std::string key);

  // cachet::early_refresh: less than (100 - P)% of the ttl is left of the hit's freshness.
  CACHET_DECL bool due_for_refresh(const read_state& found) const;

  static bool held_by_another(const std::string& lease) noexcept {
    return !lease.empty() && lease != "mine";
  }

  // The pause before the next read while another holds the lease: 1 ms, doubling up to 50 ms,
  // and never past the lease's end, when this store may take it.
  CACHET_DECL std::chrono::milliseconds lease_pause(const std::string& lease, unsigned polls) const;

  [[noreturn]] CACHET_DECL static void throw_recursion();

  // A waiting coroutine: resumed on its own executor, which it keeps from running out of work.
  struct async_waiter {
    virtual ~async_waiter() = default;
    virtual void resume() = 0;
  };
  template <class Handler>
  struct async_waiter_of final : async_waiter {
    explicit async_waiter_of(Handler h)
        : handler(std::move(h)), work(boost::asio::make_work_guard(handler)) {}
    void resume() override {
      auto ex = boost::asio::get_associated_executor(handler);
      boost::asio::post(ex, std::move(handler));
    }
    Handler handler;
    boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler>> work;
  };

  // A computation of one key under way in this process (single flight), but for its result,
  // which the typed store's flight adds.
  struct flight_base {
    flight_base(std::string k, std::string s, std::string p, std::uint64_t e)
        : key(std::move(k)), stamp(std::move(s)), permit(std::move(p)), epoch(e) {}
    flight_base(const flight_base&) = delete;
    flight_base& operator=(const flight_base&) = delete;
    std::string key;
    std::string stamp;
    std::string permit;
    std::uint64_t epoch;
    bool holds_lease = false;  // the leader's read gave it the lease: its write or failure ends it
    std::thread::id leader = std::this_thread::get_id();
    // A blocking call leads it: its thread runs nothing but the function until it is done.
    bool led_blocking = false;
    // Set (under m) as an async leader's load starts: the cancellation slot of the awaitable
    // thread the load runs on, which names it to the coroutines that load awaits.
    boost::asio::cancellation_slot load_slot;
    bool doomed = false;      // guarded by flights_mutex_
    std::size_t joiners = 0;  // guarded by flights_mutex_
    std::mutex m;
    std::condition_variable done_cv;
    bool done = false;
    std::exception_ptr error;
    std::vector<std::unique_ptr<async_waiter>> async_waiters;
  };

  // A computation that did not read Redis, as its caller first enters it in the table: no flight
  // yet, only what a second caller needs to decide whether it may join. Lives in the caller's
  // frame; reached only under flights_mutex_.
  struct claim {
    explicit claim(std::uint64_t e) : epoch(e) {}
    std::uint64_t epoch;
    std::thread::id leader = std::this_thread::get_id();
    bool doomed = false;
    std::shared_ptr<flight_base> joined;  // made by the first caller that joins
  };

  // What the table holds for a key: a flight, a claim, or a claim that a caller joined (both).
  struct flight_entry {
    std::shared_ptr<flight_base> f;
    claim* c = nullptr;

    // A caller that read another permit saw the entry deleted (an invalidate) since this
    // computation's read: it must not get its result.
    bool joinable(const read_state& found) const {
      if (f) {
        return !f->doomed && f->stamp == found.stamp && f->permit == found.permit &&
               f->epoch == found.epoch;
      }
      return !c->doomed && found.stamp.empty() && c->epoch == found.epoch;
    }

    void doom() {
      if (f) f->doomed = true;
      if (c) c->doomed = true;
    }
  };

  // A claim turns into a flight when the first caller joins it. Under flights_mutex_.
  CACHET_DECL std::shared_ptr<flight_base> join(flight_entry& entry, const std::string& key);

  // Misses are counted here, under the lock that publishes flights, so that once `misses`
  // reaches N every one of N callers has led or joined a flight. Returns the flight and whether
  // this caller leads it.
  CACHET_DECL std::pair<std::shared_ptr<flight_base>, bool> enter_flight(const std::string& key,
                                                                         read_state found,
                                                                         bool blocking);

  // A reload's flight, entered only when no load of the key is under way here.
  CACHET_DECL std::shared_ptr<flight_base> enter_flight_if_alone(const std::string& key,
                                                                 read_state found);

  // An unread computation's claim (see unread_miss()); returns the flight to wait
  // for instead when the key's computation may be joined.
  CACHET_DECL std::shared_ptr<flight_base> enter_claim(const std::string& key, claim& mine,
                                                       bool skipped);

  // Takes `mine` out of the table; returns the flight of the callers that joined it, if any.
  CACHET_DECL std::shared_ptr<flight_base> leave(const std::string& key, claim& mine, bool loaded);

  // A read made while waiting for the lease's holder missed again: the flight computes (when
  // the lease is this store's now, or Redis did not answer) or waits on, under what that read
  // gave, since the entry may have been invalidated and given a new permit meanwhile. Without a
  // permit (Redis failed or was skipped), nothing is written. Returns the read's lease.
  CACHET_DECL std::string adopt(flight_base& f, read_state& again);

  CACHET_DECL bool may_write(const flight_base& f);
  CACHET_DECL void doom(std::string_view key);
  CACHET_DECL void doom_all();

  // The flight leaves the table only after its write, so that a caller whose read raced the
  // write joins it instead of computing again. Returns whether any caller joined it.
  CACHET_DECL bool retire(const flight_base& f);

  // A miss that leads or joins no flight (a position of a batch that shares another's).
  CACHET_DECL void count_miss();

  // cachet::lease: extended while this leader computes (lease_keeper.hpp).
  CACHET_DECL void keep_lease(std::optional<lease_keeper>& keeper, redis_runtime& rt,
                              const flight_base& f);

  // f is done (its typed result set, if any, under f.m): records `error`, wakes its waiters.
  CACHET_DECL static void complete(flight_base& f, std::exception_ptr error);

  // wait_done_async's initiation: the awaiting coroutine's handler waits with f, or resumes at
  // once when f is done. A member type, not a lambda: a non-inline coroutine's frame may not
  // hold a type without linkage (g++ -Wsubobject-linkage).
  struct done_initiation {
    flight_base* waited;
    template <class Handler>
    void operator()(Handler handler) const {
      std::unique_lock lock(waited->m);
      if (!waited->done) {
        waited->async_waiters.push_back(
            std::make_unique<async_waiter_of<Handler>>(std::move(handler)));
        return;
      }
      lock.unlock();
      auto ex = boost::asio::get_associated_executor(handler);
      boost::asio::post(ex, std::move(handler));
    }
  };

  // Until f is done; a leader's own thread waiting would wait for itself.
  CACHET_DECL static void wait_done(flight_base& f);
  CACHET_DECL static boost::asio::awaitable<void> wait_done_async(flight_base& f);

  // Whether the coroutine about to wait for `f` is part of f's own computation, which would
  // then wait for itself. A blocking leader's thread runs nothing but its function until the
  // flight is done (a coroutine function on a private io_context), so a coroutine on that thread
  // is part of it. An async leader's load runs on an awaitable thread of its own (lead_into()),
  // and every coroutine it awaits shares that thread's cancellation state.
  CACHET_DECL static boost::asio::awaitable<bool> is_own_load(flight_base& f);

  // What the paths of a miss need of the value type, as plain functions, so that the paths are
  // compiled once for every value type (#10). A `slot` is an std::optional<Value>, engaged where
  // it is read.
  struct value_ops {
    void (*keep)(flight_base& f, const void* slot);  // f's result := *slot's value (under f.m)
    void (*take)(flight_base& f, void* slot);        // *slot := a copy of f's result (under f.m)
    std::string (*encode)(const void* slot);         // the codec's text of *slot's value
  };

  // Answers f's waiters: with the value in `slot` if given, else with `error`.
  CACHET_DECL static void publish(flight_base& f, const value_ops& ops, const void* slot,
                                  std::exception_ptr error);

  // f's result into `slot`, or f's exception thrown; f is done.
  CACHET_DECL static void take_result(flight_base& f, const value_ops& ops, void* slot);

  // The caller that computes a flight. Whatever ends the computation (a result, an exception,
  // or the coroutine being destroyed mid-way), its waiters are answered and the flight retired.
  struct leader {
    leader(redis_store_core* s, std::shared_ptr<flight_base> fl, const value_ops& o)
        : store(s), f(std::move(fl)), ops(&o) {}
    leader(const leader&) = delete;
    leader& operator=(const leader&) = delete;
    CACHET_DECL ~leader();
    CACHET_DECL void succeed(const void* slot);
    // A result that is not written (Redis was not read): with no write to wait for, the flight
    // leaves the table first, and its value is copied for waiters only if a caller joined.
    CACHET_DECL void succeed_unwritten(const void* slot);
    CACHET_DECL void fail(std::exception_ptr error);
    // The lease's holder wrote the value while this flight waited for it: no load, no write.
    CACHET_DECL void answer(const void* slot);

    redis_store_core* store;
    std::shared_ptr<flight_base> f;
    const value_ops* ops;
    bool published = false;
    bool retired = false;
    unsigned polls = 0;  // reads made while another process held the lease
  };

  // Encoding happens before any write is sent; a value that cannot be encoded is not stored
  // (and counted like a failed write), the call still returns it.
  CACHET_DECL std::optional<entry_write> encode(const redis_runtime& rt, const flight_base& f,
                                                const std::vector<std::string>& tags,
                                                const value_ops& ops, const void* slot);

  struct prepared_write {
    entry_write entry;
    ticket admission;  // the breaker's leave for the write
  };

  // What the leader of `f` writes: nothing if the flight may not write, the value cannot be
  // encoded, or the breaker (asked last, so that no probe is spent on nothing) refuses.
  CACHET_DECL std::optional<prepared_write> prepare_write(redis_runtime& rt, const flight_base& f,
                                                          const std::vector<std::string>& tags,
                                                          const value_ops& ops, const void* slot);

  // What a call's miss is given by its typed caller: where its result goes, how a hit read while
  // it waits for another's lease is decoded into it, and the caller's hit_lifetime, if any.
  struct miss_target {
    const value_ops* ops;
    void* slot;
    hit_decoder decode;  // into slot
    hit_lifetime* life;
  };

  // A call that read Redis and missed (`found`, with its epoch): it joins the key's computation
  // under way here, or leads one (waiting first while another process holds the lease), runs
  // `compute`, which puts the result into the slot, and writes it. The result is in the slot
  // when this returns; an exception of `compute` (or of the computation joined) is thrown.
  CACHET_DECL void blocking_miss(redis_runtime& rt, const std::string& key,
                                 const std::vector<std::string>& tags, read_state found,
                                 miss_target to, callback_ref<void(std::string_view)> compute);

  // The same for a coroutine. Its `compute` starts the computation (see redis_store::lead_into),
  // given the flight, and its read may have been skipped by the breaker (no stamp): then the
  // result is not written.
  using async_compute =
      callback_ref<boost::asio::awaitable<void>(const std::shared_ptr<flight_base>&)>;
  CACHET_DECL boost::asio::awaitable<void> async_miss(redis_runtime& rt, const std::string& key,
                                                      const std::vector<std::string>& tags,
                                                      read_state found, miss_target to,
                                                      async_compute compute);

  // A blocking call whose Redis read was skipped (the breaker is open) or failed: the function's
  // result is returned and not written. Single flight still holds, since an outage must not turn
  // into a stampede on the origin, but in the form a call costing nanoseconds can afford: the
  // caller that computes enters only a claim in the table (no allocation for a short key, one
  // lock to enter it, one to leave), and a flight with its lock and condition variable is made
  // only when a second caller comes for the same key (flight_entry::join). Measured (bench/
  // RESULTS.md, "Degraded mode"): a flight per call made a degraded call add ~200 ns; with the
  // claim it adds ~115 ns, of which the claim is ~45 ns.
  CACHET_DECL void unread_miss(const std::string& key, std::uint64_t epoch, bool skipped,
                               const value_ops& ops, void* slot,
                               callback_ref<void(std::string_view)> compute);

  CACHET_DECL cachet::stats stats() const;

  // Redis operations of coroutines run where the link they use lives: on the caller's own
  // thread when it runs the application's io_context the backend was given (its link lives
  // there), else on the backend's I/O thread, so that a client's strand and its
  // reference-counted executors stay on the threads of its io_context and the caller's executor
  // only sees the hop there and back.
  template <class T>
  static boost::asio::awaitable<T> on_io(redis_runtime& rt, boost::asio::awaitable<T> op) {
    if (rt.serves_this_thread()) return op;
    return boost::asio::co_spawn(rt.context(), std::move(op), boost::asio::use_awaitable);
  }

  std::chrono::nanoseconds ttl_;
  unsigned jitter_percent_;             // cachet::jitter; 0 without
  unsigned refresh_percent_;            // cachet::early_refresh; 0 without
  std::chrono::nanoseconds max_stale_;  // 0 unless fail_safe with a ttl
  std::int64_t lease_ms_;               // cachet::lease, 0 for none
  bool reports_hit_lifetime_;           // lifetime_reports::on: a memory tier in front
  const cachet::clock* clock_;          // null: the system clock
  std::string name_;
  std::string key_template_;
  bool has_key_template_;
  counters counts_;
  // Whether the last read of this store mostly found current entries: then the next read in load
  // mode tries read_hits() first, else the script alone (a miss would pay a round trip for
  // nothing). Any thread; a stale view costs at most one round trip.
  std::atomic<bool> reads_find_entries_{false};
  flight_maker make_flight_;
  std::mutex flights_mutex_;
  boost::unordered_flat_map<std::string, flight_entry, string_hash, std::equal_to<>> flights_;
};

// The results of one cached function in Redis. See store_entry.hpp for what is stored and the
// scripts that read and write it, cachet::redis for the key layout.
//
// A read is one round trip, the read script (EVALSHA) over the entry and its counters: a hit
// returns the value; a miss returns the stamp the result will carry and a write permit. While
// reads keep hitting, a read is plain commands checked here instead (read_hits()), and only what
// they do not find current goes on to the script. The miss's write is one more round trip, the
// write script, which stores the result only if neither the permit nor a counter was touched
// since. Misses on one key in this process are computed once (single flight); a caller joins a
// computation only if it read the same stamp and permit, so an invalidation seen by the caller is
// never answered with an older result. A function that awaits its own cache with the same
// arguments gets a cachet::error instead of waiting for itself (is_own_load()). Redis failing
// never fails a call: the function's result is returned and the failure counted (see
// backend_failed()).
//
// Why a confirmed invalidation is never undone: scripts run atomically, so an invalidation falls
// before or after each of them. A result is computed after its read script ran. If the
// invalidation came before that read, the computation saw the new data. If it came between the
// read and the write script, a DEL (invalidate) has destroyed the permit, or a SET
// (invalidate_tag, clear) has changed a token of the stamp, so the write is refused. If it came
// after the write, it removes (DEL) or outdates (SET) what was written. An evicted permit refuses
// the write too: a lost write, never a stale value. A permit kept for a second process is still
// one no invalidation has touched since the first process's read, and each write checks its own
// stamp, so sharing it changes none of the above. In the process, a caller joins a computation
// only if it read the same stamp and the same permit: a DEL since the computation's read gives
// the next read a new permit.
//
// Every Redis operation of a call asks the backend's breaker first (backend_breaker.hpp). One it
// refuses is skipped, counted in backend_skipped: a read is a miss that is computed but not
// written, a write is dropped, peek() and stale() find nothing. Invalidations are never skipped.
//
// An admitted operation first has the backend replay the invalidations that failed earlier
// (redis_runtime::confirm_invalidations()): until they are confirmed, an entry one of them should
// have removed may still be in Redis, so the operation fails like one Redis did not answer (the
// call goes on without Redis, backend_errors).
template <class Value, std::size_t TagCount, class Codec, class Backend>
class redis_store : redis_store_core {
  using ticket = redis_backend_breaker::ticket;

 public:
  redis_store(Backend& backend, const store_settings& settings,
              lifetime_reports lifetimes = lifetime_reports::off)
      : redis_store_core(settings, lifetimes, &redis_store::make_flight), backend_(&backend) {}

  redis_store(const redis_store&) = delete;
  redis_store& operator=(const redis_store&) = delete;

  using redis_store_core::stats;

  // Blocking: Redis is reached on a connection this thread drives (redis_runtime::run); the
  // function runs on the caller's thread (a coroutine function on a private io_context, also on
  // this thread).
  template <class ForEachTag, class Load>
  Value get_or_load(std::string_view key, ForEachTag&& for_each_tag, Load&& load) {
    return get_or_load(key, for_each_tag, load, nullptr, nullptr);
  }

  // cachet::early_refresh: the same, and `due` tells whether a hit's entry is due for a
  // refresh (settings.refresh_percent of its ttl has passed), which the caller may then start
  // with reload(). Each entry then carries `f`, until when it is fresh by the store's clock.
  template <class ForEachTag, class Load>
  Value get_or_load(std::string_view key, ForEachTag&& for_each_tag, Load&& load,
                    refresh_due& due) {
    return get_or_load(key, for_each_tag, load, &due.value, nullptr);
  }

  // A memory tier in front: `life` tells what a hit's entry has left to live (it stays -1 when
  // this call computed the value: its write's ttl is the store's). Only a store made with
  // lifetime_reports::on reads it; another leaves it -1.
  template <class ForEachTag, class Load>
  Value get_or_load(std::string_view key, ForEachTag&& for_each_tag, Load&& load, refresh_due& due,
                    hit_lifetime& life) {
    return get_or_load(key, for_each_tag, load, &due.value, &life);
  }

  // cachet::early_refresh: computes key again while its entry is still served, and writes the
  // result as a miss does, under a permit of a read made now (an invalidation during the load
  // refuses the write; a caller that misses meanwhile with the same permit joins the load).
  // Returns false, starting nothing, when a load of key is under way here, another process holds
  // its cachet::lease (so one process in the fleet refreshes it), or Redis cannot be read. An
  // exception of load is counted in load_errors and not thrown: the entry stays until it expires.
  template <class ForEachTag, class Load>
  bool reload(std::string_view key, ForEachTag&& for_each_tag, Load&& load) {
    redis_runtime& rt = backend_->runtime();
    rt.require_off_io_thread("a background refresh");
    const std::uint64_t epoch = rt.tag_epoch();
    ticket t = admit(rt);
    if (!t.admitted()) return false;
    std::vector<std::string> tags;
    tags.reserve(TagCount);
    for_each_tag([&](std::string_view tag) { tags.emplace_back(tag); });
    std::string owned_key(key);
    std::optional<Value> result;
    auto decode = decoder(result);  // a read in reload mode finds no hit to decode
    read_state found = read_now(rt, owned_key, tags, std::move(t), "reload", decode);
    if (found.stamp.empty()) return false;
    // With cachet::lease the refresh is the fleet's: another process holding the lease refreshes
    // (or computes) this entry now.
    if (held_by_another(found.lease)) return false;
    const bool holds_lease = found.lease == "mine";
    found.epoch = epoch;
    std::shared_ptr<flight_base> unique = enter_flight_if_alone(owned_key, std::move(found));
    if (!unique) {
      if (holds_lease) give_up_lease_now(rt, owned_key);
      return false;
    }
    leader lead{this, std::move(unique), ops};
    flight_base& f = *lead.f;
    f.holds_lease = holds_lease;
    try {
      std::optional<lease_keeper> keeper;
      keep_lease(keeper, rt, f);
      result.emplace(run_load(load, std::string_view(f.key)));
    } catch (...) {
      lead.fail(std::current_exception());
      if (f.holds_lease) give_up_lease_now(rt, f.key);
      return true;
    }
    lead.succeed(&result);
    if (std::optional<prepared_write> w = prepare_write(rt, f, tags, ops, &result)) {
      write_now(rt, std::move(w->entry), std::move(w->admission));
    } else if (f.holds_lease) {
      give_up_lease_now(rt, f.key);
    }
    return true;
  }

 private:
  template <class ForEachTag, class Load>
  Value get_or_load(std::string_view key, ForEachTag& for_each_tag, Load& load, bool* due,
                    hit_lifetime* life) {
    redis_runtime& rt = backend_->runtime();
    rt.require_off_io_thread("a cached call");
    std::string owned_key(key);
    const std::uint64_t epoch = rt.tag_epoch();
    // Skipped by the breaker: nothing else is asked of Redis, so no tag is rendered either. The
    // skip is counted with the miss, under the lock the claim takes anyway.
    std::optional<Value> result;
    auto compute = [&](std::string_view k) { result.emplace(run_load(load, k)); };
    ticket t = rt.breaker().admit();
    if (!t.admitted()) {
      unread_miss(owned_key, epoch, true, ops, &result, compute);
      return std::move(*result);
    }
    std::vector<std::string> tags;
    tags.reserve(TagCount);
    for_each_tag([&](std::string_view tag) { tags.emplace_back(tag); });
    auto decode = decoder(result);
    read_state found = read_now(rt, owned_key, tags, std::move(t), "load", decode);
    if (found.is_hit) {
      if (due != nullptr) *due = due_for_refresh(found);
      if (life != nullptr) life->remaining_ms = found.remaining_ms;
      return std::move(*result);
    }
    if (found.stamp.empty()) {
      unread_miss(owned_key, epoch, false, ops, &result, compute);
    } else {
      found.epoch = epoch;
      blocking_miss(rt, owned_key, tags, std::move(found), {&ops, &result, decode, life}, compute);
    }
    return std::move(*result);
  }

 public:
  // `load()` returns Value or awaitable<Value>, and owns what it needs. `due` and `life`, if
  // given, are the awaiting caller's: whether a hit's entry is due for a refresh
  // (cachet::early_refresh), and what it has left to live.
  template <class Load>
  boost::asio::awaitable<Value> async_get_or_load(std::string key, std::vector<std::string> tags,
                                                  Load load, refresh_due* due = nullptr,
                                                  hit_lifetime* life = nullptr) {
    redis_runtime& rt = backend_->runtime();
    const std::uint64_t epoch = rt.tag_epoch();
    std::optional<Value> result;
    const auto decode = decoder(result);
    read_state found;
    ticket t = admit(rt);
    if (t.admitted()) {
      found = co_await read_on_io(rt, key, tags, std::move(t), decode);
      if (found.is_hit) {
        if (due != nullptr) due->value = due_for_refresh(found);
        if (life != nullptr) life->remaining_ms = found.remaining_ms;
        co_return std::move(*result);
      }
    }
    found.epoch = epoch;
    const auto compute = [&](const std::shared_ptr<flight_base>& f) {
      return lead_into(result, f, load);
    };
    co_await async_miss(rt, key, tags, std::move(found), {&ops, &result, decode, life}, compute);
    co_return std::move(*result);
  }

  // What one position of a batch came to: its value, or the failure that stopped it, or neither
  // (a position that may not load, and missed).
  struct batch_outcome {
    std::optional<Value> value;
    std::exception_ptr failure;
    hit_lifetime life;  // of a hit's entry
    bool due = false;   // cachet::early_refresh: a hit's entry is due for a refresh
  };

  // One pipelined round trip of read scripts, one per distinct key; `load_at(i)` (Value or
  // awaitable<Value>) computes the misses, one after the other; their results are written in
  // one pipelined round trip of write scripts. A key given twice is looked up and computed once,
  // and counted at each of its positions (a hit or a miss each). The first failure stops the
  // batch and is thrown, once the results computed before it are written.
  // `dues`, if given, gets each position's cachet::early_refresh report.
  template <class LoadAt>
  boost::asio::awaitable<std::vector<Value>> async_get_or_load_many(
      std::vector<std::string> keys, std::vector<std::vector<std::string>> tags, LoadAt load_at,
      std::vector<refresh_due>* dues = nullptr) {
    std::vector<batch_outcome> outcomes =
        co_await async_load_many(std::move(keys), std::move(tags), std::move(load_at));
    std::vector<Value> out;
    out.reserve(outcomes.size());
    for (batch_outcome& o : outcomes) {
      if (o.failure) std::rethrow_exception(o.failure);
      out.push_back(std::move(*o.value));
      if (dues != nullptr) dues->push_back(refresh_due{o.due});
    }
    co_return out;
  }

  // The same, each position's outcome as it came: the values up to the first failure, that
  // failure, nothing after it (a memory tier in front reads the hits' lifetimes).
  template <class LoadAt>
  boost::asio::awaitable<std::vector<batch_outcome>> async_load_many(
      std::vector<std::string> keys, std::vector<std::vector<std::string>> tags, LoadAt load_at) {
    std::vector<bool> every_one_loads;
    co_return co_await run_batch(std::move(keys), std::move(tags), std::move(every_one_loads),
                                 load_at, /*stop_at_failure=*/true);
  }

  // The same batch for calls that stand apart (cached<>::async_many with stages): every position
  // is settled, whatever another came to, and a position whose `may_load` is false is only
  // looked up (no flight is joined or led for it, so no other caller waits on it).
  template <class LoadAt>
  boost::asio::awaitable<std::vector<batch_outcome>> async_settle_many(
      std::vector<std::string> keys, std::vector<std::vector<std::string>> tags,
      std::vector<bool> may_load, LoadAt load_at) {
    co_return co_await run_batch(std::move(keys), std::move(tags), std::move(may_load), load_at,
                                 /*stop_at_failure=*/false);
  }

  // The fresh stored value, without computing one; hits and misses are not counted. Redis
  // failing (or skipped by the breaker) reads as nothing stored.
  std::optional<Value> peek(std::string_view key) { return stored_now(key, false, "peek"); }

  // peek() for coroutines, on any executor.
  boost::asio::awaitable<std::optional<Value>> async_peek(std::string key) {
    return stored_on_io(std::move(key), false);
  }

  // cachet::fail_safe, after a call failed: the stored value, fresh or past its ttl (kept
  // max_stale longer), unless it was invalidated or cannot be decoded. Never throws because of
  // Redis: failing, or skipped by the breaker, it finds nothing. Counts stale_served.
  std::optional<Value> stale(std::string_view key) {
    return served(stored_now(key, true, "a cached call"));
  }

  // stale() for coroutines, on any executor.
  boost::asio::awaitable<std::optional<Value>> async_stale(std::string key) {
    co_return served(co_await stored_on_io(std::move(key), true));
  }

  // Removes the entry. Unlike reads, this throws when Redis fails (request_error, server_error),
  // so the caller knows it is not confirmed; the backend keeps it and replays it before it uses
  // Redis again. It tries Redis even while the breaker is open.
  void erase(std::string_view key) {
    redis_runtime& rt = backend_->runtime();
    rt.require_off_io_thread("invalidate");
    doom(key);
    entry_location at = locate(rt, key);
    rt.run(rt.delete_entry(std::move(at.key), function_key(*at.bucket)));
  }

  // Makes every entry of this function stale in O(1): its counter gets a fresh token. Fails, and
  // is replayed, like erase().
  void clear() {
    redis_runtime& rt = backend_->runtime();
    rt.require_off_io_thread("clear");
    doom_all();
    rt.run(rt.bump_generation(function_counter()));
  }

 private:
  // A read's outcome with a hit's value (engaged where is_hit says so).
  struct lookup : read_state {
    std::optional<Value> hit;
  };

  // The hit_decoder of reads into `slot` (one key) or `slots` (a batch's keys): whatever the
  // codec throws on foreign input, the entry is unreadable, hence a miss.
  static bool decode_into(std::optional<Value>& slot, const std::string& stored) {
    try {
      slot.emplace(codec_decode<Codec, Value>(stored));
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }
  static auto decoder(std::optional<Value>& slot) {
    return [&slot](std::size_t, const std::string& stored) { return decode_into(slot, stored); };
  }

  // A computation under way, with its result once it is done.
  struct flight final : flight_base {
    using flight_base::flight_base;
    std::optional<Value> value;  // guarded by m
  };

  static std::shared_ptr<flight_base> make_flight(std::string key, std::string stamp,
                                                  std::string permit, std::uint64_t epoch) {
    return std::make_shared<flight>(std::move(key), std::move(stamp), std::move(permit), epoch);
  }

  static const Value& value_in(const void* slot) {
    return **static_cast<const std::optional<Value>*>(slot);
  }
  static void keep(flight_base& f, const void* slot) {
    static_cast<flight&>(f).value.emplace(value_in(slot));
  }
  static void take(flight_base& f, void* slot) {
    static_cast<std::optional<Value>*>(slot)->emplace(*static_cast<flight&>(f).value);
  }
  static std::string encode_value(const void* slot) { return codec_encode<Codec>(value_in(slot)); }
  static constexpr value_ops ops{&keep, &take, &encode_value};

  // What peek() and stale() find (`expired_too`: stale's reach), blocking (`what` names the
  // operation if called on the I/O thread) or awaited.
  std::optional<Value> stored_now(std::string_view key, bool expired_too, const char* what) {
    redis_runtime& rt = backend_->runtime();
    rt.require_off_io_thread(what);
    ticket t = admit(rt);
    if (!t.admitted()) return std::nullopt;
    std::optional<Value> value;
    auto decode = decoder(value);
    if (!find_stored_now(rt, std::string(key), expired_too, std::move(t), decode))
      return std::nullopt;
    return value;
  }

  boost::asio::awaitable<std::optional<Value>> stored_on_io(std::string key, bool expired_too) {
    redis_runtime& rt = backend_->runtime();
    ticket t = admit(rt);
    if (!t.admitted()) co_return std::nullopt;
    std::optional<Value> value;
    auto decode = decoder(value);
    if (!co_await find_stored_on_io(rt, std::move(key), expired_too, std::move(t), decode))
      co_return std::nullopt;
    co_return value;
  }

  std::optional<Value> served(std::optional<Value> value) {
    if (value) counts_.stale_served.fetch_add(1, std::memory_order_relaxed);
    return value;
  }

  // The batches of async_get_or_load_many and async_settle_many. `may_load` is empty when every
  // position may load. Each distinct key is read once; a position that repeats an earlier key
  // shares its outcome (only its value, if it may not load itself). Every position counts as one
  // hit or one miss, repeats included.
  template <class LoadAt>
  boost::asio::awaitable<std::vector<batch_outcome>> run_batch(
      std::vector<std::string> keys, std::vector<std::vector<std::string>> tags,
      std::vector<bool> may_load, LoadAt& load_at, bool stop_at_failure) {
    if (tags.size() != keys.size() || (!may_load.empty() && may_load.size() != keys.size())) {
      throw cachet::error(
          "cachet::redis: a batch needs one tag list (and one may_load flag, if any) per key; "
          "pass as many as keys");
    }
    redis_runtime& rt = backend_->runtime();
    const std::size_t n = keys.size();
    std::vector<batch_outcome> outcomes(n);
    const std::uint64_t epoch = rt.tag_epoch();

    std::vector<std::string> distinct_keys;
    std::vector<std::vector<std::string>> distinct_tags;
    std::vector<std::size_t> slot(n);   // position -> its key in distinct_keys
    std::vector<std::size_t> last_use;  // distinct key -> its last position
    {
      boost::unordered_flat_map<std::string_view, std::size_t, string_hash, std::equal_to<>> seen;
      for (std::size_t i = 0; i < n; ++i) {
        auto [it, first] = seen.try_emplace(keys[i], distinct_keys.size());
        if (first) {
          distinct_keys.push_back(keys[i]);
          distinct_tags.push_back(tags[i]);
          last_use.push_back(i);
        }
        slot[i] = it->second;
        last_use[it->second] = i;
      }
    }
    std::vector<lookup> found(distinct_keys.size());
    ticket t = n == 0 ? ticket() : admit(rt);
    if (t.admitted()) {
      auto decode = [&found](std::size_t index, const std::string& stored) {
        return decode_into(found[index].hit, stored);
      };
      std::vector<read_state> states =
          co_await read_many_on_io(rt, distinct_keys, distinct_tags, std::move(t), decode);
      for (std::size_t k = 0; k < states.size(); ++k)
        static_cast<read_state&>(found[k]) = std::move(states[k]);
    }
    for (lookup& l : found) l.epoch = epoch;

    std::vector<entry_write> writes;
    std::vector<std::unique_ptr<leader>> led;  // retired when this returns, after the writes
    std::vector<bool> visited(distinct_keys.size(), false);
    boost::unordered_flat_map<std::string_view, std::size_t, string_hash, std::equal_to<>>
        first_index;
    bool stopped = false;
    for (std::size_t i = 0; i < n && !stopped; ++i) {
      batch_outcome& outcome = outcomes[i];
      lookup& l = found[slot[i]];
      const bool repeat = visited[slot[i]];
      visited[slot[i]] = true;
      if (l.is_hit) {
        // The read counted the first position's hit.
        if (repeat) counts_.hits.fetch_add(1, std::memory_order_relaxed);
        outcome.life.remaining_ms = l.remaining_ms;
        outcome.due = due_for_refresh(l);
        if (last_use[slot[i]] == i) {
          outcome.value = std::move(l.hit);
        } else {
          outcome.value = l.hit;
        }
        continue;
      }
      const bool loads = may_load.empty() || may_load[i];
      if (auto first = first_index.find(keys[i]); first != first_index.end()) {
        // computed (or read) for an earlier position
        count_miss();
        if (loads) {
          outcome = outcomes[first->second];
        } else {
          outcome.value = outcomes[first->second].value;
        }
        continue;
      }
      if (!loads) {
        count_miss();
        continue;
      }
      first_index.emplace(keys[i], i);
      std::pair<std::shared_ptr<flight_base>, bool> joined =
          enter_flight(keys[i], std::move(l), /*blocking=*/false);
      std::shared_ptr<flight_base> f = std::move(joined.first);
      if (!joined.second) {
        // take_result rethrows the leader's exception, which is this position's answer too.
        try {
          const bool own = co_await is_own_load(*f);
          if (own) throw_recursion();
          co_await wait_done_async(*f);
          take_result(*f, ops, &outcome.value);
        } catch (...) {
          outcome.failure = std::current_exception();
        }
        stopped = stop_at_failure && outcome.failure;
        continue;
      }
      led.push_back(std::make_unique<leader>(static_cast<redis_store_core*>(this), f, ops));
      try {
        auto load_here = [&] { return load_at(i); };
        co_await lead_into(outcome.value, f, load_here);
      } catch (...) {
        outcome.failure = std::current_exception();
      }
      if (outcome.failure) {
        led.back()->fail(outcome.failure);
        stopped = stop_at_failure;
        continue;
      }
      led.back()->succeed(&outcome.value);
      if (may_write(*f)) {
        if (std::optional<entry_write> w = encode(rt, *f, tags[i], ops, &outcome.value)) {
          writes.push_back(std::move(*w));
        }
      }
    }
    // Results computed before a failure are still worth keeping.
    if (!writes.empty()) {
      ticket permit = admit(rt);
      if (permit.admitted()) co_await write_many_on_io(rt, std::move(writes), std::move(permit));
    }
    led.clear();
    co_return outcomes;
  }

  // An async leader runs a coroutine function on an awaitable thread of its own, spawned on its
  // executor with a cancellation slot of its own, and records that thread's slot in the flight
  // (see is_own_load()). The slot is the flight's, not the caller's: cancelling the caller does
  // not cancel the load, which other callers may be waiting for. A plain function runs right
  // here, on the thread that entered the flight, where a blocking call it makes to its own cache
  // is recognised as recursion (wait()).
  // The result goes into `slot`.
  template <class Load>
  static boost::asio::awaitable<void> lead_into(std::optional<Value>& slot,
                                                std::shared_ptr<flight_base> f, Load& load) {
    if constexpr (is_awaitable<std::invoke_result_t<Load&>>) {
      boost::asio::cancellation_signal own_signal;
      const auto executor = co_await boost::asio::this_coro::executor;
      auto token =
          boost::asio::bind_cancellation_slot(own_signal.slot(), boost::asio::use_awaitable);
      boost::asio::awaitable<Value> spawned =
          boost::asio::co_spawn(executor, run_recorded(std::move(f), load), token);
      slot.emplace(co_await std::move(spawned));
    } else {
      slot.emplace(load());
    }
  }

  template <class Load>
  static boost::asio::awaitable<Value> run_recorded(std::shared_ptr<flight_base> f, Load& load) {
    const boost::asio::cancellation_state state =
        co_await boost::asio::this_coro::cancellation_state;
    {
      std::lock_guard lock(f->m);
      f->load_slot = state.slot();
    }
    co_return co_await load();
  }

  // A coroutine function called from a blocking call runs to completion on this thread.
  template <class Load>
  static Value run_load(Load& load, std::string_view key) {
    using result = std::invoke_result_t<Load&, std::string_view>;
    if constexpr (is_awaitable<result>) {
      boost::asio::io_context local;
      std::optional<Value> value;
      std::exception_ptr error;
      boost::asio::co_spawn(local, load(key), [&](std::exception_ptr e, Value v) {
        if (e) {
          error = e;
        } else {
          value.emplace(std::move(v));
        }
      });
      local.run();
      if (error) std::rethrow_exception(error);
      return std::move(*value);
    } else {
      return load(key);
    }
  }

  Backend* backend_;
};

}  // namespace cachet::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/store.ipp>
#endif

#endif
