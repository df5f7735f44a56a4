// Finding one cache's series in what a prometheus::Collectable reported.
#pragma once

#include <prometheus/metric_family.h>

#include <optional>
#include <string>
#include <vector>

namespace cachet_test {

inline const prometheus::MetricFamily* family(const std::vector<prometheus::MetricFamily>& all,
                                              const std::string& name) {
  for (const auto& f : all) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// The metric of `family_name` labelled cache="<cache>", if the collector reported one.
inline std::optional<prometheus::ClientMetric> metric(
    const std::vector<prometheus::MetricFamily>& all, const std::string& family_name,
    const std::string& cache) {
  const prometheus::MetricFamily* f = family(all, family_name);
  if (f == nullptr) return std::nullopt;
  for (const auto& m : f->metric) {
    if (m.label.size() == 1 && m.label[0].name == "cache" && m.label[0].value == cache) return m;
  }
  return std::nullopt;
}

// The counter's value, or -1 when the series is missing (no counter is ever negative).
inline double counter(const std::vector<prometheus::MetricFamily>& all,
                      const std::string& family_name, const std::string& cache) {
  auto m = metric(all, family_name, cache);
  return m ? m->counter.value : -1;
}

}  // namespace cachet_test
