#ifndef CACHET_TEST_SUPPORT_HELD_LOAD_HPP
#define CACHET_TEST_SUPPORT_HELD_LOAD_HPP

// A load that, once armed, waits in the function until the test releases it: for the tests that
// need a computation under way at a precise point.
//
//     held.arm();  std::thread t([&] { c(1); });  // the function calls held.pass()
//     ASSERT_TRUE(held.wait_inside());  ...  held.release();

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace cachet_test {

struct held_load {
  std::mutex m;
  std::condition_variable changed;
  bool armed = false;
  bool inside = false;
  bool released = false;

  void arm() {
    std::lock_guard lock(m);
    armed = true;
    inside = released = false;
  }
  void pass() {
    std::unique_lock lock(m);
    if (!armed) return;
    armed = false;
    inside = true;
    changed.notify_all();
    // Bounded: a write that waited for this load would otherwise hang the test, not fail it.
    changed.wait_for(lock, std::chrono::seconds(10), [&] { return released; });
  }
  bool wait_inside() {
    std::unique_lock lock(m);
    return changed.wait_for(lock, std::chrono::seconds(10), [&] { return inside; });
  }
  void release() {
    {
      std::lock_guard lock(m);
      released = true;
    }
    changed.notify_all();
  }
};

}  // namespace cachet_test

#endif
