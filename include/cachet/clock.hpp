#ifndef CACHET_CLOCK_HPP
#define CACHET_CLOCK_HPP

#include <atomic>
#include <chrono>

namespace cachet {

/// The time source a backend reads expiry against. Backends use the steady clock unless given
/// another one, so tests of expiry can move time by hand instead of sleeping.
class clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  virtual ~clock() = default;
  virtual time_point now() const noexcept = 0;
};

/// A clock that moves only when told to; thread-safe.
///
///     cachet::manual_clock t;
///     cachet::memory store{t};
///     t.advance(std::chrono::seconds(301));   // every ttl<300> entry in `store` is now stale
class manual_clock final : public clock {
 public:
  time_point now() const noexcept override { return time_point(duration(ticks_.load())); }
  void advance(duration d) noexcept { ticks_.fetch_add(d.count()); }
  void set(time_point t) noexcept { ticks_.store(t.time_since_epoch().count()); }

 private:
  std::atomic<duration::rep> ticks_{0};
};

}  // namespace cachet

#endif
