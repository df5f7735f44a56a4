// expect: cachet::fail_safe: the maximum staleness must be at most 100 years
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::ttl<60>, cachet::fail_safe<9'300'000'000>> c;
#else
cachet::cached<&twice, cachet::ttl<60>, cachet::fail_safe<3'155'760'000>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
