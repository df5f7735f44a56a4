#ifndef CACHET_DETAIL_MEMORY_STORE_HPP
#define CACHET_DETAIL_MEMORY_STORE_HPP

#include <cachet/detail/callback_ref.hpp>
#include <cachet/detail/hash.hpp>
#include <cachet/detail/inline.hpp>
#include <cachet/detail/memory/expiry_queue.hpp>
#include <cachet/detail/memory/flight_table.hpp>
#include <cachet/detail/memory/lru_order.hpp>
#include <cachet/detail/memory/reader_slots.hpp>
#include <cachet/detail/memory/stored_key.hpp>
#include <cachet/detail/memory/tag_generations.hpp>
#include <cachet/detail/spinlock.hpp>
#include <cachet/detail/store_settings.hpp>
#include <cachet/error.hpp>
#include <cachet/jitter.hpp>
#include <cachet/stats.hpp>

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
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

// Names a bounded shard's entry by its node in the shard's lru_order.
struct lru_ref {
  std::uint64_t hash;
  std::uint32_t node;
};

// A per-call check that cached<> may fuse into an in-memory store: cachet::rate_limit, when its
// key tells calls apart as the store's key does (see detail::gcra_gate in
// detail/resilience/gcra.hpp). It keeps one integer of state per key. A Gate type gives
//   using state = <an integer type>;  static constexpr state initial;  // of a key never seen
//   using decision = ...;                    // converts to true when the call is admitted
//   decision admit(std::atomic_ref<state>, ticks now) const noexcept;  // by compare-and-swap
//   bool idle(state, ticks now) const noexcept;  // the state means the same as `initial` now
// where `ticks` counts the store's time (options::clock, else the backend's) since its epoch.
//   [[noreturn]] void refuse(const decision&) const;  // throws what a refused call throws
template <class Gate>
struct gate_traits {
  using state = typename Gate::state;
  static constexpr state initial = Gate::initial;
};
template <>
struct gate_traits<void> {
  struct state {};
  static constexpr state initial{};
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
// insertion order is expiry order, and a queue in that order lets each insert of an unbounded
// store reclaim the entries that have expired without a scan (a bounded store reclaims them from
// the least recent end of its LRU order). With cachet::jitter the order is only nearly that: a
// record whose write drew a long ttl holds back those behind it until it expires, at most the
// jitter's whole spread later (and, in a memory tier, an entry kept shorter because its Redis
// entry expires sooner, at most a ttl later); a read never serves an expired entry either way.
//
// Entries live inside the hash table's slots, key, deadline and value side by side, as in a plain
// flat map: a hit reads the slot and the value's own heap data, and no separate node. An entry
// is only what a hit reads (a 12-byte key, the deadline, the value) and 4 bytes naming its LRU
// node: a `long -> long` entry takes 32 bytes, twice the flat map's slot. The key's hash is not
// kept; it is computed again when the table grows. Slots move when the table grows, so the LRU
// order and the expiry queue refer to entries by key hash and node or deadline, not by address,
// and readers hold no pointer into a shard past leaving it. A miss allocates nothing of its own
// but the entry's slot: the record of a load under way lives on its leader's stack, and what
// its waiters share is made only when a second caller arrives.
//
// With a Gate (see above), every call is first admitted or refused by it, hits included, and the
// store keeps the gate's state. The state of a key lives in the key's entry while there is one,
// and otherwise in its shard's `parked` map; it moves between the two only under the shard's
// exclusive lock (an entry stored, replaced, expired, evicted, erased, cleared). A call that
// finds the entry under its reader slot, which excludes those moves, is admitted by a
// compare-and-swap on the entry's state: no second lookup, no lock. A call that finds no entry
// is admitted under the exclusive lock. So a key's state has exactly one home at any time and
// every call is checked once against it, which keeps a limit exact through misses, single
// flight, expiry, eviction, invalidation and failed loads. The alternative, an entry pointing
// at the state kept in the limiter's own map, costs a hit one cache miss more over many keys,
// and needs pins counted across two sets of locks to keep the state from being dropped.
template <class Value, std::size_t TagCount, class Backend, class Gate = void>
class memory_store {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using tag_stamps = std::array<tag_stamp, TagCount>;
  // Keys stay in process, so cached<> may give them in binary (detail/binary_key.hpp).
  static constexpr bool binary_keys = true;
  // Whether every call passes Gate first (see the class comment).
  static constexpr bool gated = !std::is_void_v<Gate>;

