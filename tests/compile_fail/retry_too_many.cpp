// expect: cachet::retry: give at most 20 retries
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::retry<1000>> c;
#else
cachet::cached<&twice, cachet::retry<20>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
