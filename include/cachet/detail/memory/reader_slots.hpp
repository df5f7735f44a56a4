#ifndef CACHET_DETAIL_MEMORY_READER_SLOTS_HPP
#define CACHET_DETAIL_MEMORY_READER_SLOTS_HPP

#include <atomic>
#include <bit>
#include <cstdint>
#include <thread>

namespace cachet::detail {

// Up to this many threads at a time read in-memory stores without writing a shared cache line;
// further threads read under the shard's exclusive lock.
inline constexpr int reader_slot_count = 32;

inline std::atomic<std::uint32_t>& reader_slots_in_use() noexcept {
  static std::atomic<std::uint32_t> in_use{0};
  return in_use;
}

// A thread's reader slot, held from its first read to its exit, then free for another thread.
class reader_slot_owner {
 public:
  reader_slot_owner() noexcept {
    auto& in_use = reader_slots_in_use();
    std::uint32_t seen = in_use.load(std::memory_order_relaxed);
    while (seen != ~std::uint32_t{0}) {
      int free = 0;
      while ((seen >> free) & 1u) ++free;
      // Sequentially consistent, as a writer's read of the slots in use (see exclusive_shard).
      if (in_use.compare_exchange_weak(seen, seen | (1u << free), std::memory_order_seq_cst)) {
        index_ = free;
        return;
      }
    }
  }
  ~reader_slot_owner() {
    if (index_ >= 0) {
      reader_slots_in_use().fetch_and(~(1u << index_), std::memory_order_acq_rel);
    }
  }
  reader_slot_owner(const reader_slot_owner&) = delete;
  reader_slot_owner& operator=(const reader_slot_owner&) = delete;

  int index() const noexcept { return index_; }

 private:
  int index_ = -1;
};

// This thread's slot in [0, reader_slot_count), or -1 when all are taken.
inline int reader_slot() noexcept {
  // A plain int needs no initialisation guard on each call, unlike the owner object.
  thread_local int index = -2;
  if (index == -2) {
    thread_local reader_slot_owner owner;
    index = owner.index();
  }
  return index;
}

// One per slot and store, on a line of its own: which shard its thread is reading (0 = none) and
// the hits it counted, written by that thread only.
struct alignas(64) reader_state {
  std::atomic<std::uint32_t> reading{0};
  std::atomic<std::uint64_t> hits{0};
};

// A shard read through reader slots has a spinlock, which writers hold, and a number (index + 1,
// what a reader's `reading` records). A reader writes only its own slot's line: with a lock word
// per shard, threads hitting random shards would pass the line back and forth. One word serves
// as the writers' lock and as the flag readers check, so a writer pays one locked instruction.

// The reader announces the shard; false while a writer holds it (the reader then steps back).
template <class Reader, class Shard>
bool try_enter(Reader& r, const Shard& s) noexcept {
  r.reading.store(s.number, std::memory_order_seq_cst);
  if (!s.lock.held()) return true;
  r.reading.store(0, std::memory_order_release);
  return false;
}

// Exclusive access to a shard: no other writer, and no reader of `readers` inside it.
template <class Shard>
class exclusive_shard {
 public:
  template <class Reader>
  exclusive_shard(const Reader* readers, Shard& s) noexcept : s_(s) {
    s.lock.lock();
    // Only the slots some thread holds: a thread that takes a slot after this read takes it after
    // the lock was taken, so its first enter sees the lock held and steps back.
    for (std::uint32_t held = reader_slots_in_use().load(std::memory_order_seq_cst); held != 0;
         held &= held - 1) {
      const int i = std::countr_zero(held);
      while (readers[i].reading.load(std::memory_order_seq_cst) == s.number) {
        std::this_thread::yield();
      }
    }
  }
  ~exclusive_shard() { s_.lock.unlock(); }
  exclusive_shard(const exclusive_shard&) = delete;
  exclusive_shard& operator=(const exclusive_shard&) = delete;

 private:
  Shard& s_;
};

}  // namespace cachet::detail

#endif
