#ifndef CACHET_DETAIL_REDIS_KEY_LAYOUT_HPP
#define CACHET_DETAIL_REDIS_KEY_LAYOUT_HPP

// Where a Redis backend puts its keys: on one server, every entry under one entry base and every
// counter under one counter base; on a Redis Cluster, in K buckets, each a hash tag of its own,
// with a copy of every counter per bucket. The read and write scripts touch an entry and its
// counters, which must then share a slot: an entry and the counters it depends on are in one
// bucket, so a hit stays one script on one node, and invalidations write every bucket.
//
// The buckets' hash tags are chosen, from the prefix and the schema alone, so that bucket i's
// slot lies in the i-th of K equal ranges of the 16384 slots: however a cluster splits its slots
// into contiguous ranges, each master holds its share of the buckets (within one), and every
// process computes the same tags.

#include <cachet/detail/linkage.hpp>
#include <cachet/error.hpp>
#include <cachet/redis/cluster_slot.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cachet::detail {

struct key_bucket {
  std::string entry_base;    // what an entry's key starts with, ':' last
  std::string counter_base;  // what a counter's key starts with, '#' last
};

class key_layout {
 public:
  /// One server: `<prefix>:v<schema>:` and `<prefix>:v<schema>#`.
  CACHET_DECL static key_layout one_server(const std::string& prefix, std::uint64_t schema);

  /// A cluster: bucket i is `{<prefix>#<i>.<n>}:v<schema>:` and `...#`, n the first number that
  /// puts the tag in the i-th slot range. Rate limits, a single key each, keep the one-server
  /// base: a hash tag would pin every limit to one slot.
  /// \throws cachet::error when `buckets` is 0, above 16384 or not a power of two (a key picks
  /// its bucket by its CRC16, which then maps evenly), or the prefix has a brace (it would cut
  /// the hash tag short).
  CACHET_DECL static key_layout cluster(const std::string& prefix, std::uint64_t schema,
                                        std::size_t buckets);

  std::size_t size() const noexcept { return buckets_.size(); }
  const key_bucket& bucket(std::size_t i) const noexcept { return buckets_[i]; }
  const std::vector<key_bucket>& buckets() const noexcept { return buckets_; }

  /// The bucket of an entry, by the part of its key after the entry base: CRC16, which is the
  /// same on every platform, so every process agrees.
  std::size_t bucket_of(std::string_view key) const noexcept {
    return buckets_.size() == 1 ? 0 : resp3::crc16_xmodem(key) % buckets_.size();
  }

  /// The base of keys outside the buckets (rate limits): `<prefix>:v<schema>#`.
  const std::string& shared_counter_base() const noexcept { return shared_counter_base_; }

 private:
  static std::string version_base(const std::string& prefix, std::uint64_t schema) {
    return prefix + ":v" + std::to_string(schema);
  }

  std::vector<key_bucket> buckets_;
  std::string shared_counter_base_;
};

}  // namespace cachet::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/key_layout.ipp>
#endif

#endif
