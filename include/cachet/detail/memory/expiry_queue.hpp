#ifndef CACHET_DETAIL_MEMORY_EXPIRY_QUEUE_HPP
#define CACHET_DETAIL_MEMORY_EXPIRY_QUEUE_HPP

#include <cachet/detail/callback_ref.hpp>

#include <boost/unordered/unordered_flat_set.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cachet::detail {

// A shard's entries in the order they expire, for a store whose ttl is the same for every entry,
// so that insertion order is expiry order and each insert can reclaim the entries that have
// expired without a scan. A record names its entry by its key's hash and its deadline; the entry
// may be gone by the time the record is reached. Not a template: every store shares this code.
class expiry_queue {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  struct record {
    std::uint64_t hash;
    time_point expires;
  };

  bool has_next() const noexcept { return next_ < records_.size(); }
  const record& next() const noexcept { return records_[next_]; }
  void pop() noexcept { ++next_; }

  // Records of entries removed before they expired (replaced, erased, evicted, invalidated) wait
  // in the queue until they reach its head. Once they could outnumber the `live` entries, they
  // are dropped in one pass, with duplicates (an entry stored again under the same key and
  // deadline): the pass is paid for by the inserts since the last one, so the queue costs O(1)
  // per insert and stays within about twice the entries. `is_live(record)` tells whether an
  // entry with that key hash and deadline is stored. (A reference, not a template on the
  // store's lambda: the pass and its set are compiled once, not once per store type.)
  void push(record r, std::size_t live, callback_ref<bool(const record&)> is_live) {
    const std::size_t pending = records_.size() - next_;
    if (pending >= 2 * live + 16) {
      boost::unordered_flat_set<record, record_hash, record_equal> kept;
      auto out = records_.begin();
      for (auto it = records_.begin() + static_cast<std::ptrdiff_t>(next_); it != records_.end();
           ++it) {
        if (is_live(*it) && kept.insert(*it).second) *out++ = *it;
      }
      records_.erase(out, records_.end());
      next_ = 0;
    } else if (next_ >= pending) {
      records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(next_));
      next_ = 0;
    }
    records_.push_back(r);
  }

  void clear() noexcept {
    records_.clear();
    next_ = 0;
  }

 private:
  struct record_hash {
    std::size_t operator()(const record& r) const noexcept {
      return r.hash ^ static_cast<std::uint64_t>(r.expires.time_since_epoch().count());
    }
  };
  struct record_equal {
    bool operator()(const record& a, const record& b) const noexcept {
      return a.hash == b.hash && a.expires == b.expires;
    }
  };

  std::vector<record> records_;
  std::size_t next_ = 0;  // records before it are consumed
};

}  // namespace cachet::detail

#endif
