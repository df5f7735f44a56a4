// What the metrics collector reads of a live cached object, found by its name in the registry.
#pragma once

#include <cachet/detail/observe/registry.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <optional>
#include <string_view>

namespace cachet_test {

inline cachet::detail::cache_report report_of(std::string_view name) {
  std::optional<cachet::detail::cache_report> found;
  cachet::detail::cache_registry::instance().for_each([&](const cachet::detail::cache_report& r) {
    if (r.name == name) found = r;
  });
  EXPECT_TRUE(found.has_value()) << name;
  return found.value_or(cachet::detail::cache_report{});
}

// Loads whose duration went into the report's histogram.
inline std::uint64_t timed_loads(const cachet::detail::cache_report& r) {
  return std::accumulate(r.load_durations.counts.begin(), r.load_durations.counts.end(),
                         std::uint64_t{0});
}

}  // namespace cachet_test
