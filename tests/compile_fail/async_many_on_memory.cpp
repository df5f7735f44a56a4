// expect: cachet::cached::async_many: this backend has no coroutines
#include <cachet.hpp>

#include <vector>

int twice(int x) { return 2 * x; }

cachet::cached<&twice> c;

#ifndef CACHET_PASSING_TWIN
int main() { return c.async_many(std::vector{1, 2}).size() == 2 ? 0 : 1; }
#else
int main() { return c(1) + c(2) == 6 ? 0 : 1; }
#endif
