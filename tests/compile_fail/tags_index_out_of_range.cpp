// expect: cachet::tags: a placeholder refers to argument N but the function takes fewer
#include <cachet/tags.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::tags<"region:{1}">::check<int>());
#else
static_assert(cachet::tags<"region:{0}">::check<int>());
#endif

int main() {}
