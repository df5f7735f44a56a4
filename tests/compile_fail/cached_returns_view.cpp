// expect: cachet::cached: the function returns a view or a pointer
#include <cachet.hpp>

#include <string>
#include <string_view>

#ifndef CACHET_PASSING_TWIN
std::string_view name_of(int id) {
  static const std::string names[] = {"ann", "bob"};
  return names[id];
}
#else
std::string name_of(int id) { return id == 0 ? "ann" : "bob"; }
#endif

cachet::cached<&name_of> c;

int main() { c(0); }