  memory_store(Backend& backend, const store_settings& settings)
      : backend_(&backend),
        clock_(settings.clock),
        ttl_(settings.ttl),
        jitter_percent_(settings.jitter_percent),
        refresh_lead_(refresh_lead_for(settings)),
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

  // Returns the fresh stored value for key, or computes it with load(stable_key), where
  // stable_key is the store's own copy of key. The entry's tags are those for_each_tag(on_tag)
  // passes to on_tag; they are read before load so that an invalidation during it is not lost.
  template <class ForEachTag, class Load>
  Value get_or_load(std::string_view text, ForEachTag&& for_each_tag,
                    Load&& load) requires(!gated) {
    return find_or_load(hashed_key{text, hash_bytes(text)}, tag_source(for_each_tag),
                        for_whole_ttl(load), no_gate{}, nullptr);
  }

  // cachet::early_refresh: the same, and `due` tells whether the value came from an entry due
  // for a refresh (settings.refresh_percent), which the caller may then start with reload().
  template <class ForEachTag, class Load>
  Value get_or_load(std::string_view text, ForEachTag&& for_each_tag, Load&& load,
                    refresh_due& due) requires(!gated) {
    return find_or_load(hashed_key{text, hash_bytes(text)}, tag_source(for_each_tag),
                        for_whole_ttl(load), no_gate{}, &due.value);
  }

  // The memory tier of cachet::tiered: load(stable_key, keep_at_most) may shorten what the entry
  // it fills lives below the store's ttl (to what the Redis entry it copies has left); `due` as
  // above, or nullptr.
  template <class ForEachTag, class Load>
  Value get_or_load_bounded(std::string_view text, ForEachTag&& for_each_tag, Load&& load,
                            refresh_due* due) requires(!gated) {
    return find_or_load(hashed_key{text, hash_bytes(text)}, tag_source(for_each_tag), loader(load),
                        no_gate{}, due != nullptr ? &due->value : nullptr);
  }

  // cachet::early_refresh: computes key again with load while its entry is still served, and
  // stores the result as a miss's load does (an erase or clear during it dooms it, tags are read
  // before it; callers that miss meanwhile wait for it). Returns false, starting nothing, when a
  // load of key is already under way. An exception of load is counted in load_errors and not
  // thrown: the entry stays until it expires.
  template <class ForEachTag, class Load>
  bool reload(std::string_view text, ForEachTag&& for_each_tag, Load&& load) requires(!gated) {
    const hashed_key key{text, hash_bytes(text)};
    shard& s = shard_for(key);
    const tag_stamps stamps = stamps_of(tag_source{for_each_tag});
    std::optional<flight> own;
    {
      exclusive lock(*this, s);
      if (s.flights.find(key) != nullptr) return false;
      own.emplace(key.text, key.hash, stamps);
      s.flights.add(*own);
    }
    try {
      lead(s, *own, for_whole_ttl(load));
    } catch (...) {
      // Counted by finish(); nobody waits for this load but its own waiters, who got it.
    }
    return true;
  }

  // The same, for a call that `gate` admits; when it refuses, gate.refuse() throws, and nothing
  // is counted or loaded.
  template <class ForEachTag, class Load, class G = Gate>
  Value get_or_load(std::string_view text, ForEachTag&& for_each_tag, Load&& load,
                    const G& gate) requires gated {
    return find_or_load(hashed_key{text, hash_bytes(text)}, tag_source(for_each_tag),
                        for_whole_ttl(load), gate, nullptr);
  }

  // The fresh stored value, without computing one; neither counted nor made more recent.
  std::optional<Value> peek(std::string_view text) {
    const hashed_key key{text, hash_bytes(text)};
    return read(shard_for(key), key, false);
  }

  // cachet::early_refresh: the same, and `due` tells whether the entry is due for a refresh
  // (async() on this store: see <cachet/async.hpp>).
  std::optional<Value> peek(std::string_view text, refresh_due& due) {
    const hashed_key key{text, hash_bytes(text)};
    return read(shard_for(key), key, false, &due.value);
  }

  // The fresh stored value, counted as a hit and made more recent; a miss is not counted (a
  // tiered store's coroutines ask Redis next, see detail/tiered/store.hpp).
  std::optional<Value> find(std::string_view text) {
    const hashed_key key{text, hash_bytes(text)};
    return read(shard_for(key), key, true);
  }

