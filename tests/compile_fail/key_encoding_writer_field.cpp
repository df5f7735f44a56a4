// expect: cachet::key_encoding: a pointer has no key encoding
#include <cachet/key_encoding.hpp>

#include <string>

struct node {
  const node* parent;
  int id;
};

template <>
struct cachet::key_encoding<node> {
  static void render(cachet::key_writer& out, const node& value) {
#ifndef CACHET_PASSING_TWIN
    out.field(value.parent);
#endif
    out.field(value.id);
  }
};

int main() {
  std::string out;
  cachet::detail::render_key_argument(out, node{nullptr, 1});
}
