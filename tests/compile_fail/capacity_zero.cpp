// expect: cachet::capacity: the capacity must be at least 1
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::capacity<0>> c;
#else
cachet::cached<&twice> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
