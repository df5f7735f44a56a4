#ifndef CACHET_DETAIL_STORE_SETTINGS_HPP
#define CACHET_DETAIL_STORE_SETTINGS_HPP

#include <cachet/clock.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cachet::detail {

// What cached<> tells its backend's store about the function it caches.
struct store_settings {
  std::string_view name;               // the function's qualified name; empty for function objects
  std::chrono::nanoseconds ttl{0};     // 0 = never expires
  std::size_t capacity = 0;            // entries, 0 = unbounded (in-process stores)
  bool has_key_template = false;       // false: keys are the default "arg:arg" rendering
  std::string_view key_template = {};  // the key<> template's text, if any
  const cachet::clock* clock = nullptr;  // null: the backend's clock
  // cachet::fail_safe: how long past its ttl an entry is kept, to be served by stale() only; 0 =
  // entries are dropped when they expire.
  std::chrono::nanoseconds max_stale{0};
  // cachet::lease: how long one process's claim to compute a missing entry holds, in a store
  // shared by processes; 0 = every process computes its own misses.
  std::chrono::seconds lease{0};
  // cachet::jitter: each write's ttl is spread by up to this percent either way (see
  // detail::jittered_ttl); 0 = every write keeps `ttl`.
  unsigned jitter_percent = 0;
  // cachet::early_refresh: a hit on an entry within (100 - this)% of `ttl` of its expiry is
  // reported as due for a refresh (stores that can tell); 0 = never.
  unsigned refresh_percent = 0;
  // cachet::tiered: when cached<> can turn its binary keys into the key text Redis knows and back
  // (integer arguments under a key<> template), the memory tier is keyed by the arguments' bytes
  // and these translate; null otherwise, and every key is the text. binary_key_of returns false
  // for a text that is no key of this function.
  void (*key_text_of)(std::string_view binary, std::string& text) = nullptr;
  bool (*binary_key_of)(std::string_view text, std::string& binary) = nullptr;
};

// cachet::early_refresh: set by a hit whose entry is due for a refresh (see the stores'
// get_or_load and reload).
struct refresh_due {
  bool value = false;
};

// What a Redis hit has left to live, in ms of the store's clock: the entry's PTTL, or less when
// its `f` says it is fresh for less (cachet::fail_safe keeps entries past their ttl). -1 when
// unknown or unbounded. A memory tier in front keeps a value it fills no longer.
struct hit_lifetime {
  std::int64_t remaining_ms = -1;
};

// Whether a Redis store's hits report their hit_lifetime, which costs its read script a PTTL
// per hit: only a memory tier in front needs it (tiered_store's far store).
enum class lifetime_reports : bool { off, on };

}  // namespace cachet::detail

#endif
