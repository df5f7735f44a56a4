#ifndef CACHET_DETAIL_REDIS_STORE_HPP
#define CACHET_DETAIL_REDIS_STORE_HPP

#include <cachet/clock.hpp>
#include <cachet/codec.hpp>
#include <cachet/detail/hash.hpp>
#include <cachet/detail/redis/backend_breaker.hpp>
#include <cachet/detail/redis/backend_runtime.hpp>
#include <cachet/detail/redis/store_envelope.hpp>
#include <cachet/detail/store_settings.hpp>
#include <cachet/error.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>
#include <cachet/stats.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
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

// The results of one cached function in Redis. See store_envelope.hpp for what is stored, and
// cachet::redis for the key layout.
//
// A read is one round trip, `MGET <value key> <fn key> <tag keys...>`: the reply holds the
// entry and the current generations, which decide whether the entry is fresh and, on a miss,
// stamp the new one. Misses on one key in this process are computed once (single flight); a
// caller joins a computation only if it read the same generations, so an invalidation seen by
// the caller is never answered with an older result. Redis failing never fails a call: the
// function's result is returned and the failure counted (see backend_failed()).
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
class redis_store {
  using ticket = redis_backend_breaker::ticket;

 public:
  redis_store(Backend& backend, const store_settings& settings)
      : backend_(&backend),
        ttl_(settings.ttl),
        max_stale_(settings.ttl.count() > 0 ? settings.max_stale : std::chrono::nanoseconds(0)),
        clock_(settings.clock),
        name_(settings.name),
        key_template_(settings.key_template),
        has_key_template_(settings.has_key_template) {
    if (name_.empty() && !has_key_template_) {
      throw cachet::error(
          "cachet::backend<cachet::redis>: a function object has no name that is stable across "
          "builds, so its entries would have no stable Redis key; give it a key template, e.g. "
          "cachet::key<\"price:{}\">");
    }
  }

  redis_store(const redis_store&) = delete;
  redis_store& operator=(const redis_store&) = delete;

  // Blocking: Redis is reached through the backend's I/O thread; the function runs on the
  // caller's thread (a coroutine function on a private io_context, also on this thread).
  template <class ForEachTag, class Load>
  Value get_or_load(std::string_view key, ForEachTag&& for_each_tag, Load&& load) {
    redis_runtime& rt = backend_->runtime();
    rt.require_off_io_thread("a cached call");
    check_key(rt, key);
    std::string owned_key(key);
    const std::uint64_t epoch = rt.tag_epoch();
    // Skipped by the breaker: nothing else is asked of Redis, so no tag is rendered either. The
    // skip is counted with the miss, under the lock the claim takes anyway.
    ticket t = rt.breaker().admit();
    if (!t.admitted()) return load_unread(std::move(owned_key), epoch, load, true);
    std::vector<std::string> tags;
    tags.reserve(TagCount);
    for_each_tag([&](std::string_view tag) { tags.emplace_back(tag); });
    lookup found = rt.run(read(rt, owned_key, tags, std::move(t)));
    if (found.hit) return std::move(*found.hit);
    if (found.gens.empty()) return load_unread(std::move(owned_key), epoch, load, false);
    found.epoch = epoch;
    auto [joined, leading] = join_or_lead(owned_key, std::move(found));
    if (!leading) return wait(*joined);

    leader lead{this, std::move(joined)};
    const std::shared_ptr<flight>& f = lead.f;
    std::optional<Value> result;
    try {
      result.emplace(run_load(load, std::string_view(f->key)));
    } catch (...) {
      lead.fail(std::current_exception());
      throw;
    }
    lead.succeed(*result);
    if (std::optional<prepared_write> w = prepare_write(rt, f, *result, tags)) {
      rt.run(write(rt, f->key, std::move(w->envelope), std::move(w->permit)));
    }
    return std::move(*result);
  }

