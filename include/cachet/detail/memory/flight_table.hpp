#ifndef CACHET_DETAIL_MEMORY_FLIGHT_TABLE_HPP
#define CACHET_DETAIL_MEMORY_FLIGHT_TABLE_HPP

#include <cachet/detail/hash.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

namespace cachet::detail {

// A key with its hash, computed once per call: it picks the shard and probes its tables.
struct hashed_key {
  std::string_view text;
  std::uint64_t hash;
};

struct hashed_key_hash {
  using is_avalanching = void;
  std::size_t operator()(const hashed_key& k) const noexcept { return k.hash; }
};

struct hashed_key_equal {
  bool operator()(const hashed_key& a, const hashed_key& b) const noexcept {
    return a.hash == b.hash && same_bytes(a.text, b.text);
  }
};

// The part of an in-memory store's load under way that does not depend on the value type, so
// that every store shares one flight_table (memory_store::flight has the rest).
struct flight_header {
  flight_header(std::string_view k, std::uint64_t h) : key(k), hash(h) {}
  hashed_key hashed() const noexcept { return {key, hash}; }
  std::string key;  // the store's copy, which the load is given
  std::uint64_t hash;
  std::thread::id leader = std::this_thread::get_id();
  bool doomed = false;  // erased or cleared during the load: its result is not stored
};

// The loads under way in one shard, at most one per key; the flights themselves live on their
// leaders' stacks. A shard has few at a time (one per thread inside a load of it), so the first
// few are recorded in the table itself, beside the shard's other fields, with their keys'
// hashes: starting and ending a load touches no line that taking the shard's lock did not bring
// in already, and a lookup follows a pointer only on a matching hash. A map takes the rest.
// (With a map alone, a miss + store at a million entries took ~40% longer: between two misses
// of one shard, the entries written meanwhile had evicted the map's arrays from the caches.)
class flight_table {
 public:
  flight_header* find(const hashed_key& key) const noexcept {
    if (near_used_ == 0 && far_.empty()) return nullptr;  // most lookups, on a miss
    return scan(key);
  }

  // f's key must have no flight here (remove the older one first).
  void add(flight_header& f) {
    for (std::size_t i = 0; i < near_slots; ++i) {
      if (near_[i] == nullptr) {
        near_[i] = &f;
        near_hashes_[i] = f.hash;
        ++near_used_;
        return;
      }
    }
    far_.emplace(f.hashed(), &f);
  }

  // Removes f if it is still its key's flight here, and tells whether it was: one that another
  // load has replaced is not stored when it ends.
  bool remove(const flight_header& f) noexcept {
    for (std::size_t i = 0; i < near_slots; ++i) {
      if (near_[i] == &f) {
        near_[i] = nullptr;
        near_hashes_[i] = 0;
        --near_used_;
        return true;
      }
    }
    if (far_.empty()) return false;
    const auto it = far_.find(f.hashed());
    if (it == far_.end() || it->second != &f) return false;
    far_.erase(it);
    return true;
  }

  template <class Visit>
  void for_each(Visit&& visit) const {
    for (flight_header* f : near_) {
      if (f != nullptr) visit(*f);
    }
    for (const auto& [key, f] : far_) visit(*f);
  }

 private:
  flight_header* scan(const hashed_key& key) const noexcept {
    for (std::size_t i = 0; i < near_slots; ++i) {
      flight_header* f = near_[i];
      if (near_hashes_[i] == key.hash && f != nullptr && same_bytes(f->key, key.text)) return f;
    }
    if (far_.empty()) return nullptr;
    const auto it = far_.find(key);
    return it == far_.end() ? nullptr : it->second;
  }

  static constexpr std::size_t near_slots = 4;
  std::array<std::uint64_t, near_slots> near_hashes_{};
  std::array<flight_header*, near_slots> near_{};
  std::uint32_t near_used_ = 0;
  boost::unordered_flat_map<hashed_key, flight_header*, hashed_key_hash, hashed_key_equal> far_;
};

}  // namespace cachet::detail

#endif
