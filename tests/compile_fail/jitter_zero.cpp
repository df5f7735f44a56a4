// expect: cachet::jitter: the spread must be between 1 and 99 percent of the ttl
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::ttl<30>, cachet::jitter<0>> c;
#else
cachet::cached<&twice, cachet::ttl<30>, cachet::jitter<1>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
