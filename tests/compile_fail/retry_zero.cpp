// expect: cachet::retry: give at least 1 retry
#include <cachet.hpp>
#include <cachet/retry.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::retry<0>> c;
#else
cachet::cached<&twice, cachet::retry<3>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
