// expect: cachet::key: two placeholders must be separated
#include <cachet/key.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::key<"range:{}-{}">::check<int, int>());
#else
static_assert(cachet::key<"range:{}/{}">::check<int, int>());
#endif

int main() {}
