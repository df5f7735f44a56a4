// The Prometheus collector, built by the find_package consumer test against cachet::prometheus:
// that it builds shows COMPONENTS prometheus brings what <cachet/prometheus.hpp> needs.
#include <cachet.hpp>
#include <cachet/prometheus.hpp>

#include <memory>

int twice(int x) { return 2 * x; }

int main() {
  cachet::cached<&twice, cachet::name<"twice">> c;
  c(21);
  auto metrics = std::make_shared<cachet::prometheus_collector>();
  return metrics->Collect().empty() ? 1 : 0;
}
