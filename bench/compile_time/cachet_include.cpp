// Compile-time reference: <cachet.hpp> included, nothing instantiated.
#include <cachet.hpp>

int main() {}
