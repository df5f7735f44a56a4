#ifndef CACHET_PROMETHEUS_HPP
#define CACHET_PROMETHEUS_HPP

// The only cachet header that includes prometheus-cpp (Debian: prometheus-cpp-dev); link
// cachet::prometheus, or prometheus-cpp-core without CMake.

#include <cachet/detail/observe/registry.hpp>
#include <cachet/stats.hpp>

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cachet {

/// A prometheus::Collectable that reports every live cached object of the process, each scrape,
/// labelled cache="<name>" (see cachet::name). Objects with the same name are added up; an object
/// leaves the report when it is destroyed.
///
///     prometheus::Exposer exposer{"0.0.0.0:9464"};
///     auto metrics = std::make_shared<cachet::prometheus_collector>();
///     exposer.RegisterCollectable(metrics);
///
/// Counters: cachet_hits_total, cachet_misses_total, cachet_loads_total,
/// cachet_load_errors_total, cachet_evictions_total, cachet_expirations_total,
/// cachet_invalidations_total, cachet_stale_served_total, cachet_rate_limited_total,
/// cachet_circuit_open_total, cachet_backend_errors_total, cachet_backend_skipped_total,
/// cachet_decode_errors_total; histogram cachet_load_duration_seconds (successful loads of
/// blocking and coroutine calls, timed in every program that includes this header, from before
/// main). Collecting takes each store's stats() and so briefly each of its locks.
class prometheus_collector : public ::prometheus::Collectable {
 public:
  prometheus_collector() noexcept { detail::load_durations_wanted.store(true); }

  std::vector<::prometheus::MetricFamily> Collect() const override {
    std::map<std::string_view, detail::cache_report> by_name;
    detail::cache_registry::instance().for_each(
        [&](const detail::cache_report& r) { add(by_name[r.name], r); });

    std::vector<::prometheus::MetricFamily> families;
    auto counter = [&](const char* name, const char* help, auto field) {
      ::prometheus::MetricFamily f{name, help, ::prometheus::MetricType::Counter, {}};
      for (const auto& [cache, r] : by_name) {
        ::prometheus::ClientMetric m;
        m.label.push_back({"cache", std::string(cache)});
        m.counter.value = static_cast<double>(field(r));
        f.metric.push_back(std::move(m));
      }
      families.push_back(std::move(f));
    };
    using report = detail::cache_report;
    counter("cachet_hits_total", "Calls answered with a fresh stored result.",
            [](const report& r) { return r.stats.hits; });
    counter("cachet_misses_total", "Calls that found no fresh stored result.",
            [](const report& r) { return r.stats.misses; });
    counter("cachet_loads_total", "Calls of the cached function that returned a result.",
            [](const report& r) { return r.stats.loads; });
    counter("cachet_load_errors_total", "Calls of the cached function that threw.",
            [](const report& r) { return r.stats.load_errors; });
    counter("cachet_evictions_total", "Entries dropped to respect the capacity.",
            [](const report& r) { return r.stats.evictions; });
    counter("cachet_expirations_total", "Entries dropped because their ttl had passed.",
            [](const report& r) { return r.stats.expirations; });
    counter("cachet_invalidations_total", "Entries found stale by a tag invalidation.",
            [](const report& r) { return r.stats.invalidations; });
    counter("cachet_stale_served_total", "Calls answered by fail_safe with a result past its ttl.",
            [](const report& r) { return r.stats.stale_served; });
    counter("cachet_rate_limited_total", "Calls that threw cachet::rate_limited.",
            [](const report& r) { return r.rate_limited; });
    counter("cachet_circuit_open_total", "Calls that threw cachet::circuit_open.",
            [](const report& r) { return r.circuit_open; });
    counter("cachet_backend_errors_total", "Failed backend operations the call survived.",
            [](const report& r) { return r.stats.backend_errors; });
    counter("cachet_backend_skipped_total",
            "Backend operations skipped because the backend's breaker was open.",
            [](const report& r) { return r.stats.backend_skipped; });
    counter("cachet_decode_errors_total", "Stored values that could not be read back.",
            [](const report& r) { return r.stats.decode_errors; });

    ::prometheus::MetricFamily durations{"cachet_load_duration_seconds",
                                         "How long successful calls of the cached function took.",
                                         ::prometheus::MetricType::Histogram,
                                         {}};
    for (const auto& [cache, r] : by_name) {
      ::prometheus::ClientMetric m;
      m.label.push_back({"cache", std::string(cache)});
      std::uint64_t cumulative = 0;
      const auto& bounds = detail::load_histogram::upper_bounds;
      for (std::size_t i = 0; i < r.load_durations.counts.size(); ++i) {
        cumulative += r.load_durations.counts[i];
        m.histogram.bucket.push_back(
            {cumulative, i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity()});
      }
      m.histogram.sample_count = cumulative;
      m.histogram.sample_sum = r.load_durations.sum_seconds;
      durations.metric.push_back(std::move(m));
    }
    families.push_back(std::move(durations));
    return families;
  }

 private:
  static void add(detail::cache_report& into, const detail::cache_report& r) {
    into.name = r.name;
    cachet::stats& s = into.stats;
    s.hits += r.stats.hits;
    s.misses += r.stats.misses;
    s.loads += r.stats.loads;
    s.load_errors += r.stats.load_errors;
    s.evictions += r.stats.evictions;
    s.expirations += r.stats.expirations;
    s.invalidations += r.stats.invalidations;
    s.decode_errors += r.stats.decode_errors;
    s.backend_errors += r.stats.backend_errors;
    s.stale_served += r.stats.stale_served;
    s.backend_skipped += r.stats.backend_skipped;
    into.rate_limited += r.rate_limited;
    into.circuit_open += r.circuit_open;
    for (std::size_t i = 0; i < into.load_durations.counts.size(); ++i) {
      into.load_durations.counts[i] += r.load_durations.counts[i];
    }
    into.load_durations.sum_seconds += r.load_durations.sum_seconds;
  }
};

namespace detail {
// Loads are timed from the start of every program that can collect them (registry.hpp).
inline const bool prometheus_wants_load_durations = [] {
  load_durations_wanted.store(true);
  return true;
}();
}  // namespace detail

}  // namespace cachet

#endif
