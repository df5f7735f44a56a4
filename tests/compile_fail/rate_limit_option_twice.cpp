// expect: cachet::rate_limit: an option is given twice; keep one
#include <cachet.hpp>
#include <cachet/rate_limit.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::ttl<5>,
               cachet::rate_limit<10, cachet::per<60>, cachet::serve_cached, cachet::serve_cached>>
    c;
#else
cachet::cached<&twice, cachet::ttl<5>,
               cachet::rate_limit<10, cachet::per<60>, cachet::serve_cached>>
    c;
static_assert(cachet::rate_limit<10, cachet::per<60>, cachet::serve_cached>::serves_cached);
static_assert(!cachet::rate_limit<10, cachet::per<60>>::serves_cached);
#endif

int main() { return c(1) == 2 ? 0 : 1; }
