// expect: cachet::tags: give at least one tag template
#include <cachet/tags.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::tags<>::count == 0);
#else
static_assert(cachet::tags<"users">::count == 1);
#endif

int main() {}
