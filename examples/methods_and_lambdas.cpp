// Caching member functions (shared across objects, or per object with instance_key), lambdas
// with captures, and run-time settings that override the policies' defaults.
#include <cachet.hpp>

#include <chrono>
#include <iostream>
#include <string>

struct price_service {
  std::string region;
  int lookups = 0;

  double price_of(const std::string& sku) {
    ++lookups;
    return region == "eu" ? 9.5 : 10.0 + static_cast<double>(sku.size());
  }
};

int main() {
  // One cache per region: the object's region is part of the key.
  cachet::cached<&price_service::price_of, cachet::ttl<60>,
                 cachet::instance_key<&price_service::region>>
      price;
  price_service eu{"eu"}, us{"us"};
  std::cout << "eu " << price(eu, "book") << ", us " << price(us, "book") << "\n";
  price(eu, "book");
  std::cout << "lookups: eu " << eu.lookups << ", us " << us.lookups << "\n";

  // A lambda with captures; the ttl comes from configuration at run time.
  int multiplier = 3;
  const auto configured_ttl = std::chrono::seconds(5);
  auto scaled = cachet::make_cached<cachet::ttl<60>, cachet::capacity<1000>>(
      [&](int x) { return x * multiplier; }, cachet::options{.ttl = configured_ttl});
  std::cout << "scaled(14) = " << scaled(14) << "\n";

  const bool ok =
      eu.lookups == 1 && us.lookups == 1 && scaled(14) == 42 && scaled.stats().hits == 1;
  return ok ? 0 : 1;
}
