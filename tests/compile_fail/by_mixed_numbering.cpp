// expect: cachet::by: a rate key template cannot mix automatic \{\} and numbered
#include <cachet.hpp>

int add(int a, int b) { return a + b; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&add, cachet::rate_limit<5, cachet::per<60>, cachet::by<"{}:{1}">>> c;
#else
cachet::cached<&add, cachet::rate_limit<5, cachet::per<60>, cachet::by<"{0}:{1}">>> c;
#endif

int main() { return c(1, 2) == 3 ? 0 : 1; }