  // cachet::early_refresh: the same, and `due` as for peek().
  std::optional<Value> find(std::string_view text, refresh_due& due) {
    const hashed_key key{text, hash_bytes(text)};
    return read(shard_for(key), key, true, &due.value);
  }

  // For cachet::fail_safe, after a call failed: the stored value, fresh or kept past its ttl
  // (settings.max_stale), unless it was invalidated; counted in stale_served.
  std::optional<Value> stale(std::string_view text) {
    const hashed_key key{text, hash_bytes(text)};
    shard& s = shard_for(key);
    exclusive lock(*this, s);
    auto it = s.entries.find(key);
    if (it == s.entries.end()) return std::nullopt;
    const entry& e = *it;
    if (e.expires != never && now() >= kept_until(e)) return std::nullopt;
    if constexpr (TagCount > 0) {
      if (!backend_->tag_counters().current(e.stamps)) return std::nullopt;
    }
    ++s.counts.stale_served;
    return e.value;
  }

  void erase(std::string_view text) {
    const hashed_key key{text, hash_bytes(text)};
    shard& s = shard_for(key);
    exclusive lock(*this, s);
    if (auto it = s.entries.find(key); it != s.entries.end()) remove(s, it);
    // A load already running started before this call: its result must not be stored.
    if (flight_header* f = s.flights.find(key)) f->doomed = true;
  }

  // cached<>::put and refresh: computes the value for key with load(stable_key) even when a
  // fresh one is stored, and stores it. The stored entry answers hits until then, so a caller
  // meanwhile gets the old value or the new one; a load already under way is no longer stored
  // (this one began later), and an erase during this one dooms it as any load. Counted as a
  // miss and a load. Not gated: the gate admits calls.
  static constexpr bool replaces_in_place = true;
  template <class ForEachTag, class Load>
  Value replace(std::string_view text, ForEachTag&& for_each_tag, Load&& load) {
    const hashed_key key{text, hash_bytes(text)};
    shard& s = shard_for(key);
    const tag_stamps stamps = stamps_of(tag_source{for_each_tag});
    flight own(key.text, key.hash, stamps);
    {
      exclusive lock(*this, s);
      ++s.counts.misses;
      // The older load's waiters still get its result; out of the map, it is not stored.
      if (flight_header* older = s.flights.find(key)) s.flights.remove(*older);
      s.flights.add(own);
    }
    return lead(s, own, for_whole_ttl(load));
  }

  void clear() {
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      exclusive lock(*this, s);
      drop_all(s);
      s.flights.for_each([](flight_header& f) { f.doomed = true; });
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
      total.hits += readers_[static_cast<std::size_t>(i)].hits.load(std::memory_order_relaxed);
    }
    return total;
  }

 private:
  static constexpr auto never = time_point::max();

  // A call's load and tags reach the miss path without their types (see callback_ref).
  using loader = callback_ref<Value(std::string_view, std::chrono::nanoseconds&)>;
  using tag_visitor = callback_ref<void(std::string_view)>;
  using tag_source = callback_ref<void(tag_visitor)>;

  // A load that keeps the store's ttl (most do).
  template <class Load>
  static auto for_whole_ttl(Load& load) {
    return [&load](std::string_view key, std::chrono::nanoseconds&) -> Value { return load(key); };
  }

  // The tags' counters as they are now: a load stamped before it runs is kept out by an
  // invalidation of one of them during it. Called once per miss even with no tags to render:
  // that call is how cached<>'s observer learns of the miss before the caller waits for a load
  // (observed_cache::tags_rendered).
  tag_stamps stamps_of(tag_source tags) const {
    tag_stamps stamps{};
    std::size_t tag_index = 0;
    tags([&](std::string_view tag) { stamps[tag_index++] = backend_->tag_counters().stamp(tag); });
    return stamps;
  }

  // Stands for the gate of a store without one.
  struct no_gate {
    struct decision {};
  };
  template <class G>
  using gate_decision = typename G::decision;
  using gate_state = typename gate_traits<Gate>::state;

  // What the callers waiting for a load share with its leader.
  struct flight_result {
    std::mutex m;
    std::condition_variable done_cv;
    bool done = false;
    std::optional<Value> value;
    std::exception_ptr error;
  };

