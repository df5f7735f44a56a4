// expect: cachet::tags: a template cannot mix automatic
#include <cachet/tags.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::tags<"pair:{1}/{}">::check<int, int>());
#else
static_assert(cachet::tags<"pair:{1}/{0}">::check<int, int>());
#endif

int main() {}
