// expect: cachet::circuit_breaker: its options are cachet::cooldown<Seconds>
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::circuit_breaker<3, cachet::ttl<60>>> c;
#else
cachet::cached<&twice, cachet::circuit_breaker<3>, cachet::ttl<60>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
