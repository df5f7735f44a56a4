// expect: cachet::circuit_breaker: the failure threshold must be at least 1
#include <cachet.hpp>
#include <cachet/circuit_breaker.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::circuit_breaker<0, cachet::cooldown<30>>> c;
#else
cachet::cached<&twice, cachet::circuit_breaker<5, cachet::cooldown<30>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
