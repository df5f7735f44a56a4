#ifndef CACHET_TESTS_SUPPORT_QUOTE_SERVICE_HPP
#define CACHET_TESTS_SUPPORT_QUOTE_SERVICE_HPP

#include <cachet/retry.hpp>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace cachet_test {

/// A failure of the quote service that cachet::retry does not retry.
struct outage : std::runtime_error {
  outage() : std::runtime_error("quote service down") {}
};

/// A failure of the quote service that cachet::retry retries (it is cachet::transient).
struct hiccup : std::runtime_error, cachet::transient {
  hiccup() : std::runtime_error("quote service busy") {}
};

/// The function the cache-stage tests cache. A quote is the symbol and the current generation,
/// so a recomputed value differs from a stale one; the fields steer and record its calls.
struct quote_service {
  int generation = 1;
  bool down = false;
  std::set<std::string> failing;  // symbols whose calls fail
  int hiccups = 0;                // calls left that fail transiently
  int calls = 0;
  std::vector<std::string> called;  // the symbols of every call, in order

  std::string quote(const std::string& symbol) {
    ++calls;
    called.push_back(symbol);
    if (hiccups > 0) {
      --hiccups;
      throw hiccup();
    }
    if (down || failing.contains(symbol)) throw outage();
    return symbol + "@" + std::to_string(generation);
  }
};

}  // namespace cachet_test

#endif
