#ifndef CACHET_OPTIONS_HPP
#define CACHET_OPTIONS_HPP

#include <cachet/clock.hpp>
#include <cachet/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cachet {

class breaker;

/// Run-time values that override the defaults given as policies, for services that read them
/// from configuration. An empty field keeps the policy's value.
///
///     cachet::cached<&load_user, cachet::ttl<300>> get_user{cachet::options{.ttl = config_ttl}};
/// Durations must not be negative: a cached object built with one throws cachet::error naming
/// the field.
struct options {
  // Every field has an initializer, so `options{.ttl = t}` compiles cleanly under g++'s
  // -Wmissing-field-initializers.
  std::optional<std::chrono::milliseconds> ttl = std::nullopt;  ///< 0 = never expires
  std::optional<std::size_t> capacity = std::nullopt;           ///< entries; 0 = unbounded

  /// The time this cached function reads: expiry in the in-memory store, rate_limit and
  /// circuit_breaker, and the time of the Redis store's "fresh_until" under cachet::fail_safe
  /// (so every process sharing those entries must then share the clock: for tests); null = the
  /// backend's clock (the steady clock; Unix time for "fresh_until"). Must outlive the cached
  /// object.
  const cachet::clock* clock = nullptr;
  /// Calls cachet::rate_limit admits per period (overrides rate_limit<N>).
  std::optional<std::uint64_t> rate_limit = std::nullopt;
  /// The period of cachet::rate_limit (overrides per<S>).
  std::optional<std::chrono::milliseconds> rate_limit_period = std::nullopt;
  /// Consecutive failures that open cachet::circuit_breaker (overrides circuit_breaker<N>).
  std::optional<std::size_t> circuit_breaker_failures = std::nullopt;
  /// How long an open cachet::circuit_breaker fails fast (overrides cooldown<S>).
  std::optional<std::chrono::milliseconds> circuit_breaker_cooldown = std::nullopt;
  /// A breaker for cachet::circuit_breaker to use instead of its own, so its state can be watched
  /// and shared by several functions; its own settings then apply. Must outlive the cached object.
  cachet::breaker* breaker = nullptr;
  /// Retries after the first attempt made by cachet::retry (overrides retry<N>).
  std::optional<std::size_t> retry_attempts = std::nullopt;
  /// The first backoff delay of cachet::retry, doubled each retry (overrides backoff<Ms, ...>).
  std::optional<std::chrono::milliseconds> retry_base_delay = std::nullopt;
  /// How cachet::retry waits between attempts; empty = std::this_thread::sleep_for. Tests pass
  /// one that records the delay instead of sleeping.
  std::function<void(std::chrono::nanoseconds)> retry_sleep = nullptr;
  /// How long past its ttl cachet::fail_safe keeps a result to serve when the function fails
  /// (overrides fail_safe<S>; ignored without that policy).
  std::optional<std::chrono::milliseconds> fail_safe_max_stale = std::nullopt;
};

namespace detail {

inline void require_not_negative(const std::optional<std::chrono::milliseconds>& value,
                                 std::string_view field, std::string_view fix) {
  if (value && value->count() < 0) {
    throw cachet::error("cachet::options: " + std::string(field) + " is negative (" +
                        std::to_string(value->count()) + " ms); " + std::string(fix));
  }
}

// Rejects durations no policy can work with, when a cached object is built from them: a negative
// ttl would make the memory backend never cache and Redis cache forever. Counts, periods and
// breaker settings are checked by the policies that use them.
inline void require_valid(const options& opts) {
  require_not_negative(opts.ttl, "ttl", "give 0 (never expires) or a positive duration");
  require_not_negative(opts.fail_safe_max_stale, "fail_safe_max_stale",
                       "give 0 (no stale results) or a positive duration");
  require_not_negative(opts.retry_base_delay, "retry_base_delay",
                       "give 0 (retry at once) or a positive duration");
  require_not_negative(opts.rate_limit_period, "rate_limit_period", "give a positive duration");
  require_not_negative(opts.circuit_breaker_cooldown, "circuit_breaker_cooldown",
                       "give 0 or a positive duration");
}

}  // namespace detail
}  // namespace cachet

#endif
