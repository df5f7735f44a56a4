// expect: cachet::half_open_probes: with 0 probes the circuit could never close again
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::circuit_breaker<3, cachet::half_open_probes<0>>> c;
#else
cachet::cached<&twice, cachet::circuit_breaker<3, cachet::half_open_probes<1>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
