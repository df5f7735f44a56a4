// expect: has no key encoding
#include <cachet.hpp>

struct point {
  int x, y;
};

#ifdef CACHET_PASSING_TWIN
template <>
struct cachet::key_encoding<point> {
  static void render(cachet::key_writer& out, const point& p) {
    out.field(p.x);
    out.field(p.y);
  }
};
#endif

int norm(point p) { return p.x * p.x + p.y * p.y; }

cachet::cached<&norm> c;

int main() { return c(point{3, 4}) == 25 ? 0 : 1; }
