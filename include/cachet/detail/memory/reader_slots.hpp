#ifndef CACHET_DETAIL_MEMORY_READER_SLOTS_HPP
#define CACHET_DETAIL_MEMORY_READER_SLOTS_HPP

#include <cachet/detail/coarse_clock.hpp>

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <thread>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

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
// the hits it counted, written by that thread only; and, for the thread alone, how many times it
// entered with the full fence since it last asked whether a shard may go without it.
struct alignas(64) reader_state {
  std::atomic<std::uint32_t> reading{0};
  std::atomic<std::uint64_t> hits{0};
  std::uint32_t fenced_entries = 0;
};

// A full fence on every CPU that runs a thread of this process at the time of the call, and so
// in every thread of it (a thread switched out has passed one): Linux's membarrier, some
// microseconds. False where the system offers none; shards then always take the fenced path.
inline bool heavy_barrier_available() noexcept {
#if defined(__linux__) && defined(__NR_membarrier)
  static const bool registered =
      ::syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  return registered;
#else
  return false;
#endif
}

inline void heavy_barrier() noexcept {
#if defined(__linux__) && defined(__NR_membarrier)
  ::syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#endif
}

// Whether readers may enter a shard without a full fence. Entering is a store to the reader's
// slot followed by a load of the shard's lock, and a writer does the mirror image (take the lock,
// load the slots): without a fence between the store and the load on one side or the other, each
// could miss the other (store buffering). With the fence on the reader's side, every hit pays it,
// and as a locked instruction it also waits for the cache misses of the hits before it, so hits
// over a table larger than the caches run one after another instead of overlapping. A "light"
// shard moves the fence to its writers: a writer that finds the shard light clears the flag and
// runs heavy_barrier() before it loads the slots. A reader of a light shard stores its slot,
// then loads the lock and the flag again, with only a compiler barrier between. The heavy barrier
// runs a fence in the reader's thread either before its store, and then the reader's loads see
// the lock held or the flag cleared and it steps back; or after its store, and then the writer's
// loads of the slots see it and the writer waits for it to leave. A reader that read the flag
// before it was cleared thus never enters unseen, even by a later writer that finds the flag
// cleared and skips the barrier. The flag is set and cleared only under the shard's lock, so a
// writer's load of it after taking the lock is current.
//
// Writers pay some microseconds once per switch, so a shard turns light only after a quiet
// period: a reader on the fenced path asks now and then (reader_state::fenced_entries) whether no
// writer has held the shard since it last asked, at least quiet_period ago.
struct reader_bias {
  static constexpr std::chrono::milliseconds quiet_period{20};
  static constexpr std::uint32_t fenced_entries_per_check = 64;

  std::atomic<bool> light{false};
  std::atomic<std::uint32_t> writes{0};  // exclusive sections so far, counted under the lock
  std::atomic<std::uint32_t> writes_checked{0};     // `writes` when last asked
  std::atomic<clock::duration::rep> checked_at{0};  // coarse_now() when last asked

  // Asked by a reader about to enter with the fence; true when the shard should turn light, and
  // then the caller takes it exclusively and calls exclusive_shard::admit_light_readers().
  bool quiet(reader_state& r) noexcept {
    if (++r.fenced_entries < fenced_entries_per_check) return false;
    r.fenced_entries = 0;
    if (!heavy_barrier_available()) return false;
    const clock::duration::rep now = coarse_now();
    clock::duration::rep at = checked_at.load(std::memory_order_relaxed);
    if (now - at < std::chrono::duration_cast<clock::duration>(quiet_period).count()) return false;
    // One reader per period looks; the others go on.
    if (!checked_at.compare_exchange_strong(at, now, std::memory_order_relaxed)) return false;
    const std::uint32_t seen = writes.load(std::memory_order_relaxed);
    return writes_checked.exchange(seen, std::memory_order_relaxed) == seen;
  }
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

// The same for a shard with a reader_bias: without the fence while the shard is light.
template <class Reader, class Shard>
bool try_enter(Reader& r, const Shard& s, const reader_bias& bias) noexcept {
  if (!bias.light.load(std::memory_order_relaxed)) return try_enter(r, s);
  r.reading.store(s.number, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the heavy barrier's other half
  if (!s.lock.held() && bias.light.load(std::memory_order_relaxed)) return true;
  r.reading.store(0, std::memory_order_release);
  return false;
}

// Exclusive access to a shard: no other writer, and no reader of `readers` inside it.
template <class Shard>
class exclusive_shard {
 public:
  template <class Reader>
  exclusive_shard(const Reader* readers, Shard& s, reader_bias* bias = nullptr) noexcept
      : s_(s), bias_(bias) {
    s.lock.lock();
    if (bias != nullptr) {
      bias->writes.store(bias->writes.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
      if (bias->light.load(std::memory_order_relaxed)) {
        bias->light.store(false, std::memory_order_relaxed);
        heavy_barrier();
      }
    }
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

  // Lets readers enter without the fence from the unlock on (see reader_bias), where writers
  // can run the heavy barrier.
  void admit_light_readers() noexcept {
    if (heavy_barrier_available()) bias_->light.store(true, std::memory_order_relaxed);
  }

 private:
  Shard& s_;
  reader_bias* bias_;
};

}  // namespace cachet::detail

#endif
