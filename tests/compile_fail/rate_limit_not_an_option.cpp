// expect: cachet::rate_limit: its options are cachet::per<Seconds>, cachet::by
#include <cachet.hpp>
#include <cachet/rate_limit.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::rate_limit<10, cachet::per<60>, cachet::ttl<5>>> c;
#else
cachet::cached<&twice, cachet::rate_limit<10, cachet::per<60>>, cachet::ttl<5>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
