// expect: cachet::by: a placeholder of the rate key refers to argument N
#include <cachet.hpp>
#include <cachet/rate_limit.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::rate_limit<10, cachet::per<60>, cachet::by<"user:{1}">>> c;
#else
cachet::cached<&twice, cachet::rate_limit<10, cachet::per<60>, cachet::by<"user:{0}">>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
