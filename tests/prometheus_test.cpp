#include <cachet.hpp>
#include <cachet/prometheus.hpp>

#include <prometheus/text_serializer.h>

#include "support/prometheus_metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using cachet_test::counter;
using cachet_test::family;
using cachet_test::metric;

int twice(int x) { return 2 * x; }

// A load that takes a known least time, for the histogram's sum.
int slow_twice(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return 2 * x;
}

bool fail = false;
int flaky(int x) {
  if (fail) throw std::runtime_error("flaky failed");
  return x;
}

TEST(prometheus_test, every_counter_family_is_reported_with_its_conventional_name_and_type) {
  cachet::memory backend;
  cachet::cached<&twice, cachet::name<"families">> c{backend};
  c(1);
  const auto all = cachet::prometheus_collector{}.Collect();
  for (const char* name :
       {"cachet_hits_total", "cachet_misses_total", "cachet_loads_total",
        "cachet_load_errors_total", "cachet_evictions_total", "cachet_expirations_total",
        "cachet_invalidations_total", "cachet_stale_served_total", "cachet_rate_limited_total",
        "cachet_circuit_open_total", "cachet_backend_errors_total", "cachet_backend_skipped_total",
        "cachet_decode_errors_total"}) {
    const prometheus::MetricFamily* f = family(all, name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->type, prometheus::MetricType::Counter) << name;
    EXPECT_FALSE(f->help.empty()) << name;
  }
  const prometheus::MetricFamily* h = family(all, "cachet_load_duration_seconds");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->type, prometheus::MetricType::Histogram);
}

TEST(prometheus_test, counts_are_those_of_the_cache_labelled_with_its_name) {
  cachet::manual_clock clock;
  cachet::memory backend{clock};
  cachet::cached<&twice, cachet::capacity<2>, cachet::name<"counted">> c{backend};
  c(1);
  c(1);
  c(1);
  c(2);
  c(3);  // evicts one
  const auto all = cachet::prometheus_collector{}.Collect();
  EXPECT_EQ(counter(all, "cachet_hits_total", "counted"), 2);
  EXPECT_EQ(counter(all, "cachet_misses_total", "counted"), 3);
  EXPECT_EQ(counter(all, "cachet_loads_total", "counted"), 3);
  EXPECT_EQ(counter(all, "cachet_evictions_total", "counted"), 1);
  EXPECT_EQ(counter(all, "cachet_load_errors_total", "counted"), 0);
  auto h = metric(all, "cachet_load_duration_seconds", "counted");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->histogram.sample_count, 3u);
  ASSERT_EQ(h->histogram.bucket.size(), 12u);
  EXPECT_TRUE(std::isinf(h->histogram.bucket.back().upper_bound));
  EXPECT_EQ(h->histogram.bucket.back().cumulative_count, 3u);
  EXPECT_GE(h->histogram.sample_sum, 0.0);
}

// Every test runs in a process of its own: here no collector has been made before the loads.
TEST(prometheus_test, loads_before_the_first_collector_are_timed) {
  cachet::memory backend;
  cachet::cached<&slow_twice, cachet::name<"early">> c{backend};
  EXPECT_EQ(c(1), 2);
  EXPECT_EQ(c(2), 4);
  auto h =
      metric(cachet::prometheus_collector{}.Collect(), "cachet_load_duration_seconds", "early");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->histogram.sample_count, 2u);
  EXPECT_GE(h->histogram.sample_sum, 0.004);
}

TEST(prometheus_test, resilience_counts_are_reported) {
  cachet::manual_clock clock;
  cachet::memory backend{clock};
  cachet::cached<&twice, cachet::rate_limit<1, cachet::per<60>>, cachet::name<"limited">> limited{
      backend, cachet::options{.clock = &clock}};
  limited(1);
  EXPECT_THROW(limited(1), cachet::rate_limited);
  EXPECT_THROW(limited(1), cachet::rate_limited);
  cachet::cached<&flaky, cachet::circuit_breaker<1, cachet::cooldown<30>>, cachet::name<"broken">>
      broken{backend, cachet::options{.clock = &clock}};
  fail = true;
  EXPECT_THROW(broken(1), std::runtime_error);
  EXPECT_THROW(broken(1), cachet::circuit_open);
  fail = false;
  const auto all = cachet::prometheus_collector{}.Collect();
  EXPECT_EQ(counter(all, "cachet_rate_limited_total", "limited"), 2);
  EXPECT_EQ(counter(all, "cachet_circuit_open_total", "broken"), 1);
  EXPECT_EQ(counter(all, "cachet_load_errors_total", "broken"), 2);
}

TEST(prometheus_test, caches_of_one_name_are_added_up_and_leave_when_destroyed) {
  cachet::memory backend;
  cachet::cached<&twice, cachet::name<"shared_name">> a{backend};
  a(1);
  {
    cachet::cached<&twice, cachet::name<"shared_name">> b{backend};
    b(1);
    b(2);
    EXPECT_EQ(
        counter(cachet::prometheus_collector{}.Collect(), "cachet_misses_total", "shared_name"), 3);
  }
  EXPECT_EQ(counter(cachet::prometheus_collector{}.Collect(), "cachet_misses_total", "shared_name"),
            1);
  auto gone = std::make_unique<cachet::cached<&twice, cachet::name<"gone">>>(backend);
  (*gone)(1);
  EXPECT_EQ(counter(cachet::prometheus_collector{}.Collect(), "cachet_loads_total", "gone"), 1);
  gone.reset();
  EXPECT_FALSE(metric(cachet::prometheus_collector{}.Collect(), "cachet_loads_total", "gone"));
}

TEST(prometheus_test, the_text_exposition_has_the_names_and_labels) {
  cachet::memory backend;
  cachet::cached<&twice, cachet::key<"twice:{}">> c{backend};
  c(4);
  c(4);
  const std::string text =
      prometheus::TextSerializer{}.Serialize(cachet::prometheus_collector{}.Collect());
  EXPECT_NE(text.find("# TYPE cachet_hits_total counter"), std::string::npos) << text;
  EXPECT_NE(text.find("cachet_hits_total{cache=\"twice:{}\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("cachet_load_duration_seconds_count{cache=\"twice:{}\"} 1"),
            std::string::npos)
      << text;
}

}  // namespace
