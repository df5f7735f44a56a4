// expect: cachet::name: the name is empty
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::name<"">> c;
#else
cachet::cached<&twice, cachet::name<"doubles">> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
