// expect: cachet::retry_if: the predicate must be callable with const std::exception&
#include <cachet.hpp>
#include <cachet/retry.hpp>

#include <exception>
#include <string>

int twice(int x) { return 2 * x; }
bool by_message(const std::string& message) { return message == "timeout"; }
bool is_transient(const std::exception& e) { return by_message(e.what()); }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::retry<3, cachet::retry_if<&by_message>>> c;
#else
cachet::cached<&twice, cachet::retry<3, cachet::retry_if<&is_transient>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
