// expect: cachet::cached: the first argument must be a function
#include <cachet.hpp>

#ifndef CACHET_PASSING_TWIN
constexpr int not_a_function = 3;
cachet::cached<not_a_function> c;
int main() { return 0; }
#else
int twice(int x) { return 2 * x; }
cachet::cached<&twice> c;
int main() { return c(1) == 2 ? 0 : 1; }
#endif
