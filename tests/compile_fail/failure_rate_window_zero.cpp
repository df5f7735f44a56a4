// expect: cachet::failure_rate: the window must hold at least 1 call
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::circuit_breaker<3, cachet::failure_rate<50, 0>>> c;
#else
cachet::cached<&twice, cachet::circuit_breaker<3, cachet::failure_rate<50, 20>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
