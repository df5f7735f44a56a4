// expect: cachet::retry: an option is given twice; keep one
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::retry<2, cachet::backoff<1, 10>, cachet::backoff<2, 20>>> c;
#else
cachet::cached<&twice, cachet::retry<2, cachet::backoff<1, 10>>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
