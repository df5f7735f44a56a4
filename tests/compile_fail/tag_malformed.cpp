// expect: cachet::tags:
#include <cachet.hpp>

#include <string>

int main() {
#ifndef CACHET_PASSING_TWIN
  const std::string text = cachet::tag<"txt:{">("a b");
#else
  const std::string text = cachet::tag<"txt:{}">("a b");
#endif
  return text == "txt:a%20b" ? 0 : 1;
}
