// expect: cachet::key: every argument must appear in the template
#include <cachet/key.hpp>

#include <string>

int main() {
  std::string out;
#ifndef CACHET_PASSING_TWIN
  cachet::key<"user:{}">::render(out, 1, 2);
#else
  cachet::key<"user:{}:{}">::render(out, 1, 2);
#endif
}
