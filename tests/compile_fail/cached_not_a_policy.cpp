// expect: cachet::cached: every template argument after the function must be a cachet policy
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, int> c;
#else
cachet::cached<&twice, cachet::capacity<10> > c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
