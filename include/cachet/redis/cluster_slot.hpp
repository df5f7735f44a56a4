#ifndef CACHET_REDIS_CLUSTER_SLOT_HPP
#define CACHET_REDIS_CLUSTER_SLOT_HPP

#include <cstdint>
#include <string_view>

namespace cachet::resp3 {

/// Number of hash slots in a Redis Cluster.
inline constexpr std::uint16_t cluster_slot_count = 16384;

/// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0, no reflection), the checksum Redis
/// Cluster hashes keys with.
///
///   static_assert(crc16_xmodem("123456789") == 0x31C3);
constexpr std::uint16_t crc16_xmodem(std::string_view bytes) noexcept {
  unsigned crc = 0;  // unsigned arithmetic throughout; the low 16 bits are the checksum
  for (char c : bytes) {
    crc ^= static_cast<unsigned>(static_cast<std::uint8_t>(c)) << 8U;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 0x8000U) != 0 ? (crc << 1U) ^ 0x1021U : crc << 1U;
    crc &= 0xFFFFU;
  }
  return static_cast<std::uint16_t>(crc);
}

/// The part of `key` that Redis Cluster hashes: the text between the first '{' and the next '}'
/// when that is not empty (a hash tag), else the whole key. Keys sharing a tag share a slot,
/// which multi-key commands and scripts require.
constexpr std::string_view cluster_hashed_part(std::string_view key) noexcept {
  auto open = key.find('{');
  if (open == std::string_view::npos) return key;
  auto close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

/// The hash slot (0..16383) Redis Cluster stores `key` in.
///
///   cluster_slot("{user1000}.following") == cluster_slot("{user1000}.followers")
constexpr std::uint16_t cluster_slot(std::string_view key) noexcept {
  return static_cast<std::uint16_t>(crc16_xmodem(cluster_hashed_part(key)) % cluster_slot_count);
}

}  // namespace cachet::resp3

#endif
