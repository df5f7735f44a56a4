#ifndef CACHET_REDIS_IMPL_SCRIPT_IPP
#define CACHET_REDIS_IMPL_SCRIPT_IPP

// Bodies of <cachet/redis/script.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/redis/script.hpp>

namespace cachet::resp3 {

namespace detail {

CACHET_DECL std::string sha1_hex(std::string_view data) {
  std::uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  auto rotl = [](std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  auto process = [&](const unsigned char* block) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i)
      w[i] = std::uint32_t{block[4 * i]} << 24 | std::uint32_t{block[4 * i + 1]} << 16 |
             std::uint32_t{block[4 * i + 2]} << 8 | std::uint32_t{block[4 * i + 3]};
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      std::uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999u;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1u;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDCu;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6u;
      }
      std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  };

  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t full = data.size() / 64 * 64;
  for (std::size_t i = 0; i < full; i += 64) process(bytes + i);
  // Padding: 0x80, zeros, then the message length in bits (big-endian, 64 bits).
  std::array<unsigned char, 128> tail{};
  std::size_t rest = data.size() - full;
  for (std::size_t i = 0; i < rest; ++i) tail[i] = bytes[full + i];
  tail[rest] = 0x80;
  std::size_t tail_size = rest + 1 + 8 <= 64 ? 64 : 128;
  std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  for (std::size_t i = 0; i < 8; ++i) {
    tail[tail_size - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  }
  process(tail.data());
  if (tail_size == 128) process(tail.data() + 64);

  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(40);
  for (std::uint32_t word : h)
    for (int shift = 28; shift >= 0; shift -= 4) out.push_back(hex[(word >> shift) & 0xf]);
  return out;
}

}  // namespace detail

CACHET_DECL boost::asio::awaitable<value> script::run(client& c, std::vector<std::string> keys,
                                                      std::vector<std::string> args,
                                                      request_options options) const {
  try {
    co_return co_await c.exec(options, "EVALSHA", sha1_, keys.size(), keys, args);
  } catch (const server_error& e) {
    // NOSCRIPT means EVALSHA did not run, so sending EVAL cannot run the script twice.
    if (!e.server_message().starts_with("NOSCRIPT")) throw;
  }
  co_return co_await c.exec(options, "EVAL", source_, keys.size(), keys, args);
}

}  // namespace cachet::resp3

#endif
