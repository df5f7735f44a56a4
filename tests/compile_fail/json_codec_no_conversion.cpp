// expect: cachet::json_codec: the type has no JSON conversion
#include <cachet/codec.hpp>

#include <vector>

struct opaque {
  int n = 0;
};

int main() {
#ifndef CACHET_PASSING_TWIN
  // Nested in a container, the element type is the one named.
  (void)cachet::json_codec::encode(std::vector<opaque>{{1}});
#else
  (void)cachet::json_codec::encode(std::vector<int>{1});
#endif
}
