#ifndef CACHET_DETAIL_MEMORY_LRU_ORDER_HPP
#define CACHET_DETAIL_MEMORY_LRU_ORDER_HPP

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cachet::detail {

// The recency order of a bounded shard's entries: a doubly linked list whose nodes sit in one
// vector and link by index, so a store allocates no node per entry, and an entry names its node
// in 4 bytes. A node records the hash of its entry's key, which finds the entry to evict in the
// table, and the push count when it last went to the front. Not a template: every store shares
// this code.
class lru_order {
 public:
  static constexpr std::uint32_t none = ~std::uint32_t{0};

  // A new node at the front for an entry whose key hashes to `hash`; throws std::bad_alloc, and
  // then nothing has changed.
  std::uint32_t push_front(std::uint64_t hash) {
    std::uint32_t n = free_;
    if (n == none) {
      nodes_.push_back({});
      n = static_cast<std::uint32_t>(nodes_.size() - 1);
    } else {
      free_ = nodes_[n].older;
    }
    nodes_[n].hash = hash;
    link_front(n);
    return n;
  }

  void move_to_front(std::uint32_t n) noexcept {
    unlink(n);
    link_front(n);
  }

  void erase(std::uint32_t n) noexcept {
    unlink(n);
    nodes_[n].older = free_;
    free_ = n;
  }

  // The least recently used node, or `none`.
  std::uint32_t back() const noexcept { return oldest_; }

  std::uint64_t hash_of(std::uint32_t n) const noexcept { return nodes_[n].hash; }

  // Whether the node went to the front within the last `pushes` pushes.
  bool pushed_within(std::uint32_t n, std::uint64_t pushes) const noexcept {
    return pushes_ - nodes_[n].pushed_at <= pushes;
  }

  void clear() noexcept {
    nodes_.clear();
    free_ = newest_ = oldest_ = none;
  }

 private:
  struct node {
    std::uint64_t hash = 0;
    std::uint64_t pushed_at = 0;
    std::uint32_t newer = none;
    std::uint32_t older = none;  // on the free list: the next free node
  };

  void link_front(std::uint32_t n) noexcept {
    node& x = nodes_[n];
    x.newer = none;
    x.older = newest_;
    x.pushed_at = ++pushes_;
    if (newest_ != none) nodes_[newest_].newer = n;
    newest_ = n;
    if (oldest_ == none) oldest_ = n;
  }

  void unlink(std::uint32_t n) noexcept {
    const node& x = nodes_[n];
    (x.newer != none ? nodes_[x.newer].older : newest_) = x.older;
    (x.older != none ? nodes_[x.older].newer : oldest_) = x.newer;
  }

  std::vector<node> nodes_;
  std::uint32_t free_ = none;
  std::uint32_t newest_ = none;
  std::uint32_t oldest_ = none;
  std::uint64_t pushes_ = 0;
};

}  // namespace cachet::detail

#endif
