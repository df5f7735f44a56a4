// expect: cachet::cooldown: the circuit must stay open at least 1 second
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::circuit_breaker<1, cachet::cooldown<0>>> c;
#else
cachet::cached<&twice, cachet::circuit_breaker<1, cachet::cooldown<1>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
