// expect: cachet::cached: the function returns a view or a pointer
#include <cachet.hpp>

#include <string>

#ifndef CACHET_PASSING_TWIN
const char* name_of(int id) { return id == 0 ? "ann" : "bob"; }
#else
std::string name_of(int id) { return id == 0 ? "ann" : "bob"; }
#endif

cachet::cached<&name_of> c;

int main() { c(0); }
