// The unit of every Redis test program that compiles cachet's non-template functions
// (CACHET_SEPARATE_COMPILATION, see tests/CMakeLists.txt).
#include <cachet/src.hpp>
