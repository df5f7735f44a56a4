// expect: cachet::key: malformed template
#include <cachet/key.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::key<"user:{id}">::check<int>());
#else
static_assert(cachet::key<"user:{0}">::check<int>());
#endif

int main() {}
