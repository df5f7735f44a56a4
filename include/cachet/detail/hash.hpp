#ifndef CACHET_DETAIL_HASH_HPP
#define CACHET_DETAIL_HASH_HPP

#include <cstdint>
#include <cstring>
#include <string_view>

namespace cachet::detail {

// A 64-bit hash of rendered keys and tags. It is fixed here rather than taken from std::hash so
// that shard choice and tag slots are the same in every build; keys are short, so it reads
// eight bytes at a time and mixes once at the end.
inline std::uint64_t hash_bytes(std::string_view s) noexcept {
  constexpr std::uint64_t multiplier = 0x9e3779b97f4a7c15ull;
  std::uint64_t h = 0x243f6a8885a308d3ull ^ (s.size() * multiplier);
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    h = (h ^ word) * multiplier;
    h ^= h >> 29;
  }
  if (n > 0) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, n);
    h = (h ^ word) * multiplier;
  }
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

struct string_hash {
  using is_transparent = void;
  using is_avalanching = void;
  std::size_t operator()(std::string_view s) const noexcept { return hash_bytes(s); }
};

}  // namespace cachet::detail

#endif
