// expect: cachet::fail_safe: a result without a ttl never goes stale
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::fail_safe<3600>> c;
#else
cachet::cached<&twice, cachet::ttl<30>, cachet::fail_safe<3600>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
