// expect: cachet::codec: the codec cannot handle the cached result type
#include <cachet/redis.hpp>

#include <string>
#include <string_view>

// Encodes strings only.
struct text_codec {
  static std::string encode(const std::string& s) { return s; }
  static std::string decode(std::string_view s) { return std::string(s); }
};

#ifndef CACHET_PASSING_TWIN
int value(int x) { return x; }
#else
std::string value(int x) { return std::to_string(x); }
#endif

using cached_value =
    cachet::cached<&value, cachet::backend<cachet::redis>, cachet::codec<text_codec>>;

int main() {
  cachet::redis backend(cachet::redis::config::from_env());
  cached_value c{backend};
  return c(1) == value(1) ? 0 : 1;
}