  // `load()` returns Value or awaitable<Value>, and owns what it needs.
  template <class Load>
  boost::asio::awaitable<Value> async_get_or_load(std::string key, std::vector<std::string> tags,
                                                  Load load) {
    redis_runtime& rt = backend_->runtime();
    check_key(rt, key);
    const std::uint64_t epoch = rt.tag_epoch();
    lookup found;
    ticket t = admit(rt);
    if (t.admitted()) {
      found = co_await on_io(rt, read(rt, key, tags, std::move(t)));
      if (found.hit) co_return std::move(*found.hit);
    }
    found.epoch = epoch;
    // No structured bindings in coroutines: g++ 12 destroys their hidden object twice.
    std::pair<std::shared_ptr<flight>, bool> joined = join_or_lead(key, std::move(found));
    if (!joined.second) co_return co_await wait_async(std::move(joined.first));

    leader lead{this, std::move(joined.first)};
    const std::shared_ptr<flight>& f = lead.f;
    std::optional<Value> result;
    std::exception_ptr failure;
    try {
      result.emplace(co_await run_load_async(load));
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      lead.fail(failure);
      std::rethrow_exception(failure);
    }
    if (f->gens.empty()) {
      lead.succeed_unwritten(*result);
      co_return std::move(*result);
    }
    lead.succeed(*result);
    std::optional<prepared_write> w = prepare_write(rt, f, *result, tags);
    if (w) co_await on_io(rt, write(rt, f->key, std::move(w->envelope), std::move(w->permit)));
    co_return std::move(*result);
  }

  // What one position of a batch came to: its value, or the failure that stopped it, or neither
  // (a position that may not load, and missed).
  struct batch_outcome {
    std::optional<Value> value;
    std::exception_ptr failure;
  };

