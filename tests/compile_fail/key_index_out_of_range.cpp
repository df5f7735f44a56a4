// expect: cachet::key: a placeholder refers to argument N but the function takes fewer
#include <cachet/key.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::key<"order:{1}/{2}">::check<int, int>());
#else
static_assert(cachet::key<"order:{1}/{0}">::check<int, int>());
#endif

int main() {}
