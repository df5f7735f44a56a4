// expect: cachet::key_encoding: this argument type has no key encoding
#include <cachet/key_encoding.hpp>

#ifdef CACHET_PASSING_TWIN
#include <boost/hana/define_struct.hpp>
#endif

#include <string>

#ifndef CACHET_PASSING_TWIN
struct region {
  int id;
  std::string name;
};
#else
struct region {
  BOOST_HANA_DEFINE_STRUCT(region, (int, id), (std::string, name));
};
#endif

int main() {
  std::string out;
  cachet::detail::render_key_argument(out, region{1, "eu"});
}
