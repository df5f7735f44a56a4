#ifndef CACHET_EARLY_REFRESH_HPP
#define CACHET_EARLY_REFRESH_HPP

#include <cachet/detail/policy.hpp>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>

namespace cachet {
namespace detail {
struct early_refresh_kind {};

// What cached<> uses without an early_refresh<> policy: entries are computed again only when a
// call misses.
struct no_early_refresh {
  static constexpr unsigned percent = 0;
};

// Where the background refreshes of one cached<> object run: one worker thread, started by the
// first refresh, which runs them one after the other. A key is queued at most once: while its
// refresh waits or runs, more hits on it start nothing (single flight in the process, together
// with the store's own flights). The destructor lets the refresh under way finish, drops the
// queued ones, and joins the thread: no thread outlives the object, and no refresh touches it
// once destroyed. One thread per object, not a pool shared by all: a refresh calls the user's
// function, which may take long or call other caches, and one object's slow function must not
// hold back another's refreshes; an object that never refreshes never starts its thread.
//
// A template only so that its members (the queue's, the set's, std::function's and the thread's
// code) are instantiated by the units whose cached<> has an early_refresh<>, not by every unit
// that includes <cachet.hpp>.
template <class = void>
class basic_refresh_worker {
 public:
  basic_refresh_worker() = default;
  basic_refresh_worker(const basic_refresh_worker&) = delete;
  basic_refresh_worker& operator=(const basic_refresh_worker&) = delete;

  ~basic_refresh_worker() {
    {
      std::lock_guard lock(m_);
      stopping_ = true;
      queue_.clear();
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Queues make_job() for `key`, unless a refresh of `key` is queued or running; make_job is
  // called only then, so a hit that finds one under way allocates nothing. Returns whether a
  // refresh was queued. Throws only what starting the thread or allocating throws.
  template <class MakeJob>
  bool submit(std::string_view key, MakeJob&& make_job) {
    std::lock_guard lock(m_);
    if (stopping_ || keys_.find(key) != keys_.end()) return false;
    auto [at, inserted] = keys_.emplace(key);
    try {
      queue_.push_back(job{&*at, std::function<void()>(std::forward<MakeJob>(make_job)())});
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    } catch (...) {
      if (!queue_.empty() && queue_.back().key == &*at) queue_.pop_back();
      keys_.erase(at);
      throw;
    }
    wake_.notify_one();
    return true;
  }

 private:
  struct job {
    const std::string* key;  // in keys_, which keeps it until the job is done
    std::function<void()> run;
  };

  // C++20 heterogeneous lookup, so that a hit looks its key up without a string of its own.
  struct key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const noexcept {
      return std::hash<std::string_view>{}(k);
    }
  };

  void run() {
    std::unique_lock lock(m_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job next = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      // The stores count a failed load in load_errors and throw nothing; what else may throw on
      // the way (an allocation) reaches no caller either: a later hit tries again.
      try {
        next.run();
      } catch (...) {
      }
      next.run = nullptr;  // the job's copies of arguments go before the key is free again
      lock.lock();
      keys_.erase(*next.key);
    }
  }

  std::mutex m_;
  std::condition_variable wake_;
  std::unordered_set<std::string, key_hash, std::equal_to<>> keys_;  // queued or running
  std::deque<job> queue_;
  bool stopping_ = false;
  std::thread thread_;  // last: started after, joined before, everything it uses
};

using refresh_worker = basic_refresh_worker<>;

// The member cached<> has without early_refresh<>: nothing.
struct no_refresh_worker {};
}  // namespace detail

/// Policy: a hit on an entry past `Percent`% of its ttl returns the stored value at once and
/// starts one background recomputation of that key, so that a key in steady use is computed
/// again before it expires and its callers never wait for it.
///
///     // after 240 s a hit still answers at once, and the user is loaded again meanwhile
///     cachet::cached<&load_user, cachet::ttl<300>, cachet::early_refresh<80>> get_user;
///
/// - One refresh per key at a time in the process: hits while it is queued or running start
///   nothing, and a call that misses meanwhile (the entry expired) waits for it as for any load.
/// - It runs on one worker thread per cached object, started by its first refresh; the
///   object's destructor waits for the refresh under way, drops those queued, and joins it.
/// - The result is stored as a miss's is: an invalidate, invalidate_tag or clear during the
///   refresh keeps it out. circuit_breaker and retry wrap the refresh's call; rate_limit does
///   not (it limits callers, and no caller makes this call). If the function throws, the
///   exception is counted in `stats().load_errors`, reaches no caller, and the old value is
///   served until it expires; a later hit tries again.
/// - "Past Percent% of the ttl" is measured back from the entry's expiry: an entry is due once
///   less than (100 - Percent)% of the ttl is left, which with cachet::jitter is the same lead
///   for every entry, whatever ttl its write drew.
///
/// On cachet::redis and cachet::tiered every entry carries until when it is fresh (by the
/// store's clock), so a Redis hit knows its age too; the refresh writes Redis under a permit of
/// its own, and every replica finds the new value (on two tiers, memory's entry is dropped by the
/// write's push and filled again from Redis).
///
/// It needs a ttl, 0 < Percent < 100, and a free function or function object: a member
/// function's object is not kept after a call, so there would be nothing to call it on. Calls,
/// async() hits and each hit of an async_many() batch start refreshes (the refresh runs on the
/// worker thread either way, never on the awaiting coroutine's executor).
template <unsigned Percent>
struct early_refresh : detail::policy<detail::early_refresh_kind> {
  static constexpr void check_values() {
    static_assert(Percent > 0 && Percent < 100,
                  "cachet::early_refresh: the share of the ttl after which a hit refreshes must "
                  "be between 1 and 99 percent; leave the policy out to compute again only on a "
                  "miss");
  }
  static constexpr unsigned percent = Percent;
};

}  // namespace cachet

#endif
