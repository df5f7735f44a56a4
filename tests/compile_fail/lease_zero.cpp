// expect: cachet::lease: a lease must last at least 1 second
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::ttl<30>, cachet::lease<0>> c;
#else
cachet::cached<&twice, cachet::ttl<30>, cachet::lease<1>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
