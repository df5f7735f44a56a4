// expect: cachet::by: malformed rate key template
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::rate_limit<5, cachet::per<60>, cachet::by<"user:{">>> c;
#else
cachet::cached<&twice, cachet::rate_limit<5, cachet::per<60>, cachet::by<"user:{}">>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
