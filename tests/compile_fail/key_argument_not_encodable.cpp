// expect: cachet::key: argument type has no key encoding
#include <cachet/key.hpp>

struct plain {
  int id;
};

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::key<"p:{}">::check<plain>());
#else
template <>
struct cachet::key_encoding<plain> {
  static void render(cachet::key_writer& out, const plain& value) { out.field(value.id); }
};
static_assert(cachet::key<"p:{}">::check<plain>());
#endif

int main() {}
