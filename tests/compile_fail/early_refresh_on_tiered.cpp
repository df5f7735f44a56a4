// expect: cachet::early_refresh: only the in-memory backend can tell yet that an entry is due
#include <cachet/tiered.hpp>

#include <string>

std::string quote(const std::string& symbol) { return symbol + "@1"; }

using tiers = cachet::tiered<cachet::memory, cachet::redis>;
#ifndef CACHET_PASSING_TWIN
using cached_quote = cachet::cached<&quote, cachet::backend<tiers>, cachet::ttl<30>,
                                    cachet::key<"q:{}">, cachet::early_refresh<80>>;
#else
using cached_quote = cachet::cached<&quote, cachet::backend<tiers>, cachet::ttl<30>,
                                    cachet::key<"q:{}">, cachet::jitter<10>>;
#endif

int main() {
  cachet::memory mem;
  cachet::redis remote(cachet::redis::config::from_env());
  tiers both(mem, remote);
  cached_quote get_quote{both};
  return get_quote("ACME").empty() ? 1 : 0;
}
