// expect: cachet::lease: a lease must last at most one day
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::ttl<30>, cachet::lease<86401>> c;
#else
cachet::cached<&twice, cachet::ttl<30>, cachet::lease<86400>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
