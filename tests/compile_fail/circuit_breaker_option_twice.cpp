// expect: cachet::circuit_breaker: an option is given twice; keep one
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::circuit_breaker<3, cachet::cooldown<5>, cachet::cooldown<9>>> c;
#else
cachet::cached<&twice, cachet::circuit_breaker<3, cachet::cooldown<5>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
