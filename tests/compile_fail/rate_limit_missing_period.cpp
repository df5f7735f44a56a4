// expect: cachet::rate_limit: give the period exactly once
#include <cachet.hpp>
#include <cachet/rate_limit.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::rate_limit<10, cachet::by<"{}">>> c;
#else
cachet::cached<&twice, cachet::rate_limit<10, cachet::by<"{}">, cachet::per<60>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