  // One MGET for every key and every generation they need; `load_at(i)` (Value or
  // awaitable<Value>) computes the misses, one after the other; their results are written in
  // one pipelined round trip. A key given twice is looked up and computed once. The first
  // failure stops the batch and is thrown, once the results computed before it are written.
  template <class LoadAt>
  boost::asio::awaitable<std::vector<Value>> async_get_or_load_many(
      std::vector<std::string> keys, std::vector<std::vector<std::string>> tags, LoadAt load_at) {
    std::vector<bool> every_one_loads;
    std::vector<batch_outcome> outcomes =
        co_await run_batch(std::move(keys), std::move(tags), std::move(every_one_loads), load_at,
                           /*stop_at_failure=*/true);
    std::vector<Value> out;
    out.reserve(outcomes.size());
    for (batch_outcome& o : outcomes) {
      if (o.failure) std::rethrow_exception(o.failure);
      out.push_back(std::move(*o.value));
    }
    co_return out;
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
  std::optional<Value> peek(std::string_view key) {
    redis_runtime& rt = backend_->runtime();
    rt.require_off_io_thread("peek");
    check_key(rt, key);
    ticket t = admit(rt);
    if (!t.admitted()) return std::nullopt;
    return rt.run(find_stored(rt, std::string(key), false, std::move(t)));
  }

  // peek() for coroutines, on any executor.
  boost::asio::awaitable<std::optional<Value>> async_peek(std::string key) {
    redis_runtime& rt = backend_->runtime();
    check_key(rt, key);
    ticket t = admit(rt);
    if (!t.admitted()) co_return std::nullopt;
    co_return co_await on_io(rt, find_stored(rt, std::move(key), false, std::move(t)));
  }

  // cachet::fail_safe, after a call failed: the stored value, fresh or past its ttl (kept
  // max_stale longer), unless it was invalidated or cannot be decoded. Never throws because of
  // Redis: failing, or skipped by the breaker, it finds nothing. Counts stale_served.
  std::optional<Value> stale(std::string_view key) {
    redis_runtime& rt = backend_->runtime();
    rt.require_off_io_thread("a cached call");
    check_key(rt, key);
    ticket t = admit(rt);
    if (!t.admitted()) return std::nullopt;
    return served(rt.run(find_stored(rt, std::string(key), true, std::move(t))));
  }

  // stale() for coroutines, on any executor.
  boost::asio::awaitable<std::optional<Value>> async_stale(std::string key) {
    redis_runtime& rt = backend_->runtime();
    check_key(rt, key);
    ticket t = admit(rt);
    if (!t.admitted()) co_return std::nullopt;
    co_return served(co_await on_io(rt, find_stored(rt, std::move(key), true, std::move(t))));
  }

  // Removes the entry. Unlike reads, this throws when Redis fails (request_error, server_error),
  // so the caller knows it is not confirmed; the backend keeps it and replays it before it uses
  // Redis again. It tries Redis even while the breaker is open.
  void erase(std::string_view key) {
    redis_runtime& rt = backend_->runtime();
    rt.require_off_io_thread("invalidate");
    doom(key);
    rt.run(rt.delete_entry(value_key(rt, key), function_key(rt)));
  }

  // Makes every entry of this function stale in O(1): its generation moves on. Fails, and is
  // replayed, like erase().
  void clear() {
    redis_runtime& rt = backend_->runtime();
    rt.require_off_io_thread("clear");
    {
      std::lock_guard lock(flights_mutex_);
      for (auto& [k, entry] : flights_) entry.doom();
    }
    rt.run(rt.bump_generation(function_key(rt)));
  }

  cachet::stats stats() const {
    cachet::stats s;
    s.hits = counts_.hits.load(std::memory_order_relaxed);
    s.misses = counts_.misses.load(std::memory_order_relaxed);
    s.loads = counts_.loads.load(std::memory_order_relaxed) +
              counts_.unread_loads.load(std::memory_order_relaxed);
    s.load_errors = counts_.load_errors.load(std::memory_order_relaxed);
    s.expirations = counts_.expirations.load(std::memory_order_relaxed);
    s.invalidations = counts_.invalidations.load(std::memory_order_relaxed);
    s.decode_errors = counts_.decode_errors.load(std::memory_order_relaxed);
    s.backend_errors = counts_.backend_errors.load(std::memory_order_relaxed);
    s.stale_served = counts_.stale_served.load(std::memory_order_relaxed);
    s.backend_skipped = counts_.backend_skipped.load(std::memory_order_relaxed) +
                        counts_.unread_skips.load(std::memory_order_relaxed);
    return s;
  }

 private:
  struct lookup {
    std::optional<Value> hit;
    generations gens;         // empty when Redis was not read: nothing is written then
    std::uint64_t epoch = 0;  // redis_runtime::tag_epoch() before the read
  };

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

  struct flight {
    flight(std::string k, generations g, std::uint64_t e)
        : key(std::move(k)), gens(std::move(g)), epoch(e) {}
    std::string key;
    generations gens;
    std::uint64_t epoch;
    std::thread::id leader = std::this_thread::get_id();
    bool doomed = false;      // guarded by flights_mutex_
    std::size_t joiners = 0;  // guarded by flights_mutex_
    std::mutex m;
    std::condition_variable done_cv;
    bool done = false;
    std::optional<Value> value;
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
    std::shared_ptr<flight> joined;  // made by the first caller that joins
  };

  // What the table holds for a key: a flight, a claim, or a claim that a caller joined (both).
  struct flight_entry {
    std::shared_ptr<flight> f;
    claim* c = nullptr;

    bool joinable(const generations& gens, std::uint64_t epoch) const {
      if (f) return !f->doomed && f->gens == gens && f->epoch == epoch;
      return !c->doomed && gens.empty() && c->epoch == epoch;
    }

    // A claim turns into a flight when the first caller joins it.
    std::shared_ptr<flight> join(const std::string& key) {
      if (!f) {
        f = std::make_shared<flight>(key, generations{}, c->epoch);
        f->leader = c->leader;
        c->joined = f;
      }
      ++f->joiners;
      return f;
    }

    void doom() {
      if (f) f->doomed = true;
      if (c) c->doomed = true;
    }
  };

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
  ticket admit(redis_runtime& rt) {
    ticket t = rt.breaker().admit();
    if (!t.admitted()) counts_.backend_skipped.fetch_add(1, std::memory_order_relaxed);
    return t;
  }

  std::optional<Value> served(std::optional<Value> value) {
    if (value) counts_.stale_served.fetch_add(1, std::memory_order_relaxed);
    return value;
  }

  // The time "fresh_until" is measured in (see store_envelope.hpp).
  std::int64_t now_ms() const {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    if (clock_ != nullptr)
      return duration_cast<milliseconds>(clock_->now().time_since_epoch()).count();
    return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  // The one place that decides what a failed Redis operation means: the call goes on without
  // Redis, except when the caller itself cancelled it.
  void backend_failed(const std::exception_ptr& e) {
    try {
      std::rethrow_exception(e);
    } catch (const resp3::request_error& error) {
      if (error.code() == resp3::error::cancelled) throw;
    } catch (...) {
    }
    counts_.backend_errors.fetch_add(1, std::memory_order_relaxed);
  }

  // Before any Redis operation, so that misuse is reported the same way whatever the breaker
  // says, and never spends a half-open probe.
  void check_key(const redis_runtime& rt, std::string_view key) const {
    if (has_key_template_ &&
        (key.starts_with("tag:") || key.starts_with("fn:") || key.starts_with("rate:"))) {
      throw cachet::error("cachet::redis: the key \"" + std::string(key) +
                          "\" would share Redis keys with cachet's counters and rate limits (" +
                          rt.key_base() +
                          "tag:..., fn:... and rate:...); start the key template with something "
                          "else");
    }
  }

  std::string value_key(const redis_runtime& rt, std::string_view key) const {
    check_key(rt, key);
    std::string out = rt.key_base();
    if (!has_key_template_) {
      out += name_;
      out += ':';
    }
    out += key;
    return out;
  }

  // A function object has no name; its key template tells it from the others instead, so that
  // its clear() does not make every function object's entries stale.
  std::string function_key(const redis_runtime& rt) const {
    return rt.key_base() + "fn:" + (name_.empty() ? key_template_ : name_);
  }

  static std::string tag_key(const redis_runtime& rt, std::string_view tag) {
    return rt.key_base() + "tag:" + std::string(tag);
  }

  // A generation counter's value from an MGET reply: missing is 0.
  static std::int64_t generation(const resp3::value& v) {
    if (v.is_null()) return 0;
    const std::string& text = v.as_string();
    std::int64_t g = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), g);
    if (ec != std::errc{} || end != text.data() + text.size()) {
      throw cachet::error("cachet::redis: a generation counter holds \"" + text +
                          "\", not an integer; something else wrote to cachet's keys");
    }
    return g;
  }

