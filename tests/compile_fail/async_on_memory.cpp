// expect: cachet::cached::async: this backend has no coroutines
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

cachet::cached<&twice> c;

#ifndef CACHET_PASSING_TWIN
int main() { return c.async(1) == 2 ? 0 : 1; }
#else
int main() { return c(1) == 2 ? 0 : 1; }
#endif
