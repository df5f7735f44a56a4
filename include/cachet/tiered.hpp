#ifndef CACHET_TIERED_HPP
#define CACHET_TIERED_HPP

/// \file
/// Two tiers: process memory in front of Redis, kept coherent across processes.
///
///     #include <cachet/tiered.hpp>
///     cachet::cached<&load_user, cachet::ttl<300>, cachet::key<"user:{}">,
///                    cachet::tags<"user:{}">, cachet::capacity<10000>,  // bounds memory
///                    cachet::backend<cachet::tiered<cachet::memory, cachet::redis>>> get_user;
///     get_user.invalidate_tag("user:42");  // reaches every process's memory tier

#include <cachet/detail/key_registry.hpp>
#include <cachet/detail/linkage.hpp>
#include <cachet/detail/tiered/coherence.hpp>
#include <cachet/detail/tiered/store.hpp>
#include <cachet/health.hpp>
#include <cachet/memory.hpp>
#include <cachet/redis.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace cachet {

/// Two backends in one: `Near` answers first, `Far` is the shared truth behind it. The only pair
/// there is: `cachet::tiered<cachet::memory, cachet::redis>`.
template <class Near, class Far>
class tiered;

/// Process memory in front of Redis: `cachet::backend<cachet::tiered<cachet::memory,
/// cachet::redis>>`. A hit in memory costs what a memory-backend hit costs (plus two atomic
/// loads; with integer arguments under a key<> template, whose memory keys are their bytes as on
/// the memory backend; other keys are rendered as text on each call) and sends nothing to Redis; a
/// miss there is a call on the Redis backend (its read script and validation, the function on a
/// miss there, the write), whose result fills memory; invalidations go to both. cachet::capacity<>
/// bounds the memory tier (Redis evicts by its maxmemory policy), an entry lives in memory at most
/// its ttl, and what Redis expires or evicts is dropped from memory as an invalidation.
/// stats().memory_tier_hits counts the hits memory answered.
///
/// Coherence: a connection of its own has Redis push (RESP3 client tracking, broadcast mode over
/// the backend's key prefix) every key that any process changes; memory drops those entries, and
/// a function's or a tag's counter (clear(), invalidate_tag) drops the function's entries or
/// makes the tag's stale. Memory serves only while tracking is confirmed on a live connection:
/// when it drops (or the health-check PING of config::health_check_interval goes unanswered, so
/// within twice that interval) memory is emptied and calls go to Redis until tracking is on again.
///
///     cachet::memory mem;
///     cachet::redis remote{cachet::redis::config::from_url(url)};
///     cachet::tiered<cachet::memory, cachet::redis> both{mem, remote};
///     cachet::cached<&load_user, cachet::backend<decltype(both)>> get_user{both};
///
/// Without an object, cached functions use shared(): the shared memory backend and the shared
/// (configured) Redis backend. A tiered backend must outlive its cached functions, and its memory
/// and Redis backends must outlive it.
template <>
class tiered<memory, redis> {
 public:
  using near_type = memory;
  using far_type = redis;

  /// Stores the results of one cached function; used by cachet::cached.
  template <class Value, std::size_t TagCount, class Codec = json_codec>
  using store = detail::tiered_store<Value, TagCount, Codec, tiered>;

  /// Values are stored as bytes in Redis, so cachet::codec<> applies.
  static constexpr bool serializes_values = true;
  /// Keys must be the same in every process: a function object needs a cachet::key<>.
  static constexpr bool needs_stable_keys = true;

  /// Uses `near` and `far`, which must outlive it. The invalidation channel connects on the first
  /// cached call, to the server `far` is configured for.
  tiered(memory& near, redis& far)
      : near_(&near),
        far_(&far),
        coherence_(std::make_shared<detail::tier_coherence>(near, entry_base(far.key_options()),
                                                            counter_base(far.key_options()))) {}

  tiered(const tiered&) = delete;
  tiered& operator=(const tiered&) = delete;

  /// The process-wide instance: memory::shared() in front of redis::shared().
  static tiered& shared() {
    static tiered instance{memory::shared(), redis::shared()};
    return instance;
  }

  /// Makes every entry tagged `tag` stale, in Redis and in the memory of every process on the
  /// same server and prefix. \throws as redis::invalidate_tag.
  CACHET_DECL void invalidate_tag(std::string_view tag);

  /// Whether the memory tier serves: tracking is confirmed on a live connection.
  bool coherent() noexcept { return started_coherence().serving(); }

  /// Starts the invalidation channel if need be and waits until the memory tier serves, or
  /// `limit` passed; returns coherent().
  bool wait_coherent(std::chrono::milliseconds limit) {
    return started_coherence().wait_serving(limit);
  }

  /// Returns once every invalidation Redis confirmed before this call has reached this process's
  /// memory tier: for a process that learns of another's invalidation by a message of its own
  /// and must not read the old value after it (one round trip on the tracking connection).
  /// \throws request_error when the channel is down (memory then serves nothing anyway).
  void sync() {
    started_coherence();
    channel_->sync(far_->runtime().client().get_config().request_timeout);
  }

  /// Invalidation pushes this process received (each names one or more keys, or is a flush).
  std::uint64_t invalidations_received() const noexcept {
    return coherence_->invalidations_received();
  }

  /// How often the memory tier was emptied because the channel dropped or the server flushed.
  std::uint64_t memory_flushes() const noexcept { return coherence_->flushes(); }

  /// The Redis backend's health (see redis::health()).
  cachet::health health() { return far_->health(); }

  memory& near() noexcept { return *near_; }
  redis& far() noexcept { return *far_; }

  /// The key templates of the cached functions on this backend (see cachet::key): Redis's, since
  /// the keys name entries there.
  detail::key_registry& key_templates() noexcept { return far_->key_templates(); }

  detail::tier_coherence& coherence() noexcept { return *coherence_; }

  /// The coherence state with its channel running (it connects the shared Redis backend).
  detail::tier_coherence& started_coherence() {
    if (!started_.load(std::memory_order_acquire)) start_channel();
    return *coherence_;
  }

 private:
  static std::string entry_base(const redis_options& o) {
    return o.key_prefix + ":v" + std::to_string(o.schema_version) + ":";
  }
  static std::string counter_base(const redis_options& o) {
    return o.key_prefix + ":v" + std::to_string(o.schema_version) + "#";
  }

  CACHET_DECL void start_channel();

  memory* near_;
  redis* far_;
  std::shared_ptr<detail::tier_coherence> coherence_;
  std::mutex start_mutex_;
  std::atomic<bool> started_{false};
  std::unique_ptr<detail::invalidation_channel> channel_;
};

}  // namespace cachet

#if CACHET_INCLUDE_BODIES
#include <cachet/impl/tiered.ipp>
#endif

#endif
