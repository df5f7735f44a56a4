// expect: cachet::json: a struct read from JSON is built field by field, so it must be default
#include <cachet/codec.hpp>

#include <boost/hana/define_struct.hpp>

#include <string>

struct point {
#ifndef CACHET_PASSING_TWIN
  point(int x_, int y_) : x(x_), y(y_) {}
#endif
  BOOST_HANA_DEFINE_STRUCT(point, (int, x), (int, y));
};

int main() {
  const point p = cachet::json_codec::decode<point>(std::string(R"({"x":1,"y":2})"));
  return p.x == 1 ? 0 : 1;
}
