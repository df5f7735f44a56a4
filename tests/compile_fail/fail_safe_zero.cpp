// expect: cachet::fail_safe: the maximum staleness must be at least 1 second
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::ttl<30>, cachet::fail_safe<0>> c;
#else
cachet::cached<&twice, cachet::ttl<30>, cachet::fail_safe<60>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
