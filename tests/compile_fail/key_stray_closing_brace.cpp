// expect: cachet::key: malformed template
#include <cachet/key.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::key<"{user}:{}">::check<int>());
#else
static_assert(cachet::key<"{{user}}:{}">::check<int>());
#endif

int main() {}
