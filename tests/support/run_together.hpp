#ifndef CACHET_TESTS_SUPPORT_RUN_TOGETHER_HPP
#define CACHET_TESTS_SUPPORT_RUN_TOGETHER_HPP

#include <atomic>
#include <thread>
#include <vector>

namespace cachet_test {

/// Runs body(t) on `thread_count` threads that start together (each waits until all have been
/// created), so that what a concurrency test means to race really races; returns when all end.
template <class Body>
void run_together(int thread_count, Body body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < thread_count) std::this_thread::yield();
      body(t);
    });
  }
  for (std::thread& th : threads) th.join();
}

}  // namespace cachet_test

#endif
