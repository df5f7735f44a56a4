// expect: cachet::per: the period must be at least 1 second
#include <cachet.hpp>
#include <cachet/rate_limit.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::rate_limit<10, cachet::per<0>>> c;
#else
cachet::cached<&twice, cachet::rate_limit<10, cachet::per<1>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
