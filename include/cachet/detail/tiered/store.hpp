#ifndef CACHET_DETAIL_TIERED_STORE_HPP
#define CACHET_DETAIL_TIERED_STORE_HPP

#include <cachet/detail/memory/store.hpp>
#include <cachet/detail/redis/store.hpp>
#include <cachet/detail/store_settings.hpp>
#include <cachet/detail/tiered/coherence.hpp>
#include <cachet/jitter.hpp>
#include <cachet/memory.hpp>
#include <cachet/stats.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace cachet::detail {

// The results of one cached function in two tiers: a memory store in front of a Redis store.
// A call asks memory first; a miss there is one flight of the memory store, whose load is the
// Redis store's call (its read script, its validation, its single flight and write). What the
// Redis tier answers fills memory, unless an invalidation of the key reached this process during
// the Redis call: it erased the key from the memory store, which dooms the flight, so the
// result is returned but not kept (see memory_store::erase). Invalidations lost with a dropped
// channel are covered by the generation check below.
template <class Value, std::size_t TagCount, class Codec, class Tiers>
class tiered_store final : near_tier {
  using near_store = memory_store<Value, TagCount, memory>;
  using far_store = redis_store<Value, TagCount, Codec, typename Tiers::far_type>;

 public:
  tiered_store(Tiers& tiers, const store_settings& settings)
      : tiers_(&tiers),
        near_(tiers.near(), near_settings(settings)),
        far_(tiers.far(), settings),
        function_(settings.name.empty() ? settings.key_template : settings.name),
        entry_prefix_(settings.has_key_template ? std::string()
                                                : std::string(settings.name) + ":") {
    tiers.coherence().enter(this);
  }

  tiered_store(const tiered_store&) = delete;
  tiered_store& operator=(const tiered_store&) = delete;

  ~tiered_store() { tiers_->coherence().leave(this); }

  template <class ForEachTag, class Load>
  Value get_or_load(std::string_view key, ForEachTag&& for_each_tag, Load&& load) {
    tier_coherence& c = tiers_->started_coherence();
    // Read before serving(): a channel lost after serving() was read moves it on.
    const std::uint64_t generation = c.generation();
    if (!c.serving()) return far_.get_or_load(key, for_each_tag, load);
    return near_.get_or_load(key, for_each_tag, [&](std::string_view stable_key) {
      Value value = far_.get_or_load(stable_key, for_each_tag, load);
      // The channel was lost since this call began: an invalidation may have gone unheard.
      if (c.generation() != generation) near_.erase(stable_key);
      return value;
    });
  }

  std::optional<Value> peek(std::string_view key) {
    if (tiers_->started_coherence().serving()) {
      if (std::optional<Value> hit = near_.peek(key)) return hit;
    }
    return far_.peek(key);
  }

  // cachet::fail_safe: only Redis keeps values past their ttl.
  std::optional<Value> stale(std::string_view key) { return far_.stale(key); }

  // Memory is emptied before Redis is asked, and again once Redis confirmed: a fill from a Redis
  // read made before the confirmation is then doomed too.
  void erase(std::string_view key) {
    near_.erase(key);
    far_.erase(key);
    near_.erase(key);
  }

  void clear() {
    near_.clear();
    far_.clear();
    near_.clear();
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

  void drop_entry(std::string_view rest) override {
    if (!rest.starts_with(entry_prefix_)) return;
    rest.remove_prefix(entry_prefix_.size());
    near_.erase(rest);
  }
  void drop_function(std::string_view function) override {
    if (function == function_) near_.clear();
  }
  void drop_all() override { near_.clear(); }

  Tiers* tiers_;
  near_store near_;
  far_store far_;
  std::string function_;      // as in the function's counter, "#fn:<function>"
  std::string entry_prefix_;  // "<function>:" before the key in Redis, without a key template
};

}  // namespace cachet::detail

#endif
