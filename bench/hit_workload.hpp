#ifndef CACHET_BENCH_HIT_WORKLOAD_HPP
#define CACHET_BENCH_HIT_WORKLOAD_HPP

// What the in-memory benchmarks cache and the keys they call with, shared so that the core
// benchmarks (cached_bench.cpp) and the rate-limit ones (rate_limit_bench.cpp) measure hits of
// the same function over the same keys.

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace cachet_bench {

struct user {
  int id;
  std::string name;   // 23 characters
  std::string email;  // 30 characters
};

// Writes id's last ten decimal digits over the ten characters that end at `end`.
inline void stamp_digits(std::string& s, std::size_t end, int id) {
  auto n = static_cast<std::uint32_t>(id);
  for (std::size_t i = 0; i < 10; ++i, n /= 10) s[end - 1 - i] = static_cast<char>('0' + n % 10);
}

// The function being cached; out of line so that its own cost is what a real loader's is at least.
[[gnu::noinline]] inline user load_user(int id) {
  user u{id, "display-name-0000000000", "someone.0000000000@example.com"};
  stamp_digits(u.name, u.name.size(), id);
  stamp_digits(u.email, 18, id);
  return u;
}

inline constexpr std::size_t working_set = 10'000;
inline constexpr std::size_t sequence_length = 1 << 16;  // a power of two, indexed with a mask
// Calls over the first `hot_keys` keys only: entries (and limit states) that fit in the caches
// close to the core, against the whole working set, which does not.
inline constexpr std::size_t hot_keys = 64;

// The working set (distinct ints spread over the whole range) and the orders calls visit it in,
// drawn once with a fixed seed, so every variant looks up the same keys in the same order.
struct workload {
  std::vector<int> keys;
  std::vector<int> sequence;
  std::vector<int> hot_sequence;

  workload() {
    std::mt19937_64 rng(20261121);
    boost::unordered_flat_map<int, bool> seen;
    while (keys.size() < working_set) {
      const int k = static_cast<int>(rng() >> 33);
      if (seen.emplace(k, true).second) keys.push_back(k);
    }
    std::uniform_int_distribution<std::size_t> pick(0, working_set - 1);
    std::uniform_int_distribution<std::size_t> pick_hot(0, hot_keys - 1);
    sequence.reserve(sequence_length);
    hot_sequence.reserve(sequence_length);
    for (std::size_t i = 0; i < sequence_length; ++i) {
      sequence.push_back(keys[pick(rng)]);
      hot_sequence.push_back(keys[pick_hot(rng)]);
    }
  }
};

inline const workload& work() {
  static const workload w;
  return w;
}

// A cache of the whole working set, shared by every benchmark (and thread) that asks for it.
template <class Cache>
Cache& preloaded() {
  static Cache cache;
  [[maybe_unused]] static const bool loaded = [] {
    for (int k : work().keys) cache(k);
    return true;
  }();
  return cache;
}

}  // namespace cachet_bench

#endif
