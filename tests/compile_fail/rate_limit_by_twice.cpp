// expect: cachet::rate_limit: a cachet::by<> key template is given twice; keep one
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::rate_limit<5, cachet::per<60>, cachet::by<"{}">, cachet::by<"x{}">>>
    c;
#else
cachet::cached<&twice, cachet::rate_limit<5, cachet::per<60>, cachet::by<"{}">>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
