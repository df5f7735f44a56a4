#ifndef CACHET_DETAIL_OBSERVE_REGISTRY_HPP
#define CACHET_DETAIL_OBSERVE_REGISTRY_HPP

#include <cachet/stats.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachet::detail {

// Whether this program can read load durations: true before main in every program that has a
// unit including <cachet/prometheus.hpp>, the histograms' only reader (and again when a
// prometheus_collector is made). Timing a load reads the precise clock twice, about 50 ns, as much
// as the rest of an in-memory miss; a program that cannot read the histograms does not pay it.
inline std::atomic<bool> load_durations_wanted{false};

// How long a cached function's loads took, in the buckets Prometheus clients use by default.
class load_histogram {
 public:
  static constexpr std::array<double, 11> upper_bounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                          0.5,   1.0,  2.5,   5.0,  10.0};

  // Counts per bucket, not cumulative; the last is +Inf.
  struct snapshot {
    std::array<std::uint64_t, upper_bounds.size() + 1> counts{};
    double sum_seconds = 0;
  };

  void record(std::chrono::nanoseconds d) noexcept {
    const double seconds = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < upper_bounds.size() && seconds > upper_bounds[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count()),
                      std::memory_order_relaxed);
  }

  snapshot read() const noexcept {
    snapshot s;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    }
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

 private:
  std::array<std::atomic<std::uint64_t>, upper_bounds.size() + 1> counts_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

// What one live cached object reports to a metrics collector: its store's stats() and the
// counts only cached<> itself sees.
struct cache_report {
  std::string_view name;
  cachet::stats stats;
  std::uint64_t rate_limited = 0;
  std::uint64_t circuit_open = 0;
  load_histogram::snapshot load_durations;
};

class cache_registry;

// One cached object's place in the registry: registered while it lives. It must be the cached
// object's last member, so that it registers after the store is built and leaves before the
// store is destroyed.
class registered_cache {
 public:
  using stats_function = cachet::stats (*)(const void* owner);

  registered_cache(std::string_view name, const void* owner, stats_function stats_of);
  ~registered_cache();
  registered_cache(const registered_cache&) = delete;
  registered_cache& operator=(const registered_cache&) = delete;

  std::string_view name() const noexcept { return name_; }
  void count_rate_limited() noexcept { rate_limited_.fetch_add(1, std::memory_order_relaxed); }
  void count_circuit_open() noexcept { circuit_open_.fetch_add(1, std::memory_order_relaxed); }
  void record_load(std::chrono::nanoseconds d) noexcept { load_durations_.record(d); }

  cache_report report() const {
    return {name_, stats_of_(owner_), rate_limited_.load(std::memory_order_relaxed),
            circuit_open_.load(std::memory_order_relaxed), load_durations_.read()};
  }

 private:
  std::string_view name_;  // static storage: a policy's, a key template's or a function's name
  const void* owner_;
  stats_function stats_of_;
  std::atomic<std::uint64_t> rate_limited_{0};
  std::atomic<std::uint64_t> circuit_open_{0};
  load_histogram load_durations_;
};

// Every live cached object of the process, for collectors that walk them (cachet::
// prometheus_collector). Objects enter and leave from any thread; a walk holds the lock, so an
// object being destroyed waits for the walk to end.
class cache_registry {
 public:
  static cache_registry& instance() {
    static cache_registry registry;
    return registry;
  }

  // Calls f(const cache_report&) for every live cached object.
  template <class F>
  void for_each(F&& f) const {
    std::lock_guard lock(mutex_);
    for (const registered_cache* c : caches_) f(c->report());
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return caches_.size();
  }

 private:
  friend class registered_cache;

  void enter(const registered_cache* c) {
    std::lock_guard lock(mutex_);
    caches_.push_back(c);
  }
  void leave(const registered_cache* c) noexcept {
    std::lock_guard lock(mutex_);
    for (auto& slot : caches_) {
      if (slot == c) {
        slot = caches_.back();
        caches_.pop_back();
        return;
      }
    }
  }

  mutable std::mutex mutex_;
  std::vector<const registered_cache*> caches_;
};

inline registered_cache::registered_cache(std::string_view name, const void* owner,
                                          stats_function stats_of)
    : name_(name), owner_(owner), stats_of_(stats_of) {
  cache_registry::instance().enter(this);
}

inline registered_cache::~registered_cache() { cache_registry::instance().leave(this); }

}  // namespace cachet::detail

#endif