  // Classifies the entry slot of an MGET reply, counting what it finds.
  void classify(const resp3::value& slot, const std::vector<std::string>& tags, lookup& out) {
    if (slot.is_null()) {
      return;
    }
    if (!slot.is_string()) {
      counts_.decode_errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    switch (decode_envelope<Codec, Value>(slot.text, out.gens, tags, now_ms(), out.hit)) {
      case envelope_state::fresh:
        counts_.hits.fetch_add(1, std::memory_order_relaxed);
        return;
      case envelope_state::expired:
        out.hit.reset();
        counts_.expirations.fetch_add(1, std::memory_order_relaxed);
        return;
      case envelope_state::invalidated:
        counts_.invalidations.fetch_add(1, std::memory_order_relaxed);
        return;
      case envelope_state::corrupt:
        counts_.decode_errors.fetch_add(1, std::memory_order_relaxed);
        return;
    }
  }

  // A failed operation's verdict goes to the breaker before the call decides what it means.
  void operation_failed(ticket& t, const std::exception_ptr& e) {
    t.report(e);
    backend_failed(e);
  }

  boost::asio::awaitable<lookup> read(redis_runtime& rt, const std::string& key,
                                      const std::vector<std::string>& tags, ticket t) {
    std::vector<std::string> keys;
    keys.reserve(tags.size() + 2);
    keys.push_back(value_key(rt, key));
    keys.push_back(function_key(rt));
    for (const auto& tag : tags) keys.push_back(tag_key(rt, tag));
    lookup out;
    std::exception_ptr failure;
    if (rt.pending_invalidations() != 0) failure = co_await rt.confirm_invalidations();
    if (failure) {
      operation_failed(t, failure);
      co_return lookup{};
    }
    try {
      resp3::value reply = co_await rt.client().exec("MGET", keys);
      t.answered();
      const auto& slots = reply.as_array();
      if (slots.size() != keys.size()) {
        throw resp3::request_error(resp3::error::unexpected_reply,
                                   "cachet::redis: MGET answered with the wrong number of values");
      }
      for (std::size_t i = 1; i < slots.size(); ++i) out.gens.push_back(generation(slots[i]));
      classify(slots[0], tags, out);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      operation_failed(t, failure);
      co_return lookup{};
    }
    co_return out;
  }

  boost::asio::awaitable<std::vector<lookup>> read_many(
      redis_runtime& rt, const std::vector<std::string>& keys,
      const std::vector<std::vector<std::string>>& tags, ticket t) {
    const std::size_t n = keys.size();
    std::vector<std::string> mget;
    mget.reserve(n + 1);
    for (const auto& key : keys) mget.push_back(value_key(rt, key));
    mget.push_back(function_key(rt));
    // Each distinct tag's counter is read once, whatever number of keys carry it.
    boost::unordered_flat_map<std::string, std::size_t> tag_slot;
    for (const auto& list : tags) {
      for (const auto& tag : list) {
        if (tag_slot.try_emplace(tag, mget.size()).second) mget.push_back(tag_key(rt, tag));
      }
    }
    std::vector<lookup> out(n);
    if (n == 0) co_return out;
    std::exception_ptr failure;
    if (rt.pending_invalidations() != 0) failure = co_await rt.confirm_invalidations();
    if (failure) {
      operation_failed(t, failure);
      co_return out;
    }
    try {
      resp3::value reply = co_await rt.client().exec("MGET", mget);
      t.answered();
      const auto& slots = reply.as_array();
      if (slots.size() != mget.size()) {
        throw resp3::request_error(resp3::error::unexpected_reply,
                                   "cachet::redis: MGET answered with the wrong number of values");
      }
      std::vector<std::int64_t> counters(slots.size(), 0);
      for (std::size_t i = n; i < slots.size(); ++i) counters[i] = generation(slots[i]);
      for (std::size_t i = 0; i < n; ++i) {
        out[i].gens.push_back(counters[n]);
        for (const auto& tag : tags[i]) out[i].gens.push_back(counters[tag_slot.at(tag)]);
      }
      for (std::size_t i = 0; i < n; ++i) classify(slots[i], tags[i], out[i]);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      operation_failed(t, failure);
      co_return std::vector<lookup>(n);
    }
    co_return out;
  }

  // peek and stale know no tags: an entry is current if its function generation is, and every
  // tag it was stamped with still holds its generation. `expired_too`: past "fresh_until" is
  // found as well.
  boost::asio::awaitable<std::optional<Value>> find_stored(redis_runtime& rt, std::string key,
                                                           bool expired_too, ticket t) {
    std::exception_ptr failure;
    if (rt.pending_invalidations() != 0) failure = co_await rt.confirm_invalidations();
    if (failure) {
      operation_failed(t, failure);
      co_return std::nullopt;
    }
    try {
      resp3::value stored = co_await rt.client().exec("GET", value_key(rt, key));
      t.answered();
      if (stored.is_null()) co_return std::nullopt;
      std::vector<std::string> tags = stamped_tags(stored.as_string());
      lookup out;
      std::vector<std::string> keys{function_key(rt)};
      for (const auto& tag : tags) keys.push_back(tag_key(rt, tag));
      resp3::value reply = co_await rt.client().exec("MGET", keys);
      for (const auto& slot : reply.as_array()) out.gens.push_back(generation(slot));
      switch (
          decode_envelope<Codec, Value>(stored.as_string(), out.gens, tags, now_ms(), out.hit)) {
        case envelope_state::fresh:
          co_return std::move(out.hit);
        case envelope_state::expired: {
          // Redis drops the entry max_stale after its freshness by the server's clock; the
          // store's own clock (an injected one, say) must agree that it is not older than that.
          const std::int64_t oldest =
              now_ms() - std::chrono::ceil<std::chrono::milliseconds>(max_stale_).count();
          std::optional<Value> ignored;
          if (expired_too &&
              decode_envelope<Codec, Value>(stored.as_string(), out.gens, tags, oldest, ignored) !=
                  envelope_state::expired) {
            co_return std::move(out.hit);
          }
          co_return std::nullopt;
        }
        case envelope_state::invalidated:
          co_return std::nullopt;
        case envelope_state::corrupt:
          counts_.decode_errors.fetch_add(1, std::memory_order_relaxed);
          co_return std::nullopt;
      }
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) operation_failed(t, failure);
    co_return std::nullopt;
  }

  static std::vector<std::string> stamped_tags(std::string_view text) {
    std::vector<std::string> tags;
    boost::json::error_code ec;
    const boost::json::value parsed = boost::json::parse(text, ec);
    if (ec || !parsed.is_object()) return tags;
    const boost::json::value* stamps = parsed.get_object().if_contains("tags");
    if (stamps == nullptr || !stamps->is_object()) return tags;
    for (const auto& item : stamps->get_object()) tags.emplace_back(item.key());
    return tags;
  }

  void push_set(resp3::request& r, const redis_runtime& rt, std::string_view key,
                const std::string& envelope) const {
    const std::string final_key = value_key(rt, key);
    if (ttl_.count() > 0) {
      // Redis keeps milliseconds; rounding up keeps a tiny ttl from meaning "forever". With
      // fail_safe the entry outlives its freshness by max_stale, for stale().
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(ttl_ + max_stale_).count();
      r.push("SET", final_key, envelope, "PX", ms);
    } else {
      r.push("SET", final_key, envelope);
    }
  }

  // Encoding happens before any write is sent; a value that cannot be encoded is not stored
  // (and counted like a failed write), the call still returns it.
  std::string encode(const Value& value, const generations& gens,
                     const std::vector<std::string>& tags) {
    try {
      std::optional<std::int64_t> fresh_until;
      if (max_stale_.count() > 0) {
        fresh_until = now_ms() + std::chrono::ceil<std::chrono::milliseconds>(ttl_).count();
      }
      return encode_envelope<Codec, Value>(value, gens, tags, fresh_until);
    } catch (...) {
      backend_failed(std::current_exception());
      return {};
    }
  }

  struct prepared_write {
    std::string envelope;
    ticket permit;
  };

  // What the leader of `f` writes: nothing if the flight may not write, the value cannot be
  // encoded, or the breaker (asked last, so that no probe is spent on nothing) refuses.
  std::optional<prepared_write> prepare_write(redis_runtime& rt, const std::shared_ptr<flight>& f,
                                              const Value& value,
                                              const std::vector<std::string>& tags) {
    if (!may_write(f)) return std::nullopt;
    std::string envelope = encode(value, f->gens, tags);
    if (envelope.empty()) return std::nullopt;
    ticket permit = admit(rt);
    if (!permit.admitted()) return std::nullopt;
    return prepared_write{std::move(envelope), std::move(permit)};
  }

  boost::asio::awaitable<void> write(redis_runtime& rt, std::string key, std::string envelope,
                                     ticket t) {
    resp3::request r;
    push_set(r, rt, key, envelope);
    co_await write_pipeline(rt, std::move(r), std::move(t));
  }

  // An error reply (OOM under maxmemory, say) fails the write but proves Redis answers: it is
  // counted in backend_errors and is no failure for the breaker.
  boost::asio::awaitable<void> write_pipeline(redis_runtime& rt, resp3::request r, ticket t) {
    std::exception_ptr failure;
    if (rt.pending_invalidations() != 0) failure = co_await rt.confirm_invalidations();
    if (failure) {
      operation_failed(t, failure);
      co_return;
    }
    try {
      std::vector<resp3::value> replies = co_await rt.client().exec(r);
      t.answered();
      for (const auto& reply : replies) {
        if (reply.is_error()) counts_.backend_errors.fetch_add(1, std::memory_order_relaxed);
      }
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) operation_failed(t, failure);
  }

  // Misses are counted here, under the lock that publishes flights, so that once `misses`
  // reaches N every one of N callers has led or joined a flight.
  std::pair<std::shared_ptr<flight>, bool> join_or_lead(const std::string& key, lookup found) {
    std::lock_guard lock(flights_mutex_);
    count_locked(counts_.misses);
    auto it = flights_.find(key);
    if (it != flights_.end() && it->second.joinable(found.gens, found.epoch)) {
      return {it->second.join(key), false};
    }
    auto f = std::make_shared<flight>(key, std::move(found.gens), found.epoch);
    if (it != flights_.end()) {
      // The older flight (or claim) still answers its waiters but no longer writes.
      it->second = flight_entry{f};
    } else {
      flights_.emplace(f->key, flight_entry{f});
    }
    return {std::move(f), true};
  }

  // A blocking call whose Redis read was skipped (the breaker is open) or failed: the function's
  // result is returned and not written. Single flight still holds, since an outage must not turn
  // into a stampede on the origin, but in the form a call costing nanoseconds can afford: the
  // caller that computes enters only a claim in the table (no allocation for a short key, one
  // lock to enter it, one to leave), and a flight with its lock and condition variable is made
  // only when a second caller comes for the same key (flight_entry::join). Measured (bench/
  // RESULTS.md, "Degraded mode"): a flight per call made a degraded call add ~200 ns; with the
  // claim it adds ~115 ns, of which the claim is ~45 ns.
  template <class Load>
  Value load_unread(std::string key, std::uint64_t epoch, Load& load, bool skipped) {
    claim mine(epoch);
    std::shared_ptr<flight> joined;
    {
      std::lock_guard lock(flights_mutex_);
      count_locked(counts_.misses);
      if (skipped) count_locked(counts_.unread_skips);
      auto [it, entered] = flights_.try_emplace(key);
      if (!entered && it->second.joinable(generations{}, epoch)) {
        joined = it->second.join(key);
      } else {
        it->second = flight_entry{nullptr, &mine};  // an older one still answers its waiters
      }
    }
    if (joined) return wait(*joined);

    std::optional<Value> result;
    try {
      result.emplace(run_load(load, std::string_view(key)));
    } catch (...) {
      counts_.load_errors.fetch_add(1, std::memory_order_relaxed);
      if (std::shared_ptr<flight> f = leave(key, mine, false)) {
        publish(*f, nullptr, std::current_exception());
      }
      throw;
    }
    if (std::shared_ptr<flight> f = leave(key, mine, true)) publish(*f, &*result, nullptr);
    return std::move(*result);
  }

  // Takes `mine` out of the table; returns the flight of the callers that joined it, if any.
  std::shared_ptr<flight> leave(const std::string& key, claim& mine, bool loaded) {
    std::lock_guard lock(flights_mutex_);
    if (loaded) count_locked(counts_.unread_loads);
    if (auto it = flights_.find(key); it != flights_.end() && it->second.c == &mine) {
      flights_.erase(it);
    }
    return std::move(mine.joined);
  }

  bool may_write(const std::shared_ptr<flight>& f) {
    if (f->gens.empty()) return false;  // Redis was not readable: it is not written either
    std::lock_guard lock(flights_mutex_);
    auto it = flights_.find(f->key);
    return it != flights_.end() && it->second.f == f && !f->doomed;
  }

  void doom(std::string_view key) {
    std::lock_guard lock(flights_mutex_);
    if (auto it = flights_.find(key); it != flights_.end()) it->second.doom();
  }

  // The flight leaves the table only after its write, so that a caller whose read raced the
  // write joins it instead of computing again. Returns whether any caller joined it.
  bool retire(const std::shared_ptr<flight>& f) {
    std::lock_guard lock(flights_mutex_);
    auto it = flights_.find(f->key);
    if (it != flights_.end() && it->second.f == f) flights_.erase(it);
    return f->joiners > 0;
  }

  // The caller that computes a flight. Whatever ends the computation (a result, an exception,
  // or the coroutine being destroyed mid-way), its waiters are answered and the flight retired.
  struct leader {
    leader(redis_store* s, std::shared_ptr<flight> fl) : store(s), f(std::move(fl)) {}
    leader(const leader&) = delete;
    leader& operator=(const leader&) = delete;
    ~leader() {
      if (!published) {
        publish(*f, nullptr,
                std::make_exception_ptr(cachet::error(
                    "cachet::redis: the computation this call waited for was abandoned (its "
                    "coroutine was destroyed before it finished); call again")));
      }
      if (!retired) store->retire(f);
    }
    void succeed(const Value& value) {
      store->counts_.loads.fetch_add(1, std::memory_order_relaxed);
      published = true;
      publish(*f, &value, nullptr);
    }
    // A result that is not written (Redis was not read): with no write to wait for, the flight
    // leaves the table first, and its value is copied for waiters only if a caller joined.
    void succeed_unwritten(const Value& value) {
      store->counts_.loads.fetch_add(1, std::memory_order_relaxed);
      published = true;
      retired = true;
      publish(*f, store->retire(f) ? &value : nullptr, nullptr);
    }
    void fail(std::exception_ptr error) {
      store->counts_.load_errors.fetch_add(1, std::memory_order_relaxed);
      published = true;
      publish(*f, nullptr, std::move(error));
    }
    redis_store* store;
    std::shared_ptr<flight> f;
    bool published = false;
    bool retired = false;
  };

  static void publish(flight& f, const Value* value, std::exception_ptr error) {
    std::vector<std::unique_ptr<async_waiter>> waiters;
    {
      std::lock_guard lock(f.m);
      if (value) {
        f.value.emplace(*value);
      } else {
        f.error = std::move(error);
      }
      f.done = true;
      waiters.swap(f.async_waiters);
    }
    f.done_cv.notify_all();
    for (auto& w : waiters) w->resume();
  }

  static Value result_of(flight& f) {
    std::lock_guard lock(f.m);
    if (f.error) std::rethrow_exception(f.error);
    return *f.value;
  }

  static Value wait(flight& f) {
    if (f.leader == std::this_thread::get_id()) {
      throw cachet::error(
          "cachet::cached: the function called its own cache with the same arguments while "
          "computing them, which would wait for itself forever; break the recursion");
    }
    {
      std::unique_lock lock(f.m);
      f.done_cv.wait(lock, [&] { return f.done; });
    }
    return result_of(f);
  }

  static boost::asio::awaitable<Value> wait_async(std::shared_ptr<flight> f) {
    // The frame keeps the flight alive. The initiation is a named, trivially destructible
    // object: g++ 12 mishandles temporaries with destructors in a co_await expression.
    flight* waited = f.get();
    auto initiation = [waited](auto handler) {
      std::unique_lock lock(waited->m);
      if (!waited->done) {
        waited->async_waiters.push_back(
            std::make_unique<async_waiter_of<decltype(handler)>>(std::move(handler)));
        return;
      }
      lock.unlock();
      auto ex = boost::asio::get_associated_executor(handler);
      boost::asio::post(ex, std::move(handler));
    };
    co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
        initiation, boost::asio::use_awaitable);
    co_return result_of(*f);
  }

