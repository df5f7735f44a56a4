#ifndef CACHET_RATE_LIMITER_HPP
#define CACHET_RATE_LIMITER_HPP

#include <cachet/clock.hpp>
#include <cachet/detail/coarse_clock.hpp>
#include <cachet/detail/hash.hpp>
#include <cachet/detail/memory/reader_slots.hpp>
#include <cachet/detail/resilience/gcra.hpp>
#include <cachet/detail/spinlock.hpp>
#include <cachet/rate_limit_decision.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace cachet {

namespace detail {
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

// What the rate_limit policy calls: a decision without `remaining`, which it does not report.
struct rate_limiter_access {
  static rate_limit_decision admit(rate_limiter& limiter, std::string_view key) {
    return limiter.acquire<false>(key);
  }
};

}  // namespace detail

}  // namespace cachet

#endif
