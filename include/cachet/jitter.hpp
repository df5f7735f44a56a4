#ifndef CACHET_JITTER_HPP
#define CACHET_JITTER_HPP

#include <cachet/detail/policy.hpp>
#include <cachet/detail/random_bits.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace cachet {
namespace detail {
struct jitter_kind {};

// What cached<> uses without a jitter<> policy: every write keeps the ttl as given.
struct no_jitter {
  static constexpr unsigned percent = 0;
};

// The ttl of one write under jitter<Percent>: ttl * (1 + u), u uniform in [-Percent/100,
// +Percent/100], drawn per write. Never outside [ttl - ttl*Percent/100, ttl + ttl*Percent/100]
// (bounds computed exactly in integers; the draw itself in double, whose rounding is then
// clamped), and never 0, which would mean "never expires". A ttl of 0 stays 0.
inline std::chrono::nanoseconds jittered_ttl(std::chrono::nanoseconds ttl, unsigned percent) {
  if (percent == 0 || ttl.count() <= 0) return ttl;
  const std::int64_t t = ttl.count();
  // t * percent / 100 without overflowing: t is at most max_ttl (about 3.2e18 ns).
  const std::int64_t spread = t / 100 * percent + t % 100 * percent / 100;
  const std::int64_t low = std::max<std::int64_t>(t - spread, 1);
  const std::int64_t high = t + spread;
  // Per thread (detail::random_bits): writes from many threads share no generator and no lock,
  // and processes started together do not draw the same sequence.
  const double u = (2.0 * random_unit() - 1.0) * static_cast<double>(percent) / 100.0;
  const double drawn = static_cast<double>(t) * (1.0 + u);
  // high + spread stays far below INT64_MAX (ttl <= max_ttl, percent < 100), so the cast of a
  // value clamped to [low, high] is exact enough and defined.
  const double clamped = std::clamp(drawn, static_cast<double>(low), static_cast<double>(high));
  return std::chrono::nanoseconds(std::clamp(static_cast<std::int64_t>(clamped), low, high));
}

// The longest ttl a write may get under jitter of `percent` (for bounds that must cover every
// entry, such as a Redis permit's window, or the memory tier's cap in front of Redis).
constexpr std::chrono::nanoseconds longest_jittered_ttl(std::chrono::nanoseconds ttl,
                                                        unsigned percent) {
  const std::int64_t t = ttl.count();
  return std::chrono::nanoseconds(t + t / 100 * percent + t % 100 * percent / 100);
}

// A ttl whose longest jittered write is at most the shortest jittered write of `ttl`:
// ttl * (100 - percent) / (100 + percent), rounded down. A store in front of another (the
// memory tier of cachet::tiered) keeps its entries with it, so that even with jitter no entry of
// the front outlives the same write behind it.
constexpr std::chrono::nanoseconds front_tier_ttl(std::chrono::nanoseconds ttl, unsigned percent) {
  if (percent == 0 || ttl.count() <= 0) return ttl;
  const std::int64_t t = ttl.count();
  const std::int64_t shortest = t - (t / 100 * percent + t % 100 * percent / 100);
  // shortest * 100 / (100 + percent), again without overflow.
  const std::int64_t d = 100 + static_cast<std::int64_t>(percent);
  const std::int64_t front = shortest / d * 100 + shortest % d * 100 / d;
  return std::chrono::nanoseconds(std::max<std::int64_t>(front, 1));
}
}  // namespace detail

/// Policy: spreads each write's ttl by up to ±`Percent`%, so that entries written together (a
/// warm-up, a burst of misses after a deploy) do not all expire together and send their load
/// back to the function at one instant. Each write keeps its result for ttl * (1 + u), u drawn
/// uniformly from [-Percent/100, +Percent/100] per write.
///
///     // each user fresh for 270 to 330 s
///     cachet::cached<&load_user, cachet::ttl<300>, cachet::jitter<10>> get_user;
///
/// It needs a ttl (`ttl<N>` with N > 0): without one nothing expires. It applies to every
/// backend: the in-memory store's deadlines, the PX of a Redis write (and its fail_safe
/// freshness), and in cachet::tiered the memory tier, whose entries are kept for at most the
/// shortest ttl a Redis write can get, so that none outlives its Redis entry's write.
/// `options::ttl` overrides the ttl, and the jitter applies to it.
template <unsigned Percent>
struct jitter : detail::policy<detail::jitter_kind> {
  static constexpr void check_values() {
    static_assert(Percent > 0 && Percent < 100,
                  "cachet::jitter: the spread must be between 1 and 99 percent of the ttl; leave "
                  "the policy out for entries that all keep the ttl as given");
  }
  static constexpr unsigned percent = Percent;
};

}  // namespace cachet

#endif
