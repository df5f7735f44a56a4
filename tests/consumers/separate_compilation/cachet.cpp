// The one unit that compiles cachet's non-template bodies (see main.cpp).
#include <cachet/src.hpp>
