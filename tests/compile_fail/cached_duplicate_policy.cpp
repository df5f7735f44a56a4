// expect: cachet::cached: a policy is given twice
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::ttl<10>, cachet::ttl<20>> c;
#else
cachet::cached<&twice, cachet::ttl<10>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
