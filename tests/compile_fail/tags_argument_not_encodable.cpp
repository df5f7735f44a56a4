// expect: cachet::tags: argument type has no key encoding
#include <cachet/tags.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::tags<"owner:{}">::check<int*>());
#else
static_assert(cachet::tags<"owner:{}">::check<int>());
#endif

int main() {}