  // The batches of async_get_or_load_many and async_settle_many. `may_load` is empty when every
  // position may load. A position that repeats an earlier key shares its outcome (only its value,
  // if it may not load itself).
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
    for (const std::string& key : keys) check_key(rt, key);
    const std::size_t n = keys.size();
    std::vector<batch_outcome> outcomes(n);
    const std::uint64_t epoch = rt.tag_epoch();
    std::vector<lookup> found(n);
    ticket t = n == 0 ? ticket() : admit(rt);
    if (t.admitted()) found = co_await on_io(rt, read_many(rt, keys, tags, std::move(t)));
    for (lookup& l : found) l.epoch = epoch;

    struct pending_write {
      std::shared_ptr<flight> f;
      std::string envelope;
    };
    std::vector<pending_write> writes;
    std::vector<std::unique_ptr<leader>> led;  // retired when this returns, after the writes
    boost::unordered_flat_map<std::string_view, std::size_t, string_hash, std::equal_to<>>
        first_index;
    bool stopped = false;
    for (std::size_t i = 0; i < n && !stopped; ++i) {
      batch_outcome& outcome = outcomes[i];
      if (found[i].hit) {
        outcome.value = std::move(found[i].hit);
        continue;
      }
      const bool loads = may_load.empty() || may_load[i];
      if (auto first = first_index.find(keys[i]); first != first_index.end()) {
        // computed (or read) for an earlier position
        if (loads) {
          outcome = outcomes[first->second];
        } else {
          outcome.value = outcomes[first->second].value;
        }
        continue;
      }
      if (!loads) continue;
      first_index.emplace(keys[i], i);
      std::pair<std::shared_ptr<flight>, bool> joined = join_or_lead(keys[i], std::move(found[i]));
      std::shared_ptr<flight> f = std::move(joined.first);
      if (!joined.second) {
        // The helper rethrows the leader's exception, which is this position's answer too.
        try {
          outcome.value.emplace(co_await wait_async(f));
        } catch (...) {
          outcome.failure = std::current_exception();
        }
        stopped = stop_at_failure && outcome.failure;
        continue;
      }
      led.push_back(std::make_unique<leader>(this, f));
      try {
        outcome.value.emplace(co_await run_load_async([&] { return load_at(i); }));
      } catch (...) {
        outcome.failure = std::current_exception();
      }
      if (outcome.failure) {
        led.back()->fail(outcome.failure);
        stopped = stop_at_failure;
        continue;
      }
      led.back()->succeed(*outcome.value);
      if (may_write(f)) {
        std::string envelope = encode(*outcome.value, f->gens, tags[i]);
        if (!envelope.empty()) writes.push_back({f, std::move(envelope)});
      }
    }
    // Results computed before a failure are still worth keeping.
    if (!writes.empty()) {
      ticket permit = admit(rt);
      if (permit.admitted()) {
        resp3::request pipeline;
        for (const pending_write& w : writes) push_set(pipeline, rt, w.f->key, w.envelope);
        co_await on_io(rt, write_pipeline(rt, std::move(pipeline), std::move(permit)));
      }
    }
    led.clear();
    co_return outcomes;
  }

  // Redis operations of coroutines run on the backend's I/O thread, like those of blocking
  // calls: the client's strand and its reference-counted executors then stay on one thread, and
  // the caller's executor only sees the hop there and back.
  template <class T>
  static boost::asio::awaitable<T> on_io(redis_runtime& rt, boost::asio::awaitable<T> op) {
    return boost::asio::co_spawn(rt.context(), std::move(op), boost::asio::use_awaitable);
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

  template <class Load>
  static boost::asio::awaitable<Value> run_load_async(Load&& load) {
    if constexpr (is_awaitable<std::invoke_result_t<Load&>>) {
      co_return co_await load();
    } else {
      co_return load();
    }
  }

  Backend* backend_;
  std::chrono::nanoseconds ttl_;
  std::chrono::nanoseconds max_stale_;  // 0 unless fail_safe with a ttl
  const cachet::clock* clock_;          // null: the system clock
  std::string name_;
  std::string key_template_;
  bool has_key_template_;
  std::mutex flights_mutex_;
  boost::unordered_flat_map<std::string, flight_entry, string_hash, std::equal_to<>> flights_;
  counters counts_;
};

}  // namespace cachet::detail

#endif
