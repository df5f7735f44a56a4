// The collector walking the registry while cached objects are built and destroyed on other
// threads, and calls counted on a shared one: no object is reported after it is gone, and the
// final counts are exact.

#include <cachet.hpp>
#include <cachet/prometheus.hpp>

#include "support/prometheus_metrics.hpp"
#include "support/run_together.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace {

using cachet_test::counter;
using cachet_test::metric;

int twice(int x) { return 2 * x; }

TEST(prometheus_concurrency, objects_come_and_go_on_many_threads_while_a_collector_walks_them) {
  const std::size_t before = cachet::detail::cache_registry::instance().size();
  cachet::memory backend;
  cachet::cached<&twice, cachet::name<"steady">> steady{backend};
  constexpr int threads = 4;
  constexpr int rounds = 300;
  std::atomic<int> collections{0};
  cachet_test::run_together(threads + 1, [&](int t) {
    if (t == threads) {
      for (int i = 0; i < rounds; ++i) {
        const auto all = cachet::prometheus_collector{}.Collect();
        const double churn = counter(all, "cachet_loads_total", "churn");
        // Each live churn object has loaded once at most; never more objects than threads.
        EXPECT_LE(churn, threads);
        ++collections;
      }
      return;
    }
    for (int i = 0; i < rounds; ++i) {
      cachet::cached<&twice, cachet::name<"churn">> c{backend};
      c(i);
      steady(i % 10);
    }
  });
  EXPECT_EQ(collections.load(), rounds);
  const auto all = cachet::prometheus_collector{}.Collect();
  EXPECT_FALSE(metric(all, "cachet_loads_total", "churn"));
  EXPECT_EQ(
      counter(all, "cachet_hits_total", "steady") + counter(all, "cachet_misses_total", "steady"),
      threads * rounds);
  EXPECT_EQ(counter(all, "cachet_loads_total", "steady"), 10);
  EXPECT_EQ(cachet::detail::cache_registry::instance().size(), before + 1);
}

}  // namespace