  // A load under way, on its leader's stack; the shard's `flights` table points at it while other
  // callers may join it. Guarded by the shard's lock.
  struct flight : flight_header {
    flight(std::string_view k, std::uint64_t h, const tag_stamps& s)
        : flight_header(k, h), stamps(s) {}
    tag_stamps stamps;
    // At most what the stored entry lives (the load may shorten it: get_or_load_bounded).
    std::chrono::nanoseconds keep_at_most = std::chrono::nanoseconds::max();
    // Made by the first caller that waits: a load that nobody waits for allocates nothing.
    std::shared_ptr<flight_result> result;
  };

  struct no_tag_stamps {};

  // An entry, in its slot of the shard's table; what a hit reads comes first.
  struct entry {
    entry(std::string_view k, std::uint32_t node, time_point expires_at, const tag_stamps& s,
          const Value& v)
        : key(k), lru_node(node), expires(expires_at), value(v) {
      if constexpr (TagCount > 0) stamps = s;
    }
    stored_key key;
    // Bounded stores only: the entry's node in the shard's lru_order, unique in the shard.
    std::uint32_t lru_node;
    time_point expires;
    // Gated stores only: the key's gate state, updated by compare-and-swap under reader slots;
    // next to what a hit reads anyway.
    [[no_unique_address]] mutable gate_state gate = gate_traits<Gate>::initial;
    Value value;
    [[no_unique_address]] std::conditional_t<TagCount == 0, no_tag_stamps, tag_stamps> stamps;
  };

  // An entry is found by its key, by its LRU node, or by its expiry record.
  struct entry_hash {
    using is_transparent = void;
    using is_avalanching = void;
    std::size_t operator()(const entry& e) const noexcept { return hash_bytes(e.key.view()); }
    std::size_t operator()(const hashed_key& k) const noexcept { return k.hash; }
    std::size_t operator()(const lru_ref& r) const noexcept { return r.hash; }
    std::size_t operator()(const expiry_queue::record& r) const noexcept { return r.hash; }
  };

  struct entry_equal {
    using is_transparent = void;
    bool operator()(const entry& a, const entry& b) const noexcept {
      return a.key.equals(b.key.view());
    }
    CACHET_ALWAYS_INLINE bool operator()(const hashed_key& k, const entry& e) const noexcept {
      return e.key.equals(k.text);
    }
    bool operator()(const entry& e, const hashed_key& k) const noexcept { return (*this)(k, e); }
    bool operator()(const lru_ref& r, const entry& e) const noexcept {
      return r.node == e.lru_node;
    }
    bool operator()(const entry& e, const lru_ref& r) const noexcept { return (*this)(r, e); }
    bool operator()(const expiry_queue::record& r, const entry& e) const noexcept {
      return r.expires == e.expires && r.hash == hash_bytes(e.key.view());
    }
    bool operator()(const entry& e, const expiry_queue::record& r) const noexcept {
      return (*this)(r, e);
    }
  };

  using entry_table = boost::unordered_flat_set<entry, entry_hash, entry_equal>;

