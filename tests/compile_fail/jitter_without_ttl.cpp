// expect: cachet::jitter: a result without a ttl never expires
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::jitter<10>> c;
#else
cachet::cached<&twice, cachet::ttl<30>, cachet::jitter<10>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
