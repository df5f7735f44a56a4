// expect: cachet::cached: the function returns a reference
#include <cachet.hpp>

#include <string>

#ifndef CACHET_PASSING_TWIN
const std::string& name_of(int) {
  static const std::string name = "n";
  return name;
}
#else
std::string name_of(int) { return "n"; }
#endif

cachet::cached<&name_of> c;

int main() { return c(1) == "n" ? 0 : 1; }
