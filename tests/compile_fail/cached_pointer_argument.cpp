// expect: cachet::key_encoding: a pointer has no key encoding
#include <cachet.hpp>

#include <string>

#ifndef CACHET_PASSING_TWIN
int length(char* text) { return static_cast<int>(std::string(text).size()); }
#else
int length(const char* text) { return static_cast<int>(std::string(text).size()); }
#endif

cachet::cached<&length> c;

int main() {
  char text[] = "abc";
  return c(text) == 3 ? 0 : 1;
}
