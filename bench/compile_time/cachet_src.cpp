// The unit a program built with CACHET_SEPARATE_COMPILATION compiles once: <cachet/src.hpp>.
#define CACHET_SEPARATE_COMPILATION
#include <cachet/src.hpp>
