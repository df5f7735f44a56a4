#ifndef CACHET_DETAIL_MEMORY_STORE_HPP
#define CACHET_DETAIL_MEMORY_STORE_HPP

#include <cachet/detail/hash.hpp>
#include <cachet/detail/memory/reader_slots.hpp>
#include <cachet/detail/memory/tag_generations.hpp>
#include <cachet/detail/spinlock.hpp>
#include <cachet/detail/store_settings.hpp>
#include <cachet/error.hpp>
#include <cachet/stats.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace cachet::detail {

// A key with its hash, computed once per call: it picks the shard and probes the map.
struct hashed_key {
  std::string_view text;
  std::uint64_t hash;
};

struct hashed_key_hash {
  using is_avalanching = void;
  std::size_t operator()(const hashed_key& k) const noexcept { return k.hash; }
};

struct hashed_key_equal {
  bool operator()(const hashed_key& a, const hashed_key& b) const noexcept {
    return a.hash == b.hash && a.text == b.text;
  }
};

// What a store needs from its backend: the time and the tag counters.
template <class Backend>
concept memory_store_backend = requires(Backend& b, const Backend& cb) {
  { cb.now() } -> std::same_as<std::chrono::steady_clock::time_point>;
  { b.tag_counters() } -> std::same_as<tag_generations&>;
};

// The results of one cached function, in process. Keys are hashed to shards, each with its own
// lock, map, LRU list and counters, so hits on different keys from different threads do not
// contend. Misses on one key are computed once (single flight): the first caller computes, later
// callers wait for its result or its exception. Since a store's ttl is the same for every entry,
// insertion order is expiry order, and a second list in that order lets each insert reclaim the
// entries that have expired without a scan.
template <class Value, std::size_t TagCount, class Backend>
class memory_store {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using tag_stamps = std::array<tag_stamp, TagCount>;
  // Keys stay in process, so cached<> may give them in binary (detail/binary_key.hpp).
  static constexpr bool binary_keys = true;

