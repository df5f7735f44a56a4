#ifndef CACHET_DETAIL_TIERED_STORE_HPP
#define CACHET_DETAIL_TIERED_STORE_HPP

#include <cachet/detail/memory/store.hpp>
#include <cachet/detail/redis/store.hpp>
#include <cachet/detail/store_settings.hpp>
#include <cachet/detail/tiered/coherence.hpp>
#include <cachet/jitter.hpp>
#include <cachet/memory.hpp>
#include <cachet/stats.hpp>

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachet::detail {

// The results of one cached function in two tiers: a memory store in front of a Redis store.
// A call asks memory first; a miss there is one flight of the memory store, whose load is the
// Redis store's call (its read script, its validation, its single flight and write). What the
// Redis tier answers fills memory, unless an invalidation of the key reached this process during
// the Redis call: it erased the key from the memory store, which dooms the flight, so the
// result is returned but not kept (see memory_store::erase). Invalidations lost with a dropped
// channel are covered by the generation check below.
//
// Coroutines (async(), async_many()) ask memory, then the Redis store's coroutines, with no
// flight in memory: what Redis answers fills memory only if no invalidation of this function
// reached memory meanwhile (`erasures_`, bumped by every erase of the memory tier) and the
// entry's tags were not invalidated (stamped before the Redis call), and the channel held
// (`generation`). A fill that loses such a race is returned and not kept.
//
// Keys: the memory tier is keyed as cached<> keys a memory backend, by the arguments' bytes,
// when cached<> can translate them to the Redis key text and back (store_settings::key_text_of,
// integer arguments under a key<> template): a hit then renders no text, as on the memory
// backend. The text is rendered for Redis on a miss, and an invalidation push's text is read
// back into the bytes. Otherwise every key is the text.
template <class Value, std::size_t TagCount, class Codec, class Tiers>
class tiered_store final : near_tier {
  using near_store = memory_store<Value, TagCount, memory>;
  using far_store = redis_store<Value, TagCount, Codec, typename Tiers::far_type>;

 public:
  // cached<> hands binary keys (and store_settings::key_text_of) when it can translate them.
  static constexpr bool binary_keys_when_reversible = true;

  tiered_store(Tiers& tiers, const store_settings& settings)
      : tiers_(&tiers),
        coherence_(&tiers.coherence()),
        near_(tiers.near(), near_settings(settings)),
        near_refreshes_(settings.refresh_percent > 0),
        far_(tiers.far(), settings, lifetime_reports::on),
        function_(settings.name.empty() ? settings.key_template : settings.name),
        entry_prefix_(settings.has_key_template ? std::string() : std::string(settings.name) + ":"),
        key_text_of_(settings.key_text_of),
        binary_key_of_(settings.binary_key_of) {
    tiers.coherence().enter(this);
  }

  tiered_store(const tiered_store&) = delete;
  tiered_store& operator=(const tiered_store&) = delete;

  ~tiered_store() { tiers_->coherence().leave(this); }

  template <class ForEachTag, class Load>
  Value get_or_load(std::string_view key, ForEachTag&& for_each_tag, Load&& load) {
    refresh_due ignored;
    return get_or_load(key, for_each_tag, load, ignored);
  }

  // cachet::early_refresh: `due` as memory's hit or Redis's hit tells it (memory's entry is as
  // old as its fill, Redis's as its write).
  template <class ForEachTag, class Load>
  Value get_or_load(std::string_view key, ForEachTag&& for_each_tag, Load&& load,
                    refresh_due& due) {
    // The hit path reads two atomics here; the channel is started by the first call, which finds
    // memory not serving.
    tier_coherence& c = *coherence_;
    // Read before serving(): a channel lost after serving() was read moves it on.
    const std::uint64_t generation = c.generation();
    if (!c.serving()) {
      tiers_->started_coherence();
      std::string text;
      return far_.get_or_load(far_key(key, text), for_each_tag, load, due);
    }
    auto from_redis = [&](std::string_view stable_key, std::chrono::nanoseconds& keep_at_most) {
      hit_lifetime life;
      std::string text;
      Value value = far_.get_or_load(far_key(stable_key, text), for_each_tag, load, due, life);
      keep_at_most = kept_for(life);
      // The channel was lost since this call began: an invalidation may have gone unheard.
      if (c.generation() != generation) near_.erase(stable_key);
      return value;
    };
    return near_.get_or_load_bounded(key, for_each_tag, from_redis,
                                     near_refreshes_ ? &due : nullptr);
  }

  // cachet::early_refresh: the Redis tier computes and writes the value again; Redis pushes
  // the write back as an invalidation, which drops memory's entry, and the next call fills
  // memory from Redis.
  template <class ForEachTag, class Load>
  bool reload(std::string_view key, ForEachTag&& for_each_tag, Load&& load) {
    std::string text;
    return far_.reload(far_key(key, text), for_each_tag, load);
  }

  // `load()` returns Value or awaitable<Value>, and owns what it needs. `due`, if given, is the
  // awaiting caller's (cachet::early_refresh), as for a call.
  template <class Load>
  boost::asio::awaitable<Value> async_get_or_load(std::string key, std::vector<std::string> tags,
                                                  Load load, refresh_due* due = nullptr) {
    tier_coherence& c = tiers_->started_coherence();
    const std::uint64_t generation = c.generation();
    if (!c.serving()) {
      co_return co_await far_.async_get_or_load(far_key(std::move(key)), std::move(tags),
                                                std::move(load), due);
    }
    refresh_due near_due;
    if (std::optional<Value> hit = near_refreshes_ ? near_.find(key, near_due) : near_.find(key)) {
      if (due != nullptr) *due = near_due;
      co_return std::move(*hit);
    }
    const fill_guard guard = guard_fill(tags);
    hit_lifetime life;
    Value value = co_await far_.async_get_or_load(far_key(key), tags, std::move(load), due, &life);
    fill(key, tags, guard, generation, value, life);
    co_return value;
  }

  // Memory answers what it holds; the rest is one Redis batch, whose results fill memory.
  // `dues`, if given, gets each position's cachet::early_refresh report, as for a call.
  template <class LoadAt>
  boost::asio::awaitable<std::vector<Value>> async_get_or_load_many(
      std::vector<std::string> keys, std::vector<std::vector<std::string>> tags, LoadAt load_at,
      std::vector<refresh_due>* dues = nullptr) {
    std::vector<refresh_due> near_dues(keys.size());
    std::vector<std::optional<Value>> found = find_in_memory(keys, near_dues);
    if (dues != nullptr) *dues = near_dues;
    std::vector<std::size_t> missing;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!found[i]) missing.push_back(i);
    }
    if (!missing.empty()) {
      const std::uint64_t generation = tiers_->started_coherence().generation();
      std::vector<std::string> far_keys;
      std::vector<std::vector<std::string>> far_tags;
      std::vector<fill_guard> guards;
      for (std::size_t i : missing) {
        far_keys.push_back(far_key(keys[i]));
        far_tags.push_back(tags[i]);
        guards.push_back(guard_fill(tags[i]));
      }
      auto far_load_at = [&load_at, &missing](std::size_t k) -> decltype(auto) {
        return load_at(missing[k]);
      };
      std::vector<batch_outcome> settled =
          co_await far_.async_load_many(std::move(far_keys), std::move(far_tags), far_load_at);
      for (std::size_t k = 0; k < missing.size(); ++k) {
        const std::size_t i = missing[k];
        if (settled[k].failure) std::rethrow_exception(settled[k].failure);
        if (dues != nullptr) (*dues)[i].value = settled[k].due;
        fill(keys[i], tags[i], guards[k], generation, *settled[k].value, settled[k].life);
        found[i].emplace(std::move(*settled[k].value));
      }
    }
    std::vector<Value> out;
    out.reserve(found.size());
    for (std::optional<Value>& v : found) out.push_back(std::move(*v));
    co_return out;
  }

  using batch_outcome = typename far_store::batch_outcome;

  // Every position settled, whatever another came to (cachet::cached's async_many with stages):
  // memory answers what it holds, Redis the rest.
  template <class LoadAt>
  boost::asio::awaitable<std::vector<batch_outcome>> async_settle_many(
      std::vector<std::string> keys, std::vector<std::vector<std::string>> tags,
      std::vector<bool> may_load, LoadAt load_at) {
    std::vector<refresh_due> near_dues(keys.size());
    std::vector<std::optional<Value>> found = find_in_memory(keys, near_dues);
    std::vector<batch_outcome> out(keys.size());
    std::vector<std::size_t> missing;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (found[i]) {
        out[i].value = std::move(found[i]);
        out[i].due = near_dues[i].value;
      } else {
        missing.push_back(i);
      }
    }
    if (missing.empty()) co_return out;
    const std::uint64_t generation = tiers_->started_coherence().generation();
    std::vector<std::string> far_keys;
    std::vector<std::vector<std::string>> far_tags;
    std::vector<bool> far_may_load;
    std::vector<fill_guard> guards;
    for (std::size_t i : missing) {
      far_keys.push_back(far_key(keys[i]));
      far_tags.push_back(tags[i]);
      far_may_load.push_back(may_load.empty() || may_load[i]);
      guards.push_back(guard_fill(tags[i]));
    }
    auto far_load_at = [&load_at, &missing](std::size_t k) -> decltype(auto) {
      return load_at(missing[k]);
    };
    std::vector<batch_outcome> settled = co_await far_.async_settle_many(
        std::move(far_keys), std::move(far_tags), std::move(far_may_load), far_load_at);
    for (std::size_t k = 0; k < missing.size(); ++k) {
      const std::size_t i = missing[k];
      if (settled[k].value) {
        fill(keys[i], tags[i], guards[k], generation, *settled[k].value, settled[k].life);
      }
      out[i] = std::move(settled[k]);
    }
    co_return out;
  }

  boost::asio::awaitable<std::optional<Value>> async_peek(std::string key) {
    if (tiers_->started_coherence().serving()) {
      if (std::optional<Value> hit = near_.peek(key)) co_return hit;
    }
    co_return co_await far_.async_peek(far_key(std::move(key)));
  }

  boost::asio::awaitable<std::optional<Value>> async_stale(std::string key) {
    return far_.async_stale(far_key(std::move(key)));
  }

  std::optional<Value> peek(std::string_view key) {
    if (tiers_->started_coherence().serving()) {
      if (std::optional<Value> hit = near_.peek(key)) return hit;
    }
    std::string text;
    return far_.peek(far_key(key, text));
  }

  // cachet::fail_safe: only Redis keeps values past their ttl.
  std::optional<Value> stale(std::string_view key) {
    std::string text;
    return far_.stale(far_key(key, text));
  }

  // Memory is emptied before Redis is asked, and again once Redis confirmed: a fill from a Redis
  // read made before the confirmation is then doomed too.
  void erase(std::string_view key) {
    erase_near(key);
    std::string text;
    far_.erase(far_key(key, text));
    erase_near(key);
  }

  void clear() {
    clear_near();
    far_.clear();
    clear_near();
  }

  // Hits of either tier count in `hits`; memory_tier_hits says how many memory answered. A
  // memory miss is the Redis call's hit or miss, so only Redis's misses are counted.
  cachet::stats stats() const {
    const cachet::stats near = near_.stats();
    cachet::stats s = far_.stats();
    s.memory_tier_hits = near.hits;
    s.hits += near.hits;
    s.evictions += near.evictions;
    return s;
  }

 private:
  // With cachet::jitter, memory keeps a write for at most the shortest ttl a Redis write can
  // draw (front_tier_ttl), spread as Redis's are: no memory entry outlives the Redis entry of
  // the same write, and entries filled together still leave memory at different times.
  static store_settings near_settings(store_settings s) {
    s.max_stale = std::chrono::nanoseconds(0);
    s.ttl = front_tier_ttl(s.ttl, s.jitter_percent);
    return s;
  }

  // Memory keeps a value no longer than the Redis entry it came from has left: a replica that
  // reads an entry written long ago must not serve it past its Redis expiry (whose push may come
  // late: Redis expires keys nobody reads in sampled sweeps).
  static std::chrono::nanoseconds kept_for(hit_lifetime life) {
    if (life.remaining_ms < 0) return std::chrono::nanoseconds::max();
    return std::chrono::milliseconds(life.remaining_ms);
  }

  void drop_entry(std::string_view rest) override {
    if (!rest.starts_with(entry_prefix_)) return;
    rest.remove_prefix(entry_prefix_.size());
    if (binary_key_of_ == nullptr) {
      erase_near(rest);
      return;
    }
    std::string binary;
    if (binary_key_of_(rest, binary)) erase_near(binary);  // else another function's key
  }

  // The Redis key of one of this store's keys; `buffer` holds it when it is translated.
  std::string_view far_key(std::string_view key, std::string& buffer) const {
    if (key_text_of_ == nullptr) return key;
    buffer.clear();
    key_text_of_(key, buffer);
    return buffer;
  }
  std::string far_key(std::string key) const {
    if (key_text_of_ == nullptr) return key;
    std::string text;
    key_text_of_(key, text);
    return text;
  }
  void drop_function(std::string_view function) override {
    if (function == function_) clear_near();
  }
  void drop_all() override { clear_near(); }

  // Bumped before memory changes, so that a coroutine's fill that read it before sees it moved.
  void erase_near(std::string_view key) {
    erasures_.fetch_add(1, std::memory_order_acq_rel);
    near_.erase(key);
  }
  void clear_near() {
    erasures_.fetch_add(1, std::memory_order_acq_rel);
    near_.clear();
  }

  // What a coroutine's fill of memory checks: nothing of this function was erased from memory,
  // and no tag of the entry invalidated, since it asked Redis.
  struct fill_guard {
    std::uint64_t erasures;
    std::vector<tag_stamp> stamps;
  };

  fill_guard guard_fill(const std::vector<std::string>& tags) {
    fill_guard g{erasures_.load(std::memory_order_acquire), {}};
    g.stamps.reserve(tags.size());
    for (const std::string& tag : tags)
      g.stamps.push_back(tiers_->near().tag_counters().stamp(tag));
    return g;
  }

  bool unchanged(const fill_guard& g) {
    if (erasures_.load(std::memory_order_acquire) != g.erasures) return false;
    for (const tag_stamp& s : g.stamps) {
      if (!tiers_->near().tag_counters().current(s)) return false;
    }
    return true;
  }

  // The memory store stamps the entry's tags again as it stores: an invalidation between the
  // check and the store would not make it stale, so the entry is dropped when one came.
  void fill(std::string_view key, const std::vector<std::string>& tags, const fill_guard& g,
            std::uint64_t generation, const Value& value, hit_lifetime life) {
    tier_coherence& c = tiers_->coherence();
    if (!c.serving() || c.generation() != generation || !unchanged(g)) return;
    auto for_each_tag = [&](auto&& on_tag) {
      for (const std::string& tag : tags) on_tag(tag);
    };
    near_.get_or_load_bounded(
        key, for_each_tag,
        [&](std::string_view, std::chrono::nanoseconds& keep_at_most) {
          keep_at_most = kept_for(life);
          return value;
        },
        nullptr);
    if (!unchanged(g) || c.generation() != generation) near_.erase(key);
  }

  // `dues`: memory's cachet::early_refresh reports, one per key.
  std::vector<std::optional<Value>> find_in_memory(const std::vector<std::string>& keys,
                                                   std::vector<refresh_due>& dues) {
    std::vector<std::optional<Value>> found(keys.size());
    if (!tiers_->started_coherence().serving()) return found;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      found[i] = near_refreshes_ ? near_.find(keys[i], dues[i]) : near_.find(keys[i]);
    }
    return found;
  }

  Tiers* tiers_;
  tier_coherence* coherence_;
  near_store near_;
  bool near_refreshes_;  // cachet::early_refresh: memory's hits report due entries
  far_store far_;
  std::string function_;      // as in the function's counter, "#fn:<function>"
  std::string entry_prefix_;  // "<function>:" before the key in Redis, without a key template
  void (*key_text_of_)(std::string_view, std::string&);
  bool (*binary_key_of_)(std::string_view, std::string&);
  std::atomic<std::uint64_t> erasures_{0};
};

}  // namespace cachet::detail

#endif
