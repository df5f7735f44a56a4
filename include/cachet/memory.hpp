#ifndef CACHET_MEMORY_HPP
#define CACHET_MEMORY_HPP

#include <cachet/clock.hpp>
#include <cachet/detail/coarse_clock.hpp>
#include <cachet/detail/key_registry.hpp>
#include <cachet/detail/memory/store.hpp>
#include <cachet/detail/memory/tag_generations.hpp>
#include <cachet/health.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

namespace cachet {

/// The in-process backend, and the default one. Each cached function keeps its own entries (typed
/// values, no serialisation); the backend holds what they share: the clock and the tag counters,
/// so `invalidate_tag("user:42")` reaches every cached function on this backend.
///
///     cachet::manual_clock t;
///     cachet::memory mem{t};                                  // for tests: time moves by hand
///     cachet::cached<&load_user, cachet::ttl<60>> get_user{mem};
///
/// A memory backend must outlive the cached functions that use it.
class memory {
 public:
  /// Stores the results of one cached function; used by cachet::cached.
  template <class Value, std::size_t TagCount>
  using store = detail::memory_store<Value, TagCount, memory>;

  memory() = default;
  explicit memory(const cachet::clock& c) : clock_(&c) {}
  memory(const memory&) = delete;
  memory& operator=(const memory&) = delete;

  /// The process-wide instance that cached functions without an explicit backend use.
  static memory& shared() {
    static memory instance;
    return instance;
  }

  /// Makes every entry tagged `tag`, of every cached function on this backend, stale. O(1).
  void invalidate_tag(std::string_view tag) noexcept { tags_.bump(tag); }

  std::chrono::steady_clock::time_point now() const noexcept {
    if (clock_ != nullptr) return clock_->now();
    // Expiry is set in seconds: the coarse clock is plenty, and cheaper on every hit.
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(detail::coarse_now()));
  }

  /// The clock this backend was given, or null when it reads the steady clock.
  const cachet::clock* given_clock() const noexcept { return clock_; }

  detail::tag_generations& tag_counters() noexcept { return tags_; }

  /// Always ready: the process's own memory has no connection to lose (see cachet::health).
  cachet::health health() const noexcept { return {}; }

  /// The key templates of the cached functions on this backend (see cachet::key).
  detail::key_registry& key_templates() noexcept { return *key_templates_; }

 private:
  const cachet::clock* clock_ = nullptr;
  detail::tag_generations tags_;
  std::shared_ptr<detail::key_registry> key_templates_ = std::make_shared<detail::key_registry>();
};

}  // namespace cachet

#endif
