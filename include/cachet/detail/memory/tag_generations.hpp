#ifndef CACHET_DETAIL_MEMORY_TAG_GENERATIONS_HPP
#define CACHET_DETAIL_MEMORY_TAG_GENERATIONS_HPP

#include <cachet/detail/hash.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace cachet::detail {

// What an entry remembers of one of its tags: which counter, and its value when the entry's
// result was computed.
struct tag_stamp {
  std::uint32_t slot = 0;
  std::uint64_t generation = 0;
};

// Tag invalidation in O(1): each tag hashes to one of a fixed number of counters, an entry keeps
// the counters' values from before its result was computed, and invalidating a tag bumps its
// counter, which makes every entry stamped with the old value stale at once. Two tags that share
// a counter invalidate each other's entries too: a spurious miss, never a stale hit, and it keeps
// the memory bounded however many distinct tags a service renders.
class tag_generations {
 public:
  static constexpr std::size_t slot_count = 1u << 14;

  tag_generations() : counters_(std::make_unique<std::atomic<std::uint64_t>[]>(slot_count)) {}

  tag_stamp stamp(std::string_view tag) const noexcept {
    const auto slot = static_cast<std::uint32_t>(hash_bytes(tag) & (slot_count - 1));
    return {slot, counters_[slot].load(std::memory_order_acquire)};
  }

  bool current(const tag_stamp& s) const noexcept {
    return counters_[s.slot].load(std::memory_order_acquire) == s.generation;
  }

  template <std::size_t N>
  bool current(const std::array<tag_stamp, N>& stamps) const noexcept {
    for (const tag_stamp& s : stamps) {
      if (!current(s)) return false;
    }
    return true;
  }

  void bump(std::string_view tag) noexcept {
    counters_[hash_bytes(tag) & (slot_count - 1)].fetch_add(1, std::memory_order_acq_rel);
  }

 private:
  std::unique_ptr<std::atomic<std::uint64_t>[]> counters_;
};

}  // namespace cachet::detail

#endif
