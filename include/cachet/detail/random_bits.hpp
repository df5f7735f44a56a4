#ifndef CACHET_DETAIL_RANDOM_BITS_HPP
#define CACHET_DETAIL_RANDOM_BITS_HPP

// The randomness of jitter (a write's ttl under jitter<>, a retry's or a reconnection's delay):
// it spreads processes and threads that would otherwise act together, and guards no secret. A
// splitmix64 stream per thread, seeded from the system's entropy (getrandom on Linux), else from
// the clocks and the stream's address. Not <random>'s engines: that header is about 11,000
// lines, which every unit that includes cachet would parse for these few draws.

#include <atomic>
#include <chrono>
#include <cstdint>

#if defined(__linux__)
#include <sys/random.h>
#endif

namespace cachet::detail {

// splitmix64's finaliser: every bit of the result depends on every bit of `z`.
constexpr std::uint64_t mix_bits(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline std::uint64_t random_seed(const void* stream) noexcept {
  std::uint64_t seed = 0;
#if defined(__linux__)
  if (::getrandom(&seed, sizeof seed, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof seed)) {
    return seed;
  }
#endif
  // Streams seeded in the same nanosecond still differ by their number in this process, and
  // processes by their address space layout.
  static std::atomic<std::uint64_t> streams{0};
  const auto steady = std::chrono::steady_clock::now().time_since_epoch().count();
  const auto wall = std::chrono::system_clock::now().time_since_epoch().count();
  return mix_bits(static_cast<std::uint64_t>(steady)) ^ static_cast<std::uint64_t>(wall) ^
         mix_bits(reinterpret_cast<std::uintptr_t>(stream)) ^
         mix_bits(streams.fetch_add(1, std::memory_order_relaxed) + 1);
}

// 64 random bits from this thread's stream.
inline std::uint64_t random_bits() noexcept {
  thread_local std::uint64_t state = random_seed(&state);  // seeded on the thread's first draw
  state += 0x9e3779b97f4a7c15ULL;
  return mix_bits(state);
}

// Uniform in [0, 1), in steps of 2^-53.
inline double random_unit() noexcept {
  return static_cast<double>(random_bits() >> 11) * 0x1.0p-53;
}

// Uniform in [0, most]; the modulo's bias is below most / 2^64.
inline std::uint64_t random_at_most(std::uint64_t most) noexcept {
  const std::uint64_t bits = random_bits();
  return most == UINT64_MAX ? bits : bits % (most + 1);
}

}  // namespace cachet::detail

#endif
