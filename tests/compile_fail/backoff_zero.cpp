// expect: cachet::backoff: the first delay must be at least 1 ms
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::retry<2, cachet::backoff<0, 100>>> c;
#else
cachet::cached<&twice, cachet::retry<2, cachet::backoff<1, 100>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
