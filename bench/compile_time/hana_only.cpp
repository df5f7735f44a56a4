// Compile-time baseline: Boost.Hana alone, which cachet builds on.
#include <boost/hana.hpp>

int main() {}
