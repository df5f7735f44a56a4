#ifndef CACHET_DETAIL_HASH_HPP
#define CACHET_DETAIL_HASH_HPP

#include <cachet/detail/inline.hpp>

#include <cstdint>
#include <cstring>
#include <string_view>

namespace cachet::detail {

// A 64-bit hash of rendered keys and tags. It is fixed here rather than taken from std::hash so
// that shard choice and tag slots are the same in every build; keys are short, so it reads
// eight bytes at a time and mixes once at the end.
CACHET_ALWAYS_INLINE std::uint64_t hash_bytes(std::string_view s) noexcept {
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
  // The tail is read in fixed-size pieces, which compile to a few loads rather than a copy of
  // variable length (the binary key of an int is all tail). The pieces may overlap; with the
  // length mixed in above, the word is still one-to-one with the tail's bytes.
  if (n >= 4) {
    std::uint32_t low;
    std::uint32_t high;
    std::memcpy(&low, p, 4);
    std::memcpy(&high, p + n - 4, 4);
    h = (h ^ (std::uint64_t{high} << 32 | low)) * multiplier;
  } else if (n > 0) {
    const auto byte = [&](std::size_t i) {
      return std::uint64_t{static_cast<unsigned char>(p[i])};
    };
    h = (h ^ (byte(0) << 16 | byte(n / 2) << 8 | byte(n - 1))) * multiplier;
  }
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

// Whether two keys have the same bytes. In-process keys of numbers are a few bytes long, so
// they are compared with fixed-size (possibly overlapping) loads instead of a call to memcmp,
// which costs more than the comparison on a cache hit.
CACHET_ALWAYS_INLINE bool same_bytes(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  const auto equal_at = [&]<class Word>(Word, std::size_t i) {
    Word u;
    Word v;
    std::memcpy(&u, x + i, sizeof u);
    std::memcpy(&v, y + i, sizeof v);
    return u == v;
  };
  if (n >= 8) {
    if (n > 16) return std::memcmp(x, y, n) == 0;
    return equal_at(std::uint64_t{}, 0) && equal_at(std::uint64_t{}, n - 8);
  }
  if (n >= 4) return equal_at(std::uint32_t{}, 0) && equal_at(std::uint32_t{}, n - 4);
  for (std::size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return false;
  }
  return true;
}

struct string_hash {
  using is_transparent = void;
  using is_avalanching = void;
  std::size_t operator()(std::string_view s) const noexcept { return hash_bytes(s); }
};

}  // namespace cachet::detail

#endif
