// expect: cachet::rate_limit: the limit must be at least 1 call per period
#include <cachet.hpp>
#include <cachet/rate_limit.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::rate_limit<0, cachet::per<60>>> c;
#else
cachet::cached<&twice, cachet::rate_limit<1, cachet::per<60>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
