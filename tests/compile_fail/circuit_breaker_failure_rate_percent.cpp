// expect: cachet::failure_rate: the percentage must be from 1 to 100
#include <cachet.hpp>
#include <cachet/circuit_breaker.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::circuit_breaker<5, cachet::failure_rate<150, 20>>> c;
#else
cachet::cached<&twice, cachet::circuit_breaker<5, cachet::failure_rate<50, 20>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
