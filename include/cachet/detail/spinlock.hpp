#ifndef CACHET_DETAIL_SPINLOCK_HPP
#define CACHET_DETAIL_SPINLOCK_HPP

#include <atomic>
#include <thread>

namespace cachet::detail {

// Guards one shard of an in-memory cache. Critical sections are a lookup and a copy, far shorter
// than a futex round trip, so waiting spins briefly and then yields the core to the holder.
class spinlock {
 public:
  // Sequentially consistent, so that an in-memory store's reader that announces itself and then
  // finds the lock free is seen by the thread that takes it (detail/memory/reader_slots.hpp).
  void lock() noexcept {
    for (int spins = 0; locked_.exchange(true, std::memory_order_seq_cst); ++spins) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) std::this_thread::yield();
      }
    }
  }
  bool try_lock() noexcept { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }
  bool held() const noexcept { return locked_.load(std::memory_order_seq_cst); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace cachet::detail

#endif
