// expect: cachet::early_refresh: only the in-memory backend can tell yet that an entry is due
#include <cachet/redis.hpp>

#include <string>

std::string quote(const std::string& symbol) { return symbol + "@1"; }

#ifndef CACHET_PASSING_TWIN
using cached_quote = cachet::cached<&quote, cachet::backend<cachet::redis>, cachet::ttl<30>,
                                    cachet::early_refresh<80>>;
#else
using cached_quote =
    cachet::cached<&quote, cachet::backend<cachet::redis>, cachet::ttl<30>, cachet::jitter<10>>;
#endif

int main() {
  cachet::redis backend(cachet::redis::config::from_env());
  cached_quote get_quote{backend};
  return get_quote("ACME").empty() ? 1 : 0;
}
