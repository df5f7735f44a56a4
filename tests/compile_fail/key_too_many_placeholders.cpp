// expect: cachet::key: a placeholder refers to argument N but the function takes fewer
#include <cachet/key.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::key<"user:{}:{}">::check<int>());
#else
static_assert(cachet::key<"user:{}">::check<int>());
#endif

int main() {}
