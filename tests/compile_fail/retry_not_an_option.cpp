// expect: cachet::retry: its options are cachet::retry_if<&predicate> and cachet::backoff
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::retry<2, cachet::ttl<60>>> c;
#else
cachet::cached<&twice, cachet::retry<2>, cachet::ttl<60>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