  struct parked_key {
    std::string text;
    std::uint64_t hash;
  };
  struct parked_key_hash {
    using is_transparent = void;
    using is_avalanching = void;
    std::size_t operator()(const parked_key& k) const noexcept { return k.hash; }
    std::size_t operator()(const hashed_key& k) const noexcept { return k.hash; }
  };
  struct parked_key_equal {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return a.hash == b.hash && same_bytes(a.text, b.text);
    }
  };
  static constexpr std::size_t min_parked_sweep = 64;
  struct parked_states {
    boost::unordered_flat_map<parked_key, gate_state, parked_key_hash, parked_key_equal> map;
    std::size_t sweep_at = min_parked_sweep;
  };
  struct no_parked_states {};

  struct alignas(64) shard {
    // Writers take the lock and wait until no reader slot shows this shard; readers
    // (reader_slot) write only their own slot's line, and step back while the lock is held.
    mutable spinlock lock;
    std::uint32_t number = 0;  // index + 1, as reader slots record it
    reader_bias bias;          // whether readers may enter without a fence
    entry_table entries;
    flight_table flights;
    lru_order lru;        // bounded stores only: one node per entry
    expiry_queue expiry;  // unbounded stores with a ttl only
    std::size_t capacity = 0;
    cachet::stats counts;
    // Gated stores only: the gate states of keys that have no entry (see the class comment).
    [[no_unique_address]] std::conditional_t<gated, parked_states, no_parked_states> parked;
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

  bool joinable(const flight_header& h) const noexcept {
    const flight& f = static_cast<const flight&>(h);
    return !f.doomed && backend_->tag_counters().current(f.stamps);
  }

  // The entry's value when it is still fresh; a stale entry found on the way is dropped.
  // With `due` (cachet::early_refresh), whether a fresh entry found is due for a refresh.
  const Value* find_fresh(shard& s, const hashed_key& key, bool touch, bool* due = nullptr) {
    if (due != nullptr) *due = false;  // a value that is not this entry's (a load) is never due
    auto it = s.entries.find(key);
    if (it == s.entries.end()) return nullptr;
    const entry& e = *it;
    if (e.expires != never) {
      const time_point now = this->now();
      if (now >= kept_until(e)) {
        ++s.counts.expirations;
        remove(s, it);
        return nullptr;
      }
      // Kept for stale(); the load that follows replaces it.
      if (now >= e.expires) return nullptr;
    }
    if constexpr (TagCount > 0) {
      if (!backend_->tag_counters().current(e.stamps)) {
        ++s.counts.invalidations;
        remove(s, it);
        return nullptr;
      }
    }
    if (due != nullptr) *due = e.expires != never && due_for_refresh(e, now());
    if (touch && needs_move(s, e)) move_to_front(s, e);
    return &e.value;
  }

  // get_or_load's body. Without a gate (a no_gate), `admitted` is a constant and every step of
  // the gate is compiled out: the path of a hit is that of a store without gates. The key comes
  // hashed from get_or_load, which is inlined into cached<>: there a key of numbers has a length
  // the compiler knows, and its hash is a few instructions instead of a loop over any length.
  template <class G>
  Value find_or_load(const hashed_key key, tag_source for_each_tag, loader load, const G& gate,
                     bool* due) {
    shard& s = shard_for(key);
    bool admitted = !gated;
    [[maybe_unused]] gate_decision<G> decision{};
    // The hit path copies straight into the result, with no lock word or shared counter written.
    if (const int slot = reader_slot(); slot >= 0) {
      reader_state& r = readers_[static_cast<std::size_t>(slot)];
      bool move = false;
      [[maybe_unused]] bool refused = false;
      {
        enter(r, s);
        const leave_on_exit leave{r};
        auto it = s.entries.find(key);
        bool hit;
        if constexpr (gated) {
          // An entry holds its key's gate state, whether or not it is still fresh. The gate and
          // the freshness check read the time once.
          hit = false;
          if (it != s.entries.end()) {
            const time_point t = now();
            decision = gate.admit(std::atomic_ref<gate_state>(it->gate), ticks(t));
            admitted = static_cast<bool>(decision);
            refused = !admitted;
            hit = admitted && fresh_at(*it, t);
          }
        } else {
          hit = it != s.entries.end() && fresh(*it);
        }
        if (hit) {
          if (due != nullptr) *due = it->expires != never && due_for_refresh(*it, now());
          if (!needs_move(s, *it)) {
            r.hits.store(r.hits.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            return Value(it->value);  // a prvalue: copied once, straight into the result
          }
          move = true;
        }
      }
      if constexpr (gated) {
        if (refused) gate.refuse(decision);
      }
      if (move) {
        exclusive lock(*this, s);
        if (const Value* hit = find_fresh(s, key, true, due)) {
          ++s.counts.hits;
          return *hit;
        }
      }
    } else {
      {
        exclusive lock(*this, s);
        if constexpr (gated) {
          decision = admit_exclusive(s, key, gate);
          admitted = static_cast<bool>(decision);
        }
        if (admitted) {
          if (const Value* hit = find_fresh(s, key, true, due)) {
            ++s.counts.hits;
            return *hit;
          }
        }
      }
      if constexpr (gated) {
        if (!admitted) gate.refuse(decision);
      }
    }
    if constexpr (gated) {
      // No entry was found under the reader slot: the key's state is parked, or in an entry
      // stored since; either way it stays where it is while the shard is held exclusively.
      if (!admitted) {
        {
          exclusive lock(*this, s);
          decision = admit_exclusive(s, key, gate);
        }
        if (!decision) gate.refuse(decision);
      }
    }
    // Rendering the tags may allocate, so it happens outside the lock; the lookup is repeated.
    const tag_stamps stamps = stamps_of(for_each_tag);
    std::optional<flight> own;
    std::shared_ptr<flight_result> joined;
    {
      exclusive lock(*this, s);
      ++s.counts.misses;
      if (const Value* hit = find_fresh(s, key, true, due)) return *hit;
      flight_header* under_way = s.flights.find(key);
      if (under_way != nullptr && joinable(*under_way)) {
        flight& f = static_cast<flight&>(*under_way);
        if (f.leader == std::this_thread::get_id()) {
          throw cachet::error(
              "cachet::cached: the function called its own cache with the same arguments while "
              "computing them, which would wait for itself forever; break the recursion");
        }
        if (!f.result) f.result = std::make_shared<flight_result>();
        joined = f.result;
      } else {
        own.emplace(key.text, key.hash, stamps);
        // Its waiters still get its result.
        if (under_way != nullptr) s.flights.remove(*under_way);
        s.flights.add(*own);
      }
    }
    if (own) return lead(s, *own, load);
    return wait(*joined);
  }

  // Admits or refuses one call with `key` against the key's state, wherever it is: in the key's
  // entry, or parked. The caller holds the shard exclusively, so the state cannot move.
  template <class G>
  gate_decision<G> admit_exclusive(shard& s, const hashed_key& key, const G& gate) {
    const auto now = ticks(this->now());
    if (auto it = s.entries.find(key); it != s.entries.end()) {
      return gate.admit(std::atomic_ref<gate_state>(it->gate), now);
    }
    if (auto it = s.parked.map.find(key); it != s.parked.map.end()) {
      return gate.admit(std::atomic_ref<gate_state>(it->second), now);
    }
    gate_state state = gate_traits<Gate>::initial;  // a key never seen, or dropped when idle
    const gate_decision<G> d = gate.admit(std::atomic_ref<gate_state>(state), now);
    if (state != gate_traits<Gate>::initial) {
      // Parked states of keys gone idle are dropped when the map has doubled since it was last
      // swept: amortised O(1) per parked key, and the map stays within about twice the keys
      // that matter.
      if (s.parked.map.size() >= s.parked.sweep_at) {
        boost::unordered::erase_if(
            s.parked.map, [&](const auto& record) { return gate.idle(record.second, now); });
        s.parked.sweep_at = std::max(min_parked_sweep, 2 * s.parked.map.size());
      }
      s.parked.map.emplace(parked_key{std::string(key.text), key.hash}, state);
    }
    return d;
  }

  // An entry's state stays with its key when the entry goes; under the exclusive lock.
  static void park(shard& s, const entry& e) {
    if constexpr (gated) {
      const std::string_view key = e.key.view();
      s.parked.map.insert_or_assign(parked_key{std::string(key), hash_bytes(key)}, e.gate);
    }
  }

  // A new entry takes over its key's parked state; under the exclusive lock.
  static void unpark(shard& s, const entry& e) noexcept {
    if constexpr (gated) {
      const std::string_view key = e.key.view();
      if (auto it = s.parked.map.find(hashed_key{key, hash_bytes(key)}); it != s.parked.map.end()) {
        e.gate = it->second;
        s.parked.map.erase(it);
      }
    }
  }

  Value lead(shard& s, flight& f, loader load) {
    std::optional<Value> result;
    try {
      result.emplace(load(std::string_view(f.key), f.keep_at_most));
    } catch (...) {
      finish(s, f, nullptr, std::current_exception());
      throw;
    }
    finish(s, f, &*result, nullptr);
    return std::move(*result);
  }

  void finish(shard& s, flight& f, const Value* value, std::exception_ptr error) {
    std::shared_ptr<flight_result> result;
    {
      exclusive lock(*this, s);
      // Once out of the table, no caller can join: the waiters it has keep `result` alive.
      const bool current = s.flights.remove(f);
      if (value) {
        ++s.counts.loads;
        if (current && !f.doomed) {
          // A result that cannot be copied into the store (its copy threw) is still returned
          // to this call and its waiters; it is just not kept.
          try {
            store(s, f, *value);
          } catch (...) {
          }
        }
      } else {
        ++s.counts.load_errors;
      }
      result = std::move(f.result);
    }
    if (!result) return;
    {
      std::lock_guard lock(result->m);
      // Waiters must be woken whatever happens: a copy that throws reaches them as their error.
      if (value) {
        try {
          result->value.emplace(*value);
        } catch (...) {
          result->error = std::current_exception();
        }
      } else {
        result->error = error;
      }
      result->done = true;
    }
    result->done_cv.notify_all();
  }

  static Value wait(flight_result& r) {
    std::unique_lock lock(r.m);
    r.done_cv.wait(lock, [&] { return r.done; });
    if (r.error) std::rethrow_exception(r.error);
    return *r.value;
  }

  void store(shard& s, const flight& f, const Value& value) {
    if (auto it = s.entries.find(f.hashed()); it != s.entries.end()) remove(s, it);
    const time_point now = this->now();
    if (s.capacity != 0) {
      // Without a ttl nothing expires: the LRU order is looked at only to evict.
      if (ttl_.count() != 0 || s.entries.size() >= s.capacity) make_room(s, now);
    } else if (ttl_.count() != 0) {
      reclaim_expired(s, now);
    }
    time_point expires = ttl_.count() == 0 ? never : now + jittered_ttl(ttl_, jitter_percent_);
    if (f.keep_at_most != std::chrono::nanoseconds::max() && expires - now > f.keep_at_most) {
      expires = now + f.keep_at_most;
    }
    // The node first: if copying the value throws, no entry is left without its LRU place.
    const std::uint32_t node = s.capacity != 0 ? s.lru.push_front(f.hash) : lru_order::none;
    try {
      unpark(s, *s.entries.emplace(f.key, node, expires, f.stamps, value).first);
    } catch (...) {
      if (node != lru_order::none) s.lru.erase(node);
      throw;
    }
    // A record whose entry is gone is harmless, so it may come last.
    if (expires != never && s.capacity == 0) {
      s.expiry.push({f.hash, expires}, s.entries.size(),
                    [&](const expiry_queue::record& r) { return s.entries.contains(r); });
    }
  }

  // A bounded cache reclaims expired entries from the least recent end of its LRU order, a
  // couple per insert: an entry nobody reads drifts there, and no expiry record is kept per
  // entry. Then, if the shard is still full, it evicts the least recent entry: the one it looked
  // at last, found once for both.
  void make_room(shard& s, time_point now) {
    for (int reclaimed = 0; s.lru.back() != lru_order::none;) {
      const std::uint32_t oldest = s.lru.back();
      const auto it = s.entries.find(lru_ref{s.lru.hash_of(oldest), oldest});
      if (reclaimed < 2 && now >= kept_until(*it)) {
        ++s.counts.expirations;
        remove(s, it);
        ++reclaimed;
        continue;
      }
      if (s.entries.size() >= s.capacity) {
        ++s.counts.evictions;
        remove(s, it);
      }
      return;
    }
  }

  // A couple per insert keeps an unbounded cache from holding expired entries forever, at a
  // bounded cost per insert; records of entries removed earlier are passed over on the way.
  void reclaim_expired(shard& s, time_point now) {
    int reclaimed = 0;
    for (int seen = 0; seen < 8 && reclaimed < 2 && s.expiry.has_next(); ++seen) {
      const expiry_queue::record& r = s.expiry.next();
      if (r.expires + max_stale_ > now) return;
      if (auto it = s.entries.find(r); it != s.entries.end()) {
        ++s.counts.expirations;
        remove(s, it);
        ++reclaimed;
      }
      s.expiry.pop();
    }
  }

  // Moving an entry to the front of the LRU list touches only list nodes, not other slots.
  static void move_to_front(shard& s, const entry& e) noexcept { s.lru.move_to_front(e.lru_node); }

  static void remove(shard& s, typename entry_table::const_iterator it) {
    park(s, *it);  // first: if it throws, the entry is still there with its state
    if (s.capacity != 0) s.lru.erase(it->lru_node);
    s.entries.erase(it);
  }

  static void drop_all(shard& s) {
    if constexpr (gated) {
      for (const entry& e : s.entries) park(s, e);
    }
    s.entries.clear();
    s.lru.clear();
    s.expiry.clear();
  }

  time_point now() const noexcept { return clock_ != nullptr ? clock_->now() : backend_->now(); }

  // Exclusive access to a shard: no other writer, and no reader inside it.
  class exclusive : exclusive_shard<shard> {
   public:
    exclusive(const memory_store& store, shard& s) noexcept
        : exclusive_shard<shard>(store.readers_.get(), s, &s.bias) {}
    using exclusive_shard<shard>::admit_light_readers;
  };

  // The fresh value for key, copied out; `counted` calls count a hit and keep the LRU order.
  // A thread with a reader slot writes no line that another reader writes: with a lock word or
  // a counter per shard, two threads hitting random shards would pass the line back and forth.
  std::optional<Value> read(shard& s, const hashed_key& key, bool counted, bool* due = nullptr) {
    const int slot = reader_slot();
    if (slot < 0) {
      exclusive lock(*this, s);
      const Value* hit = find_fresh(s, key, counted, due);
      if (!hit) return std::nullopt;
      if (counted) ++s.counts.hits;
      return *hit;
    }
    reader_state& r = readers_[static_cast<std::size_t>(slot)];
    std::optional<Value> result;
    bool move = false;
    {
      enter(r, s);
      const leave_on_exit leave{r};
      if (auto it = s.entries.find(key); it != s.entries.end() && fresh(*it)) {
        result.emplace(it->value);
        move = counted && needs_move(s, *it);
        if (due != nullptr) *due = it->expires != never && due_for_refresh(*it, now());
      }
    }
    if (!result || !counted) return result;
    r.hits.store(r.hits.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (move) {
      exclusive lock(*this, s);
      if (auto it = s.entries.find(key); it != s.entries.end() && needs_move(s, *it)) {
        move_to_front(s, *it);
      }
    }
    return result;
  }

  struct leave_on_exit {
    reader_state& r;
    ~leave_on_exit() { r.reading.store(0, std::memory_order_release); }
  };

  CACHET_ALWAYS_INLINE void enter(reader_state& r, shard& s) noexcept {
    if (!s.bias.light.load(std::memory_order_relaxed) && s.bias.quiet(r)) {
      exclusive lock(*this, s);
      lock.admit_light_readers();
    }
    while (!try_enter(r, s, s.bias)) {
      while (s.lock.held()) std::this_thread::yield();
    }
  }

  // Until then an entry is kept for stale() (cachet::fail_safe) after it stops being fresh.
  time_point kept_until(const entry& e) const noexcept {
    return e.expires == never ? never : e.expires + max_stale_;
  }

  bool fresh(const entry& e) const noexcept {
    if (e.expires != never && now() >= e.expires) return false;
    if constexpr (TagCount > 0) {
      if (!backend_->tag_counters().current(e.stamps)) return false;
    }
    return true;
  }

  // The same at a time already read.
  bool fresh_at(const entry& e, time_point now) const noexcept {
    if (now >= e.expires) return false;
    if constexpr (TagCount > 0) {
      if (!backend_->tag_counters().current(e.stamps)) return false;
    }
    return true;
  }

  // cachet::early_refresh: within refresh_lead_ of its expiry, a fresh entry is due for a
  // refresh. Measured back from the deadline, so that with jitter each entry is refreshed the
  // same time before it would expire, whatever ttl its write drew.
  bool due_for_refresh(const entry& e, time_point now) const noexcept {
    return refresh_lead_.count() != 0 && now >= e.expires - refresh_lead_;
  }

  static std::chrono::nanoseconds refresh_lead_for(const store_settings& settings) noexcept {
    const std::int64_t t = settings.ttl.count();
    const unsigned p = settings.refresh_percent;
    if (t <= 0 || p == 0 || p >= 100) return std::chrono::nanoseconds(0);
    // t * (100 - p) / 100 without overflow (t is at most max_ttl in nanoseconds).
    return std::chrono::nanoseconds(t / 100 * (100 - p) + t % 100 * (100 - p) / 100);
  }

  // A gate's time: the store's, in the clock's ticks.
  static auto ticks(time_point t) noexcept { return t.time_since_epoch().count(); }

  // Moving an entry to the front of the LRU list writes to the shard and to list nodes, and a
  // reader must take the shard's lock for it. Only a bounded cache evicts by that order, and an
  // entry pushed at most capacity/8 pushes ago is within the most recent eighth already, far from
  // eviction; small caches (below 8 entries a shard) keep an exact order.
  static bool needs_move(const shard& s, const entry& e) noexcept {
    return s.capacity != 0 && !s.lru.pushed_within(e.lru_node, s.capacity / 8);
  }

  Backend* backend_;
  const cachet::clock* clock_;  // options::clock, else the backend's
  std::chrono::nanoseconds ttl_;
  unsigned jitter_percent_;                // cachet::jitter; 0 without
  std::chrono::nanoseconds refresh_lead_;  // cachet::early_refresh; 0 without
  std::chrono::nanoseconds max_stale_;     // 0 unless cachet::fail_safe (and a ttl) is given
  std::size_t shard_count_;
  std::unique_ptr<shard[]> shards_;
  std::unique_ptr<reader_state[]> readers_;
};

}  // namespace cachet::detail

#endif