  memory_store(Backend& backend, const store_settings& settings)
      : backend_(&backend),
        clock_(settings.clock),
        ttl_(settings.ttl),
        max_stale_(settings.ttl.count() == 0 ? std::chrono::nanoseconds(0) : settings.max_stale),
        shard_count_(shard_count_for(settings.capacity)),
        shards_(std::make_unique<shard[]>(shard_count_)),
        readers_(std::make_unique<reader_state[]>(reader_slot_count)) {
    const std::size_t capacity = settings.capacity;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shards_[i].capacity = capacity == 0 ? 0 : (capacity + shard_count_ - 1) / shard_count_;
      shards_[i].number = static_cast<std::uint32_t>(i + 1);
    }
  }

  memory_store(const memory_store&) = delete;
  memory_store& operator=(const memory_store&) = delete;

  ~memory_store() {
    for (std::size_t i = 0; i < shard_count_; ++i) drop_all(shards_[i]);
  }

  // Returns the fresh stored value for key, or computes it with load(stable_key), where
  // stable_key is the store's own copy of key. The entry's tags are those for_each_tag(on_tag)
  // passes to on_tag; they are read before load so that an invalidation during it is not lost.
  template <class ForEachTag, class Load>
  Value get_or_load(std::string_view text, ForEachTag&& for_each_tag, Load&& load) {
    const hashed_key key{text, hash_bytes(text)};
    shard& s = shard_for(key);
    // The hit path copies straight into the result, with no lock word or shared counter written.
    if (const int slot = reader_slot(); slot >= 0) {
      reader_state& r = readers_[slot];
      bool move = false;
      {
        enter(r, s);
        const leave_on_exit leave{r};
        if (auto it = s.entries.find(key); it != s.entries.end() && fresh(*it->second)) {
          if (!needs_move(s, *it->second)) {
            r.hits.store(r.hits.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            Value hit(it->second->value);
            return hit;
          }
          move = true;
        }
      }
      if (move) {
        exclusive lock(*this, s);
        if (const Value* hit = find_fresh(s, key, true)) {
          ++s.counts.hits;
          return *hit;
        }
      }
    } else {
      exclusive lock(*this, s);
      if (const Value* hit = find_fresh(s, key, true)) {
        ++s.counts.hits;
        return *hit;
      }
    }
    // Rendering the tags may allocate, so it happens outside the lock; the lookup is repeated.
    tag_stamps stamps{};
    std::size_t tag_index = 0;
    for_each_tag(
        [&](std::string_view tag) { stamps[tag_index++] = backend_->tag_counters().stamp(tag); });
    std::shared_ptr<flight> f;
    bool leading = false;
    {
      exclusive lock(*this, s);
      ++s.counts.misses;
      if (const Value* hit = find_fresh(s, key, true)) return *hit;
      auto it = s.flights.find(key);
      if (it != s.flights.end() && joinable(*it->second)) {
        f = it->second;
        ++f->waiters;
      } else {
        f = std::make_shared<flight>(std::string(key.text), key.hash, stamps);
        leading = true;
        if (it != s.flights.end()) s.flights.erase(it);  // its waiters still get its result
        s.flights.emplace(f->hashed(), f);
      }
    }
    if (leading) return lead(s, *f, std::forward<Load>(load));
    return wait(*f);
  }

  // The fresh stored value, without computing one; neither counted nor made more recent.
  std::optional<Value> peek(std::string_view text) {
    const hashed_key key{text, hash_bytes(text)};
    return read(shard_for(key), key, false);
  }

  // For cachet::fail_safe, after a call failed: the stored value, fresh or kept past its ttl
  // (settings.max_stale), unless it was invalidated; counted in stale_served.
  std::optional<Value> stale(std::string_view text) {
    const hashed_key key{text, hash_bytes(text)};
    shard& s = shard_for(key);
    exclusive lock(*this, s);
    auto it = s.entries.find(key);
    if (it == s.entries.end()) return std::nullopt;
    entry* e = it->second;
    if (e->kept_until != never && now() >= e->kept_until) return std::nullopt;
    if constexpr (TagCount > 0) {
      if (!backend_->tag_counters().current(e->stamps)) return std::nullopt;
    }
    ++s.counts.stale_served;
    return e->value;
  }

  void erase(std::string_view text) {
    const hashed_key key{text, hash_bytes(text)};
    shard& s = shard_for(key);
    exclusive lock(*this, s);
    if (auto it = s.entries.find(key); it != s.entries.end()) unlink_and_delete(s, it->second);
    // A load already running started before this call: its result must not be stored.
    if (auto it = s.flights.find(key); it != s.flights.end()) it->second->doomed = true;
  }

  void clear() {
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      exclusive lock(*this, s);
      drop_all(s);
      for (auto& [key, f] : s.flights) f->doomed = true;
    }
  }

  std::size_t size() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      std::lock_guard lock(shards_[i].lock);
      n += shards_[i].entries.size();
    }
    return n;
  }

  cachet::stats stats() const {
    cachet::stats total;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      std::lock_guard lock(shards_[i].lock);
      const cachet::stats& c = shards_[i].counts;
      total.hits += c.hits;
      total.misses += c.misses;
      total.loads += c.loads;
      total.load_errors += c.load_errors;
      total.evictions += c.evictions;
      total.expirations += c.expirations;
      total.invalidations += c.invalidations;
      total.stale_served += c.stale_served;
    }
    for (int i = 0; i < reader_slot_count; ++i) {
      total.hits += readers_[i].hits.load(std::memory_order_relaxed);
    }
    return total;
  }

 private:
  static constexpr auto never = time_point::max();

  struct entry {
    std::string key;
    Value value;
    time_point expires;
    time_point kept_until;  // expires, or later for cachet::fail_safe: the expiry list's order
    tag_stamps stamps;
    std::uint64_t hash;
    entry* newer = nullptr;  // LRU list, most recent at head
    entry* older = nullptr;
    std::uint64_t pushed_at = 0;      // the shard's push count when it last went to the LRU head
    entry* next_to_expire = nullptr;  // insertion order, oldest at head
    entry* prev_to_expire = nullptr;
  };

  struct flight {
    flight(std::string k, std::uint64_t h, const tag_stamps& s)
        : key(std::move(k)), hash(h), stamps(s) {}
    hashed_key hashed() const noexcept { return {key, hash}; }
    std::string key;
    std::uint64_t hash;
    tag_stamps stamps;
    std::thread::id leader = std::this_thread::get_id();
    std::size_t waiters = 0;  // guarded by the shard's lock, like doomed
    bool doomed = false;
    std::mutex m;
    std::condition_variable done_cv;
    bool done = false;
    std::optional<Value> value;
    std::exception_ptr error;
  };

  struct alignas(64) shard {
    // Writers take the lock, raise `writing` and wait until no reader slot shows this shard;
    // readers (reader_slot) write only their own slot's line.
    mutable spinlock lock;
    std::atomic<bool> writing{false};
    std::uint32_t number = 0;  // index + 1, as reader slots record it
    boost::unordered_flat_map<hashed_key, entry*, hashed_key_hash, hashed_key_equal> entries;
    // Keyed by views of the flights' own keys.
    boost::unordered_flat_map<hashed_key, std::shared_ptr<flight>, hashed_key_hash,
                              hashed_key_equal>
        flights;
    entry* lru_head = nullptr;
    entry* lru_tail = nullptr;
    entry* expiry_head = nullptr;
    entry* expiry_tail = nullptr;
    std::size_t capacity = 0;
    std::uint64_t pushes = 0;
    cachet::stats counts;
  };

  // Shards only pay when there is room for them: a small cache keeps one exact LRU order.
  static std::size_t shard_count_for(std::size_t capacity) noexcept {
    constexpr std::size_t most = 64;
    constexpr std::size_t min_entries_per_shard = 64;
    if (capacity == 0) return most;
    std::size_t n = 1;
    while (n < most && n * 2 * min_entries_per_shard <= capacity) n *= 2;
    return n;
  }

  shard& shard_for(const hashed_key& key) const noexcept {
    return shards_[(key.hash >> 40) & (shard_count_ - 1)];
  }

  bool joinable(const flight& f) const noexcept {
    return !f.doomed && backend_->tag_counters().current(f.stamps);
  }

  // The entry's value when it is still fresh; a stale entry found on the way is dropped.
  const Value* find_fresh(shard& s, const hashed_key& key, bool touch) {
    auto it = s.entries.find(key);
    if (it == s.entries.end()) return nullptr;
    entry* e = it->second;
    if (e->expires != never) {
      const time_point now = this->now();
      if (now >= e->kept_until) {
        ++s.counts.expirations;
        unlink_and_delete(s, e);
        return nullptr;
      }
      // Kept for stale(); the load that follows replaces it.
      if (now >= e->expires) return nullptr;
    }
    if constexpr (TagCount > 0) {
      if (!backend_->tag_counters().current(e->stamps)) {
        ++s.counts.invalidations;
        unlink_and_delete(s, e);
        return nullptr;
      }
    }
    if (touch && needs_move(s, *e)) {
      unlink_lru(s, e);
      push_lru(s, e);
    }
    return &e->value;
  }

  template <class Load>
  Value lead(shard& s, flight& f, Load&& load) {
    std::optional<Value> result;
    try {
      result.emplace(std::forward<Load>(load)(std::string_view(f.key)));
    } catch (...) {
      finish(s, f, nullptr, std::current_exception());
      throw;
    }
    finish(s, f, &*result, nullptr);
    return std::move(*result);
  }

  void finish(shard& s, flight& f, const Value* value, std::exception_ptr error) {
    std::size_t waiters;
    {
      exclusive lock(*this, s);
      auto it = s.flights.find(f.hashed());
      const bool current = it != s.flights.end() && it->second.get() == &f;
      if (current) {
        // The flight stays alive through the waiters' shared_ptrs.
        s.flights.erase(it);
      }
      if (value) {
        ++s.counts.loads;
        if (current && !f.doomed) store(s, f, *value);
      } else {
        ++s.counts.load_errors;
      }
      waiters = f.waiters;
    }
    if (waiters == 0) return;
    {
      std::lock_guard lock(f.m);
      if (value) {
        f.value.emplace(*value);
      } else {
        f.error = error;
      }
      f.done = true;
    }
    f.done_cv.notify_all();
  }

  Value wait(flight& f) {
    if (f.leader == std::this_thread::get_id()) {
      throw cachet::error(
          "cachet::cached: the function called its own cache with the same arguments while "
          "computing them, which would wait for itself forever; break the recursion");
    }
    std::unique_lock lock(f.m);
    f.done_cv.wait(lock, [&] { return f.done; });
    if (f.error) std::rethrow_exception(f.error);
    return *f.value;
  }

  void store(shard& s, const flight& f, const Value& value) {
    if (auto it = s.entries.find(f.hashed()); it != s.entries.end()) {
      unlink_and_delete(s, it->second);
    }
    const time_point now = this->now();
    reclaim_expired(s, now);
    if (s.capacity != 0 && s.entries.size() >= s.capacity) {
      ++s.counts.evictions;
      unlink_and_delete(s, s.lru_tail);
    }
    const time_point expires = ttl_.count() == 0 ? never : now + ttl_;
    auto* e = new entry{f.key, value, expires, expires + max_stale_, f.stamps, f.hash};
    s.entries.emplace(hashed_key{e->key, e->hash}, e);
    push_lru(s, e);
    e->prev_to_expire = s.expiry_tail;
    (s.expiry_tail ? s.expiry_tail->next_to_expire : s.expiry_head) = e;
    s.expiry_tail = e;
  }

  // A couple per insert keeps an unbounded cache from holding expired entries forever, at a
  // bounded cost per insert.
  void reclaim_expired(shard& s, time_point now) {
    for (int i = 0; i < 2 && s.expiry_head && s.expiry_head->kept_until <= now; ++i) {
      ++s.counts.expirations;
      unlink_and_delete(s, s.expiry_head);
    }
  }

  static void push_lru(shard& s, entry* e) noexcept {
    e->pushed_at = ++s.pushes;
    e->newer = nullptr;
    e->older = s.lru_head;
    (s.lru_head ? s.lru_head->newer : s.lru_tail) = e;
    s.lru_head = e;
  }

  static void unlink_lru(shard& s, entry* e) noexcept {
    (e->newer ? e->newer->older : s.lru_head) = e->older;
    (e->older ? e->older->newer : s.lru_tail) = e->newer;
  }

  static void unlink_and_delete(shard& s, entry* e) {
    s.entries.erase(hashed_key{e->key, e->hash});
    unlink_lru(s, e);
    (e->prev_to_expire ? e->prev_to_expire->next_to_expire : s.expiry_head) = e->next_to_expire;
    (e->next_to_expire ? e->next_to_expire->prev_to_expire : s.expiry_tail) = e->prev_to_expire;
    delete e;
  }

  static void drop_all(shard& s) {
    for (entry* e = s.lru_head; e != nullptr;) {
      entry* older = e->older;
      delete e;
      e = older;
    }
    s.entries.clear();
    s.lru_head = s.lru_tail = s.expiry_head = s.expiry_tail = nullptr;
  }

  time_point now() const noexcept { return clock_ != nullptr ? clock_->now() : backend_->now(); }

  // Exclusive access to a shard: no other writer, and no reader inside it.
  class exclusive {
   public:
    exclusive(const memory_store& store, shard& s) noexcept : s_(s) {
      s.lock.lock();
      s.writing.store(true, std::memory_order_seq_cst);
      for (int i = 0; i < reader_slot_count; ++i) {
        while (store.readers_[i].reading.load(std::memory_order_seq_cst) == s.number) {
          std::this_thread::yield();
        }
      }
    }
    ~exclusive() {
      s_.writing.store(false, std::memory_order_release);
      s_.lock.unlock();
    }
    exclusive(const exclusive&) = delete;
    exclusive& operator=(const exclusive&) = delete;

   private:
    shard& s_;
  };

  // The fresh value for key, copied out; `counted` calls count a hit and keep the LRU order.
  // A thread with a reader slot writes no line that another reader writes: with a lock word or
  // a counter per shard, two threads hitting random shards would pass the line back and forth.
  std::optional<Value> read(shard& s, const hashed_key& key, bool counted) {
    const int slot = reader_slot();
    if (slot < 0) {
      exclusive lock(*this, s);
      const Value* hit = find_fresh(s, key, counted);
      if (!hit) return std::nullopt;
      if (counted) ++s.counts.hits;
      return *hit;
    }
    reader_state& r = readers_[slot];
    std::optional<Value> result;
    bool move = false;
    {
      enter(r, s);
      const leave_on_exit leave{r};
      if (auto it = s.entries.find(key); it != s.entries.end() && fresh(*it->second)) {
        result.emplace(it->second->value);
        move = counted && needs_move(s, *it->second);
      }
    }
    if (!result || !counted) return result;
    r.hits.store(r.hits.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (move) {
      exclusive lock(*this, s);
      if (auto it = s.entries.find(key); it != s.entries.end() && needs_move(s, *it->second)) {
        unlink_lru(s, it->second);
        push_lru(s, it->second);
      }
    }
    return result;
  }

  struct leave_on_exit {
    reader_state& r;
    ~leave_on_exit() { r.reading.store(0, std::memory_order_release); }
  };

  static void enter(reader_state& r, const shard& s) noexcept {
    for (;;) {
      r.reading.store(s.number, std::memory_order_seq_cst);
      if (!s.writing.load(std::memory_order_seq_cst)) return;
      r.reading.store(0, std::memory_order_release);
      while (s.writing.load(std::memory_order_acquire)) std::this_thread::yield();
    }
  }

  bool fresh(const entry& e) const noexcept {
    if (e.expires != never && now() >= e.expires) return false;
    if constexpr (TagCount > 0) {
      if (!backend_->tag_counters().current(e.stamps)) return false;
    }
    return true;
  }

  // Moving an entry to the LRU head writes to its neighbours' cache lines, the main cost of a
  // hit. Only a bounded cache evicts by that order, and an entry pushed at most capacity/8
  // pushes ago is within the most recent eighth already, far from eviction; small caches
  // (below 8 entries a shard) keep an exact order.
  static bool needs_move(const shard& s, const entry& e) noexcept {
    return s.capacity != 0 && s.pushes - e.pushed_at > s.capacity / 8;
  }

  Backend* backend_;
  const cachet::clock* clock_;  // options::clock, else the backend's
  std::chrono::nanoseconds ttl_;
  std::chrono::nanoseconds max_stale_;  // 0 unless cachet::fail_safe (and a ttl) is given
  std::size_t shard_count_;
  std::unique_ptr<shard[]> shards_;
  std::unique_ptr<reader_state[]> readers_;
};

}  // namespace cachet::detail

#endif
