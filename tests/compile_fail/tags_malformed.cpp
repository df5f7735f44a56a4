// expect: cachet::tags: malformed template
#include <cachet/tags.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::tags<"users", "user:{0">::check<int>());
#else
static_assert(cachet::tags<"users", "user:{0}">::check<int>());
#endif

int main() {}
