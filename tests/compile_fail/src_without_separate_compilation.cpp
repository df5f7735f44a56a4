// expect: cachet: <cachet/src.hpp> is for programs built with CACHET_SEPARATE_COMPILATION
#ifdef CACHET_PASSING_TWIN
#define CACHET_SEPARATE_COMPILATION
#endif
#include <cachet/src.hpp>
