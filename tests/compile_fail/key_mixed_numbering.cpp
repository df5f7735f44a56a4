// expect: cachet::key: a template cannot mix automatic
#include <cachet/key.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::key<"order:{}/{0}">::check<int, int>());
#else
static_assert(cachet::key<"order:{1}/{0}">::check<int, int>());
#endif

int main() {}
