// expect: cachet::key_encoding: a pointer has no key encoding
#include <cachet/key_encoding.hpp>

#include <string>

int main() {
  std::string out;
  int value = 1;
  int* pointer = &value;
#ifndef CACHET_PASSING_TWIN
  cachet::detail::render_key_argument(out, pointer);
#else
  cachet::detail::render_key_argument(out, *pointer);
#endif
}
